//===- TokenizerFuzzTest.cpp - Random and mutated input for the tokenizer -===//
//
// Feeds the tokenizer byte strings mutated from a seed corpus (words,
// accents, CJK, special tokens, ill-formed UTF-8, long words) and checks
// that every call returns OK or QB_ERR_INVALID_UTF8, agreeing with an
// independent UTF-8 validator, with ids inside the vocabulary and a
// consistent encode. The default run is a smoke test; for the long run (see
// docs/results/runtime.md), scripts/fuzz-tokenizer builds with
// -DQB_ENABLE_SANITIZERS=ON and sets QBRT_FUZZ_ITERATIONS=1000000;
// QBRT_FUZZ_SEED picks another input sequence.
//
//===----------------------------------------------------------------------===//
#include "TestSupport.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace quantbert::test;

namespace {

/// Unicode Table 3-7 (well-formed UTF-8 byte sequences), checked directly.
bool isWellFormedUtf8(const std::string &s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < s.size();) {
    unsigned char b = byte(i);
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b <= 0x7F)
      n = 1;
    else if (b >= 0xC2 && b <= 0xDF)
      n = 2;
    else if (b == 0xE0)
      n = 3, lo = 0xA0;
    else if (b == 0xED)
      n = 3, hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF)
      n = 3;
    else if (b == 0xF0)
      n = 4, lo = 0x90;
    else if (b == 0xF4)
      n = 4, hi = 0x8F;
    else if (b >= 0xF1 && b <= 0xF3)
      n = 4;
    else
      return false;
    if (i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k) {
      unsigned char c = byte(i + k);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
        return false;
    }
    i += n;
  }
  return true;
}

const char *const kSeeds[] = {
    "i like strawberries",
    "Hello, my dog is cute!",
    "Caf\xC3\xA9 na\xC3\xAFve \xC3\x85ngstr\xC3\xB6m",
    "\xE4\xB8\xAD\xE6\x96\x87 and \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",
    "[CLS] the [MASK] is [SEP] [PAD][UNK]",
    "\xCE\xA3\xCE\xB9\xCF\x83\xCF\x85\xCF\x86\xCE\xBF\xCF\x82 \xC4\xB0stanbul",
    "tab\there\nnew\xC2\xA0line\xE2\x80\x8B\xEF\xBF\xBD",
    "unaffable antidisestablishmentarianism aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\xF0\x9F\x98\x80 emoji \xE1\x84\x80\xE1\x85\xA1 e\xCC\x81\xCC\xA3",
    "bad \xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \xE2\x82",
};

class TokenizerFuzz : public ::testing::Test {
protected:
  void SetUp() override {
    ctx = makeContext(1);
    ASSERT_EQ(qbrt_tokenizer_create(ctx.get(), QB_BERT_VOCAB, &tok), QB_OK)
        << qbrt_last_error(ctx.get())
        << " (run scripts/setup to fetch the bert-base-uncased vocabulary)";
  }
  void TearDown() override { qbrt_tokenizer_destroy(tok); }

  ContextPtr ctx;
  qbrt_tokenizer *tok = nullptr;
};

/// A random well-formed character, mostly from the blocks the tokenizer
/// treats specially (marks, CJK, Hangul, whitespace and controls).
std::string randomCharacter(std::mt19937 &rng) {
  static const std::pair<uint32_t, uint32_t> kBlocks[] = {
      {0x00, 0x7F},     {0x80, 0x24F},      {0x300, 0x36F},   {0x370, 0x52F},
      {0x2000, 0x206F}, {0x3000, 0x303F},   {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
      {0xF900, 0xFAFF}, {0x1F300, 0x1F6FF}, {0x0, 0x10FFFF}};
  auto [lo, hi] = kBlocks[rng() % std::size(kBlocks)];
  uint32_t c = lo + rng() % (hi - lo + 1);
  if (c >= 0xD800 && c <= 0xDFFF)
    c = 0xFFFD;
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

/// The last seed is ill-formed on purpose; the others are well-formed.
constexpr size_t kWellFormedSeeds = std::size(kSeeds) - 1;

/// Byte-level edits: mostly produce ill-formed UTF-8.
std::string mutateBytes(std::mt19937 &rng, std::string s) {
  for (int e = 1 + rng() % 8; e > 0; --e) {
    size_t at = rng() % (s.size() + 1);
    switch (rng() % 6) {
    case 0: // insert a random byte
      s.insert(s.begin() + at, static_cast<char>(rng()));
      break;
    case 1: // overwrite a byte
      if (at < s.size())
        s[at] = static_cast<char>(rng());
      break;
    case 2: // flip a bit
      if (at < s.size())
        s[at] ^= static_cast<char>(1 << (rng() % 8));
      break;
    case 3: // erase a run
      if (at < s.size())
        s.erase(at, 1 + rng() % 4);
      break;
    case 4: // splice in part of another seed
    {
      std::string other = kSeeds[rng() % std::size(kSeeds)];
      size_t from = rng() % other.size();
      s.insert(at, other, from, 1 + rng() % (other.size() - from));
      break;
    }
    case 5: // repeat a slice, making long words
      if (at < s.size()) {
        std::string slice = s.substr(at, 1 + rng() % 8);
        for (int r = rng() % 40; r > 0; --r)
          s.insert(at, slice);
      }
      break;
    }
  }
  return s;
}

/// Character-level edits at character boundaries: keep UTF-8 well-formed.
std::string mutateText(std::mt19937 &rng, std::string s) {
  for (int e = 1 + rng() % 8; e > 0; --e) {
    size_t at = rng() % (s.size() + 1);
    while (at < s.size() && (s[at] & 0xC0) == 0x80)
      --at;
    switch (rng() % 3) {
    case 0:
      s.insert(at, randomCharacter(rng));
      break;
    case 1:
      s.insert(at, kSeeds[rng() % kWellFormedSeeds]);
      break;
    case 2: // a run of one character, often longer than a word may be
    {
      std::string c = randomCharacter(rng), run;
      for (int r = rng() % 120; r > 0; --r)
        run += c;
      s.insert(at, run);
      break;
    }
    }
  }
  return s;
}

TEST_F(TokenizerFuzz, MutatedInputsNeverMisbehave) {
  long iterations = 20000;
  unsigned long seed = 12345;
  if (const char *env = std::getenv("QBRT_FUZZ_ITERATIONS"))
    iterations = std::strtol(env, nullptr, 10);
  if (const char *env = std::getenv("QBRT_FUZZ_SEED"))
    seed = std::strtoul(env, nullptr, 10);
  std::mt19937 rng(seed);
  const int64_t vocabSize = qbrt_tokenizer_vocab_size(tok);
  std::vector<int32_t> ids;
  int32_t encoded[16], types[16], mask[16];
  long invalid = 0;
  for (long i = 0; i < iterations; ++i) {
    std::string input =
        rng() % 2 ? mutateText(rng, kSeeds[rng() % kWellFormedSeeds])
                  : mutateBytes(rng, kSeeds[rng() % std::size(kSeeds)]);
    bool wellFormed = isWellFormedUtf8(input);
    // Every token consumes at least one character, so this always suffices.
    ids.resize(input.size());
    int64_t count = -1;
    qb_status status = qbrt_tokenizer_tokenize(tok, input.data(), input.size(),
                                               ids.data(), ids.size(), &count);
    ASSERT_EQ(status, wellFormed ? QB_OK : QB_ERR_INVALID_UTF8)
        << "iteration " << i << ": " << qbrt_last_error(ctx.get());
    if (!wellFormed) {
      ++invalid;
      continue;
    }
    ASSERT_GE(count, 0);
    for (int64_t j = 0; j < count; ++j)
      ASSERT_TRUE(ids[j] >= 0 && ids[j] < vocabSize) << "iteration " << i;

    int64_t length = 0;
    ASSERT_EQ(qbrt_tokenizer_encode(tok, input.data(), input.size(),
                                    input.data(), input.size() / 2, 16,
                                    QBRT_PAD_TO_MAX_LENGTH, encoded, types,
                                    mask, &length),
              isWellFormedUtf8(input.substr(0, input.size() / 2))
                  ? QB_OK
                  : QB_ERR_INVALID_UTF8)
        << "iteration " << i;
  }
  std::printf("fuzzed %ld inputs (seed %lu), %ld of them ill-formed UTF-8\n",
              iterations, seed, invalid);
  // Both outcomes must be exercised for the run to mean anything.
  EXPECT_GT(invalid, iterations / 10);
  EXPECT_LT(invalid, iterations * 9 / 10);
}

} // namespace
