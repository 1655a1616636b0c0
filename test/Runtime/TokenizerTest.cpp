//===- TokenizerTest.cpp - WordPiece tokenizer against bert-base-uncased --===//
//
// Expected ids are those Hugging Face's BertTokenizer gives with the real
// bert-base-uncased vocabulary, which scripts/setup fetches; a missing
// vocabulary fails the tests (setup is part of the test command).
//
//===----------------------------------------------------------------------===//
#include "TestSupport.h"

#include <cstdio>
#include <fstream>
#include <string>

using namespace quantbert::test;

namespace {

using Ids = std::vector<int32_t>;

constexpr int32_t kPad = 0, kUnk = 100, kCls = 101, kSep = 102, kMask = 103;

class Tokenizer : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    ctx = makeContext(2).release();
    qb_status status = qbrt_tokenizer_create(ctx, QB_BERT_VOCAB, &tok);
    if (status != QB_OK)
      loadError = std::string(qbrt_last_error(ctx)) +
                  " (run scripts/setup to fetch the bert-base-uncased "
                  "vocabulary)";
  }
  static void TearDownTestSuite() {
    qbrt_tokenizer_destroy(tok);
    qbrt_context_destroy(ctx);
    tok = nullptr;
    ctx = nullptr;
  }
  void SetUp() override { ASSERT_NE(tok, nullptr) << loadError; }

  static Ids tokenize(const std::string &text) {
    int64_t count = 0;
    qb_status sizing = qbrt_tokenizer_tokenize(tok, text.data(), text.size(),
                                               nullptr, 0, &count);
    EXPECT_EQ(sizing, count ? QB_ERR_BUFFER_TOO_SMALL : QB_OK)
        << qbrt_last_error(ctx);
    Ids ids(count);
    EXPECT_EQ(qbrt_tokenizer_tokenize(tok, text.data(), text.size(), ids.data(),
                                      count, &count),
              QB_OK)
        << qbrt_last_error(ctx);
    return ids;
  }

  static std::vector<std::string> pieces(const std::string &text) {
    std::vector<std::string> result;
    for (int32_t id : tokenize(text)) {
      const char *token = nullptr;
      EXPECT_EQ(qbrt_tokenizer_id_to_token(tok, id, &token), QB_OK);
      result.push_back(token);
    }
    return result;
  }

  static qbrt_context *ctx;
  static qbrt_tokenizer *tok;
  static std::string loadError;
};

qbrt_context *Tokenizer::ctx = nullptr;
qbrt_tokenizer *Tokenizer::tok = nullptr;
std::string Tokenizer::loadError;

using Pieces = std::vector<std::string>;

TEST_F(Tokenizer, VocabularyIsBertBaseUncased) {
  EXPECT_EQ(qbrt_tokenizer_vocab_size(tok), 30522);
  int32_t id = -1;
  ASSERT_EQ(qbrt_tokenizer_token_to_id(tok, "[MASK]", &id), QB_OK);
  EXPECT_EQ(id, kMask);
  ASSERT_EQ(qbrt_tokenizer_token_to_id(tok, "##berries", &id), QB_OK);
  EXPECT_EQ(id, 20968);
  EXPECT_EQ(qbrt_tokenizer_token_to_id(tok, "Hello", &id),
            QB_ERR_INVALID_ARGUMENT);
  const char *token = nullptr;
  EXPECT_EQ(qbrt_tokenizer_id_to_token(tok, 30522, &token),
            QB_ERR_INVALID_ARGUMENT);
}

TEST_F(Tokenizer, KnownSentences) {
  EXPECT_EQ(tokenize("i like strawberries"), (Ids{1045, 2066, 13137, 20968}));
  EXPECT_EQ(pieces("i like strawberries"),
            (Pieces{"i", "like", "straw", "##berries"}));
  // The Hugging Face BertModel documentation example.
  EXPECT_EQ(tokenize("Hello, my dog is cute"),
            (Ids{7592, 1010, 2026, 3899, 2003, 10140}));
}

TEST_F(Tokenizer, LowerCasesAndSplitsPunctuation) {
  EXPECT_EQ(tokenize("I LIKE Strawberries!"),
            (Ids{1045, 2066, 13137, 20968, 999}));
  EXPECT_EQ(pieces("don't stop... (now)"),
            (Pieces{"don", "'", "t", "stop", ".", ".", ".", "(", "now", ")"}));
  // ASCII symbols that are not Unicode punctuation are split too.
  EXPECT_EQ(pieces("a$b+c"), (Pieces{"a", "$", "b", "+", "c"}));
}

TEST_F(Tokenizer, StripsAccents) {
  EXPECT_EQ(pieces("Café naïve"), (Pieces{"cafe", "naive"}));
  EXPECT_EQ(tokenize("Café naïve"), (Ids{7668, 15743}));
  // Decomposed input (e + combining acute) gives the same ids.
  EXPECT_EQ(tokenize("Cafe\xCC\x81"), tokenize("café"));
}

TEST_F(Tokenizer, WhitespaceControlAndCjk) {
  // Tabs, newlines, NBSP and ideographic space separate words; zero-width
  // space (a format character) and other controls vanish; U+FFFD too.
  EXPECT_EQ(tokenize("i\tlike\n\u00A0strawberries\u3000"),
            (Ids{1045, 2066, 13137, 20968}));
  EXPECT_EQ(tokenize("hel\u200Blo\x01\xEF\xBF\xBD"), (Ids{7592}));
  EXPECT_EQ(tokenize(std::string("hello\0world", 11)), tokenize("helloworld"));
  // Each CJK ideograph is a word of its own.
  EXPECT_EQ(pieces("中文abc"), (Pieces{"中", "文", "abc"}));
  EXPECT_EQ(tokenize("中文"), (Ids{1746, 1861}));
}

TEST_F(Tokenizer, UnknownAndLongWords) {
  EXPECT_EQ(tokenize("\xF0\x9F\x98\x80"), (Ids{kUnk})); // U+1F600, no piece
  EXPECT_EQ(tokenize("hello \xF0\x9F\x98\x80world"), (Ids{7592, kUnk}));
  // Over 100 characters a word is [UNK]; at 100 it is split into pieces.
  EXPECT_EQ(tokenize(std::string(101, 'a')), (Ids{kUnk}));
  Ids hundred = tokenize(std::string(100, 'a'));
  EXPECT_GT(hundred.size(), 1u);
  EXPECT_EQ(std::count(hundred.begin(), hundred.end(), kUnk), 0);
  // Characters after accent stripping count, not bytes: 100 two-byte
  // U+00E9 are 100 'e'.
  std::string accented;
  for (int i = 0; i < 100; ++i)
    accented += "\xC3\xA9";
  EXPECT_EQ(tokenize(accented), tokenize(std::string(100, 'e')));
  EXPECT_NE(tokenize(accented), Ids{kUnk});
}

TEST_F(Tokenizer, SpecialTokensInTextStayWhole) {
  EXPECT_EQ(tokenize("the [MASK] is[SEP]"), (Ids{1996, kMask, 2003, kSep}));
  // Lower-case spellings are ordinary text.
  EXPECT_EQ(pieces("[mask]"), (Pieces{"[", "mask", "]"}));
}

TEST_F(Tokenizer, EmptyAndBlankText) {
  EXPECT_EQ(tokenize(""), Ids{});
  EXPECT_EQ(tokenize(" \t\n"), Ids{});
}

TEST_F(Tokenizer, RejectsInvalidUtf8) {
  const char *bad[] = {"\xFF",      "ab\xC0\xAF",       "\xED\xA0\x80",
                       "x\xE2\x82", "\xF4\x90\x80\x80", "\x80"};
  for (const char *text : bad) {
    int64_t count = -1;
    int32_t ids[8];
    EXPECT_EQ(
        qbrt_tokenizer_tokenize(tok, text, QBRT_NUL_TERMINATED, ids, 8, &count),
        QB_ERR_INVALID_UTF8)
        << text;
    EXPECT_NE(std::string(qbrt_last_error(ctx)).find("not valid UTF-8"),
              std::string::npos);
  }
  EXPECT_NE(std::string(qbrt_last_error(ctx)).find("at byte 0"),
            std::string::npos)
      << qbrt_last_error(ctx);
}

TEST_F(Tokenizer, EncodeSingleWithPadding) {
  int32_t ids[8], types[8], mask[8];
  int64_t length = 0;
  ASSERT_EQ(qbrt_tokenizer_encode(
                tok, "i like strawberries", QBRT_NUL_TERMINATED, nullptr, 0, 8,
                QBRT_PAD_TO_MAX_LENGTH, ids, types, mask, &length),
            QB_OK);
  EXPECT_EQ(length, 8);
  EXPECT_EQ(Ids(ids, ids + 8),
            (Ids{kCls, 1045, 2066, 13137, 20968, kSep, kPad, kPad}));
  EXPECT_EQ(Ids(types, types + 8), (Ids{0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(Ids(mask, mask + 8), (Ids{1, 1, 1, 1, 1, 1, 0, 0}));

  ASSERT_EQ(qbrt_tokenizer_encode(
                tok, "i like strawberries", QBRT_NUL_TERMINATED, nullptr, 0, 8,
                QBRT_PAD_TO_LONGEST, ids, nullptr, nullptr, &length),
            QB_OK);
  EXPECT_EQ(length, 6);
}

TEST_F(Tokenizer, EncodeSingleTruncates) {
  int32_t ids[4];
  int64_t length = 0;
  ASSERT_EQ(qbrt_tokenizer_encode(
                tok, "i like strawberries", QBRT_NUL_TERMINATED, nullptr, 0, 4,
                QBRT_PAD_TO_MAX_LENGTH, ids, nullptr, nullptr, &length),
            QB_OK);
  EXPECT_EQ(Ids(ids, ids + length), (Ids{kCls, 1045, 2066, kSep}));
}

TEST_F(Tokenizer, EncodePair) {
  int32_t ids[10], types[10], mask[10];
  int64_t length = 0;
  ASSERT_EQ(qbrt_tokenizer_encode(tok, "i like", QBRT_NUL_TERMINATED,
                                  "strawberries", QBRT_NUL_TERMINATED, 10,
                                  QBRT_PAD_TO_MAX_LENGTH, ids, types, mask,
                                  &length),
            QB_OK);
  EXPECT_EQ(Ids(ids, ids + 10), (Ids{kCls, 1045, 2066, kSep, 13137, 20968, kSep,
                                     kPad, kPad, kPad}));
  EXPECT_EQ(Ids(types, types + 10), (Ids{0, 0, 0, 0, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(Ids(mask, mask + 10), (Ids{1, 1, 1, 1, 1, 1, 1, 0, 0, 0}));
}

TEST_F(Tokenizer, EncodePairTruncatesLongestFirst) {
  // a: 6 tokens, b: 3 tokens, budget 9 - 3 = 6: a loses 3 (6>3, 5>3, 4>3),
  // leaving 3 + 3.
  const char *a = "i like strawberries very much", *b = "hello, my";
  ASSERT_EQ(tokenize(a).size(), 6u);
  ASSERT_EQ(tokenize(b).size(), 3u);
  int32_t ids[9], types[9];
  int64_t length = 0;
  ASSERT_EQ(qbrt_tokenizer_encode(
                tok, a, QBRT_NUL_TERMINATED, b, QBRT_NUL_TERMINATED, 9,
                QBRT_PAD_TO_MAX_LENGTH, ids, types, nullptr, &length),
            QB_OK);
  EXPECT_EQ(Ids(ids, ids + 9),
            (Ids{kCls, 1045, 2066, 13137, kSep, 7592, 1010, 2026, kSep}));
  // Budget 4 from 3 + 3: the tie drops from the pair first, then the first.
  ASSERT_EQ(qbrt_tokenizer_encode(
                tok, b, QBRT_NUL_TERMINATED, b, QBRT_NUL_TERMINATED, 7,
                QBRT_PAD_TO_MAX_LENGTH, ids, types, nullptr, &length),
            QB_OK);
  EXPECT_EQ(Ids(ids, ids + 7), (Ids{kCls, 7592, 1010, kSep, 7592, 1010, kSep}));
}

TEST_F(Tokenizer, EncodeRejectsBadArguments) {
  int32_t ids[4];
  EXPECT_EQ(qbrt_tokenizer_encode(
                tok, "a", QBRT_NUL_TERMINATED, "b", QBRT_NUL_TERMINATED, 2,
                QBRT_PAD_TO_MAX_LENGTH, ids, nullptr, nullptr, nullptr),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qbrt_last_error(ctx))
                .find("max_length is 2, must be >= 3 for a pair"),
            std::string::npos);
  EXPECT_EQ(qbrt_tokenizer_encode(tok, nullptr, 3, nullptr, 0, 4,
                                  QBRT_PAD_TO_MAX_LENGTH, ids, nullptr, nullptr,
                                  nullptr),
            QB_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qbrt_tokenizer_encode(tok, "ok", QBRT_NUL_TERMINATED, "\xFF", 1, 4,
                                  QBRT_PAD_TO_MAX_LENGTH, ids, nullptr, nullptr,
                                  nullptr),
            QB_ERR_INVALID_UTF8);
  EXPECT_NE(std::string(qbrt_last_error(ctx)).find("text_pair: "),
            std::string::npos);
}

TEST_F(Tokenizer, EncodeBatch) {
  const char *texts[] = {"i like strawberries", "hello",
                         "Hello, my dog is cute"};
  const char *pairs[] = {nullptr, "i like", nullptr};
  const int64_t maxLength = 8;
  int32_t ids[3 * maxLength], mask[3 * maxLength];
  int64_t lengths[3], seqLen = 0;
  ASSERT_EQ(qbrt_tokenizer_encode_batch(tok, 3, texts, nullptr, pairs, nullptr,
                                        maxLength, QBRT_PAD_TO_LONGEST, ids,
                                        nullptr, mask, lengths, &seqLen),
            QB_OK)
      << qbrt_last_error(ctx);
  EXPECT_EQ(seqLen, 8);
  EXPECT_EQ(Ids(lengths, lengths + 3), (Ids{6, 6, 8}));
  EXPECT_EQ(Ids(ids, ids + 8),
            (Ids{kCls, 1045, 2066, 13137, 20968, kSep, kPad, kPad}));
  EXPECT_EQ(Ids(ids + 8, ids + 16),
            (Ids{kCls, 7592, kSep, 1045, 2066, kSep, kPad, kPad}));
  EXPECT_EQ(Ids(ids + 16, ids + 24),
            (Ids{kCls, 7592, 1010, 2026, 3899, 2003, 10140, kSep}));
  EXPECT_EQ(Ids(mask + 8, mask + 16), (Ids{1, 1, 1, 1, 1, 1, 0, 0}));

  // Longest padding packs the rows at the longest row's length.
  const char *short_[] = {"hello", "i like strawberries"};
  ASSERT_EQ(qbrt_tokenizer_encode_batch(tok, 2, short_, nullptr, nullptr,
                                        nullptr, maxLength, QBRT_PAD_TO_LONGEST,
                                        ids, nullptr, mask, nullptr, &seqLen),
            QB_OK);
  EXPECT_EQ(seqLen, 6);
  EXPECT_EQ(Ids(ids, ids + 12), (Ids{kCls, 7592, kSep, kPad, kPad, kPad, kCls,
                                     1045, 2066, 13137, 20968, kSep}));
  EXPECT_EQ(Ids(mask, mask + 6), (Ids{1, 1, 1, 0, 0, 0}));
}

TEST_F(Tokenizer, EncodeBatchMatchesEncodeAndNamesFailingRow) {
  std::vector<std::string> storage;
  for (int i = 0; i < 100; ++i)
    storage.push_back("sentence number " + std::to_string(i) +
                      " likes strawberries");
  std::vector<const char *> texts;
  for (const std::string &s : storage)
    texts.push_back(s.c_str());
  const int64_t maxLength = 16;
  Ids batchIds(texts.size() * maxLength);
  int64_t seqLen = 0;
  ASSERT_EQ(qbrt_tokenizer_encode_batch(tok, texts.size(), texts.data(),
                                        nullptr, nullptr, nullptr, maxLength,
                                        QBRT_PAD_TO_MAX_LENGTH, batchIds.data(),
                                        nullptr, nullptr, nullptr, &seqLen),
            QB_OK);
  for (size_t row = 0; row < texts.size(); ++row) {
    Ids single(maxLength);
    ASSERT_EQ(qbrt_tokenizer_encode(tok, texts[row], QBRT_NUL_TERMINATED,
                                    nullptr, 0, maxLength,
                                    QBRT_PAD_TO_MAX_LENGTH, single.data(),
                                    nullptr, nullptr, nullptr),
              QB_OK);
    EXPECT_EQ(Ids(batchIds.begin() + row * maxLength,
                  batchIds.begin() + (row + 1) * maxLength),
              single);
  }
  storage[57] = "bad \xC3";
  texts[57] = storage[57].c_str();
  EXPECT_EQ(qbrt_tokenizer_encode_batch(tok, texts.size(), texts.data(),
                                        nullptr, nullptr, nullptr, maxLength,
                                        QBRT_PAD_TO_MAX_LENGTH, batchIds.data(),
                                        nullptr, nullptr, nullptr, &seqLen),
            QB_ERR_INVALID_UTF8);
  EXPECT_NE(std::string(qbrt_last_error(ctx)).find("row 57: text is not valid"),
            std::string::npos)
      << qbrt_last_error(ctx);
}

/// Vocabulary loading errors, on small hand-written vocabularies.
class TokenizerVocab : public ::testing::Test {
protected:
  void SetUp() override { ctx = makeContext(1); }

  qb_status load(const std::string &contents) {
    qbrt_tokenizer *tok = nullptr;
    qb_status status = qbrt_tokenizer_create_from_buffer(
        ctx.get(), contents.data(), contents.size(), &tok);
    qbrt_tokenizer_destroy(tok);
    return status;
  }
  std::string error() const { return qbrt_last_error(ctx.get()); }

  ContextPtr ctx;
};

const char kMinimalVocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n";

TEST_F(TokenizerVocab, MinimalVocabularyWorks) {
  qbrt_tokenizer *tok = nullptr;
  ASSERT_EQ(qbrt_tokenizer_create_from_buffer(ctx.get(), kMinimalVocab,
                                              sizeof(kMinimalVocab) - 1, &tok),
            QB_OK);
  int32_t ids[4];
  int64_t count = 0;
  EXPECT_EQ(qbrt_tokenizer_tokenize(tok, "Hellos hi", QBRT_NUL_TERMINATED, ids,
                                    4, &count),
            QB_OK);
  EXPECT_EQ(Ids(ids, ids + count), (Ids{4, 5, 1}));
  // Without [MASK] in the vocabulary, "[MASK]" is ordinary text.
  EXPECT_EQ(qbrt_tokenizer_tokenize(tok, "[MASK]", QBRT_NUL_TERMINATED, ids, 4,
                                    &count),
            QB_OK);
  EXPECT_EQ(Ids(ids, ids + count), (Ids{1, 1, 1}));
  qbrt_tokenizer_destroy(tok);
}

TEST_F(TokenizerVocab, CrlfLinesAndMissingFinalNewline) {
  EXPECT_EQ(load("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]"), QB_OK) << error();
}

TEST_F(TokenizerVocab, MissingFile) {
  qbrt_tokenizer *tok = nullptr;
  EXPECT_EQ(qbrt_tokenizer_create(ctx.get(), "/nonexistent/vocab.txt", &tok),
            QB_ERR_IO);
  EXPECT_EQ(tok, nullptr);
  EXPECT_NE(error().find("cannot open vocabulary file "
                         "'/nonexistent/vocab.txt': No such file"),
            std::string::npos)
      << error();
}

TEST_F(TokenizerVocab, EmptyFile) {
  std::string path = ::testing::TempDir() + "qbrt-empty-vocab.txt";
  std::ofstream(path).close();
  qbrt_tokenizer *tok = nullptr;
  EXPECT_EQ(qbrt_tokenizer_create(ctx.get(), path.c_str(), &tok),
            QB_ERR_INVALID_VOCAB);
  EXPECT_NE(error().find(path + ": vocabulary is empty"), std::string::npos)
      << error();
  std::remove(path.c_str());
}

TEST_F(TokenizerVocab, DuplicateTokenNamesBothLines) {
  EXPECT_EQ(load("[PAD]\n[UNK]\nhello\n[CLS]\n[SEP]\nhello\n"),
            QB_ERR_INVALID_VOCAB);
  EXPECT_NE(error().find("line 6 repeats token 'hello' of line 3"),
            std::string::npos)
      << error();
}

TEST_F(TokenizerVocab, EmptyLineMissingSpecialAndBadUtf8) {
  EXPECT_EQ(load("[PAD]\n\n[UNK]\n"), QB_ERR_INVALID_VOCAB);
  EXPECT_NE(error().find("line 2 is empty"), std::string::npos) << error();
  EXPECT_EQ(load("[PAD]\n[CLS]\n[SEP]\n"), QB_ERR_INVALID_VOCAB);
  EXPECT_NE(error().find("lacks the special token [UNK]"), std::string::npos)
      << error();
  EXPECT_EQ(load("[PAD]\n[UNK]\nab\xFF\n"), QB_ERR_INVALID_VOCAB);
  EXPECT_NE(error().find("line 3 is not valid UTF-8"), std::string::npos)
      << error();
}

} // namespace
