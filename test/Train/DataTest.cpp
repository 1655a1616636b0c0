//===- DataTest.cpp - TSV reader, MLM blocks and masking statistics -------===//
//
// The TSV reader's column, label and error rules; the Brown genre splits
// that scripts/fetch-data writes; MLM blocks; and BERT's 80/10/10 masking,
// statistically and for reproducibility from the seed.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Data.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace quantbert;
using namespace quantbert::train;

namespace {

TEST(TsvTest, StringLabelsAreSortedNames) {
  Expected<TextDataset> d =
      parseTsv("id\ttext\tlabel\n1\tgood film\tpos\n2\tbad film\tneg\n"
               "3\tfine\tneutral\n",
               "t.tsv");
  ASSERT_TRUE(d) << d.message();
  EXPECT_FALSE(d->hasPairs);
  EXPECT_EQ(d->labelNames, (std::vector<std::string>{"neg", "neutral", "pos"}));
  ASSERT_EQ(d->examples.size(), 3u);
  EXPECT_EQ(d->examples[0].textA, "good film");
  EXPECT_EQ(d->examples[0].label, 2);
  EXPECT_EQ(d->examples[1].label, 0);
  EXPECT_EQ(d->examples[2].label, 1);
  EXPECT_EQ(labelIds(*d), (std::vector<int64_t>{2, 0, 1}));
}

TEST(TsvTest, IntegerLabelsAreIds) {
  // No final newline, CRLF line ends, label before text.
  Expected<TextDataset> d =
      parseTsv("label\ttext\r\n2\ta\r\n0\tb\r\n10\tc", "t.tsv");
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->labelNames.size(), 11u);
  EXPECT_EQ(d->labelNames[10], "10");
  EXPECT_EQ(d->examples[0].label, 2);
  EXPECT_EQ(d->examples[2].label, 10);
  EXPECT_EQ(d->examples[2].textA, "c");
}

TEST(TsvTest, PairsAndGivenLabelNames) {
  std::vector<std::string> names = {"entailment", "not_entailment"};
  Expected<TextDataset> d = parseTsv(
      "text_a\ttext_b\tlabel\nA man sleeps.\tA person rests.\tentailment\n",
      "rte.tsv", &names);
  ASSERT_TRUE(d) << d.message();
  EXPECT_TRUE(d->hasPairs);
  EXPECT_EQ(d->examples[0].textB, "A person rests.");
  EXPECT_EQ(d->examples[0].label, 0);
  EXPECT_EQ(d->labelNames, names);

  Expected<TextDataset> unknown =
      parseTsv("text_a\ttext_b\tlabel\na\tb\tcontradiction\n", "dev.tsv", &names);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.message(), "dev.tsv:2: unknown label 'contradiction'");
}

TEST(TsvTest, Errors) {
  auto error = [](std::string_view text) {
    Expected<TextDataset> d = parseTsv(text, "x.tsv");
    return d ? std::string("(parsed)") : d.message();
  };
  EXPECT_EQ(error(""), "x.tsv:1: empty file, expected a header row");
  EXPECT_EQ(error("sentence\tlabel\na\t1\n"),
            "x.tsv:1: header needs a 'text' column or 'text_a' and 'text_b'");
  EXPECT_EQ(error("text_a\tlabel\na\t1\n"),
            "x.tsv:1: header needs a 'text' column or 'text_a' and 'text_b'");
  EXPECT_EQ(error("text\n"), "x.tsv:1: header needs a 'label' column");
  EXPECT_EQ(error("text\tlabel\na\t1\nb\t1\tx\n"),
            "x.tsv:3: expected 2 tab-separated fields, got 3");
  EXPECT_EQ(error("text\tlabel\na\t\n"), "x.tsv:2: empty label");
  EXPECT_EQ(error("text\tlabel\na\t1\n\nb\t0\n"),
            "x.tsv:3: expected 2 tab-separated fields, got 1");
  // Invalid UTF-8: a stray continuation byte, a truncated sequence, an
  // overlong '/', a surrogate; valid multi-byte text passes.
  EXPECT_EQ(error("text\tlabel\nab\x80" "c\t1\n"),
            "x.tsv:2: invalid UTF-8 at byte 3 of the line");
  EXPECT_EQ(error("text\tlabel\na\t1\n\xe2\x82"),
            "x.tsv:3: invalid UTF-8 at byte 1 of the line");
  EXPECT_EQ(error("text\tlabel\n\xc0\xaf\t1\n"),
            "x.tsv:2: invalid UTF-8 at byte 1 of the line");
  EXPECT_EQ(error("text\tlabel\n\xed\xa0\x80\t1\n"),
            "x.tsv:2: invalid UTF-8 at byte 1 of the line");
  EXPECT_EQ(error("text\tlabel\ncaf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\t1\n"),
            "(parsed)");
}

TEST(TsvTest, BrownGenreSplits) {
  std::string dir = std::filesystem::path(QB_BERT_VOCAB)
                        .parent_path()
                        .parent_path()
                        .string() +
                    "/brown/genre4";
  if (!std::filesystem::exists(dir + "/dev.tsv"))
    GTEST_SKIP() << "run scripts/fetch-data for the Brown corpus";
  Expected<TextDataset> dev = readTsv(dir + "/dev.tsv");
  ASSERT_TRUE(dev) << dev.message();
  EXPECT_EQ(dev->labelNames,
            (std::vector<std::string>{"fiction", "learned", "nonfiction", "press"}));
  EXPECT_EQ(dev->examples.size(), 6001u);
  Expected<TextDataset> test = readTsv(dir + "/test.tsv", &dev->labelNames);
  ASSERT_TRUE(test) << test.message();
  EXPECT_EQ(test->examples.size(), 5879u);
}

TEST(MlmTest, BlocksAreClsTextSep) {
  Expected<Tokenizer> tokenizer = Tokenizer::open(QB_BERT_VOCAB);
  ASSERT_TRUE(tokenizer) << tokenizer.message();
  Expected<SpecialTokens> special = SpecialTokens::fromTokenizer(*tokenizer);
  ASSERT_TRUE(special) << special.message();
  EXPECT_EQ(special->cls, 101);
  EXPECT_EQ(special->mask, 103);
  // "i like strawberries" is 1045 2066 13137 20968 (REFERENCE.md sec. 8).
  Expected<torch::Tensor> blocks = buildMlmBlocks(
      *tokenizer, {"i like strawberries", "i like"}, 5, *special);
  ASSERT_TRUE(blocks) << blocks.message();
  torch::Tensor expected =
      torch::tensor({101, 1045, 2066, 13137, 102, 101, 20968, 1045, 2066, 102},
                    torch::kInt64)
          .view({2, 5});
  EXPECT_TRUE(torch::equal(*blocks, expected)) << *blocks;
}

TEST(MlmTest, MaskingIs80_10_10AndSeeded) {
  SpecialTokens special;
  // 256 rows of [CLS] 100 tokens [SEP] 26 [PAD]: 25,600 maskable tokens.
  torch::Tensor ids = torch::randint(1000, 30000, {256, 128},
                                     at::detail::createCPUGenerator(7));
  ids.select(1, 0).fill_(special.cls);
  ids.select(1, 101).fill_(special.sep);
  ids.narrow(1, 102, 26).fill_(special.pad);

  MaskedBatch a = maskTokens(ids, special, at::detail::createCPUGenerator(1));
  torch::Tensor chosen = a.labels.ne(-100);
  double maskable = 256.0 * 100;
  double nChosen = chosen.sum().item<double>();
  EXPECT_NEAR(nChosen / maskable, 0.15, 0.01);
  EXPECT_EQ(chosen.narrow(1, 0, 1).sum().item<int64_t>(), 0);
  EXPECT_EQ(chosen.narrow(1, 101, 27).sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::equal(a.labels.masked_select(chosen), ids.masked_select(chosen)));

  double masked = (chosen & a.inputs.inputIds.eq(special.mask)).sum().item<double>();
  double kept = (chosen & a.inputs.inputIds.eq(ids)).sum().item<double>();
  double replaced = nChosen - masked - kept;
  EXPECT_NEAR(masked / nChosen, 0.8, 0.03);
  EXPECT_NEAR(kept / nChosen, 0.1, 0.03);
  EXPECT_NEAR(replaced / nChosen, 0.1, 0.03);
  // Unchosen tokens are untouched; padding is masked out of attention.
  EXPECT_TRUE(torch::equal(a.inputs.inputIds.masked_select(~chosen),
                           ids.masked_select(~chosen)));
  EXPECT_EQ(a.inputs.attentionMask.sum().item<int64_t>(), 256 * 102);

  MaskedBatch b = maskTokens(ids, special, at::detail::createCPUGenerator(1));
  EXPECT_TRUE(torch::equal(a.inputs.inputIds, b.inputs.inputIds));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  MaskedBatch c = maskTokens(ids, special, at::detail::createCPUGenerator(2));
  EXPECT_FALSE(torch::equal(a.labels, c.labels));
}

} // namespace
