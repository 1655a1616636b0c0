//===- Tokenizer.cpp - WordPiece tokenizer compatible with BertTokenizer --===//
//
// Follows Hugging Face's slow BertTokenizer (uncased) step by step: split off
// the special tokens written in the text, lower-case, clean (drop control
// characters, whitespace to word breaks), split off CJK ideographs, strip
// accents, split off punctuation, then the greedy longest-match-first
// WordPiece split of each word. encode adds [CLS]/[SEP], token types,
// "longest_first" truncation, padding and the attention mask.
//
// Internal functions return a status and fill a message instead of
// reporting, because batch rows run on pool threads while the error belongs
// to the calling thread.
//
//===----------------------------------------------------------------------===//
#include "Context.h"
#include "Unicode.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

using namespace quantbert;

namespace {

/// BertTokenizer's max_input_chars_per_word: longer words become [UNK].
constexpr size_t kMaxCharsPerWord = 100;

const char *const kSpecialTokens[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                      "[MASK]"};

struct Failure {
  qb_status status = QB_OK;
  std::string message;

  qb_status set(qb_status s, std::string text) {
    status = s;
    message = std::move(text);
    return s;
  }
};

} // namespace

struct qbrt_tokenizer {
  qbrt_context *ctx = nullptr;
  std::vector<std::string> tokens;
  std::unordered_map<std::string, int32_t> ids;
  int32_t padId = -1, unkId = -1, clsId = -1, sepId = -1;
  /// Special tokens present in the vocabulary, as code points, with ids.
  std::vector<std::pair<std::u32string, int32_t>> specials;

  qb_status loadVocab(const char *data, size_t size, const std::string &origin,
                      Failure &failure);
  qb_status tokenize(const char *text, int64_t length,
                     std::vector<int32_t> &out, Failure &failure) const;
  qb_status encode(const char *text, int64_t textLen, const char *pair,
                   int64_t pairLen, int64_t maxLength, qbrt_padding padding,
                   int32_t *inputIds, int32_t *typeIds, int32_t *mask,
                   int64_t *length, Failure &failure) const;

private:
  int32_t lookup(const std::string &token) const {
    auto it = ids.find(token);
    return it == ids.end() ? -1 : it->second;
  }
  void tokenizeSegment(const char32_t *begin, const char32_t *end,
                       std::vector<int32_t> &out) const;
  void tokenizeWord(const std::u32string &word,
                    std::vector<int32_t> &out) const;
};

qb_status qbrt_tokenizer::loadVocab(const char *data, size_t size,
                                    const std::string &origin,
                                    Failure &failure) {
  if (size == 0)
    return failure.set(QB_ERR_INVALID_VOCAB, origin + ": vocabulary is empty");
  std::u32string scratch;
  for (size_t pos = 0; pos < size;) {
    const char *lineEnd =
        static_cast<const char *>(std::memchr(data + pos, '\n', size - pos));
    size_t next = lineEnd ? lineEnd - data + 1 : size;
    size_t len = (lineEnd ? lineEnd - data : size) - pos;
    if (len > 0 && data[pos + len - 1] == '\r')
      --len;
    std::string token(data + pos, len);
    pos = next;
    size_t lineNo = tokens.size() + 1;
    if (tokens.size() >= static_cast<size_t>(INT32_MAX))
      return failure.set(QB_ERR_INVALID_VOCAB,
                         origin + ": more than 2^31-1 tokens");
    if (token.empty())
      return failure.set(QB_ERR_INVALID_VOCAB,
                         origin + ": line " + std::to_string(lineNo) +
                             " is empty (one token per line expected)");
    size_t badOffset;
    scratch.clear();
    if (!decodeUtf8(token.data(), token.size(), scratch, badOffset))
      return failure.set(QB_ERR_INVALID_VOCAB,
                         origin + ": line " + std::to_string(lineNo) +
                             " is not valid UTF-8 (byte " +
                             std::to_string(badOffset + 1) + ")");
    auto inserted = ids.emplace(token, static_cast<int32_t>(tokens.size()));
    if (!inserted.second)
      return failure.set(QB_ERR_INVALID_VOCAB,
                         origin + ": line " + std::to_string(lineNo) +
                             " repeats token '" + token + "' of line " +
                             std::to_string(inserted.first->second + 1));
    tokens.push_back(std::move(token));
  }
  for (const char *special : kSpecialTokens) {
    int32_t id = lookup(special);
    if (id < 0)
      continue;
    specials.emplace_back(
        std::u32string(special, special + std::strlen(special)), id);
  }
  padId = lookup("[PAD]");
  unkId = lookup("[UNK]");
  clsId = lookup("[CLS]");
  sepId = lookup("[SEP]");
  for (const char *required : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"})
    if (lookup(required) < 0)
      return failure.set(QB_ERR_INVALID_VOCAB, origin +
                                                   ": vocabulary lacks the "
                                                   "special token " +
                                                   required);
  return QB_OK;
}

void qbrt_tokenizer::tokenizeWord(const std::u32string &word,
                                  std::vector<int32_t> &out) const {
  if (word.size() > kMaxCharsPerWord) {
    out.push_back(unkId);
    return;
  }
  std::string utf8;
  std::vector<size_t> offsets; // byte offset of each code point, and the end
  for (char32_t c : word) {
    offsets.push_back(utf8.size());
    appendUtf8(c, utf8);
  }
  offsets.push_back(utf8.size());

  size_t firstPiece = out.size();
  std::string candidate;
  for (size_t start = 0; start < word.size();) {
    int32_t id = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      candidate.assign(start > 0 ? "##" : "");
      candidate.append(utf8, offsets[start], offsets[end] - offsets[start]);
      id = lookup(candidate);
      if (id >= 0)
        break;
    }
    if (id < 0) {
      out.resize(firstPiece);
      out.push_back(unkId);
      return;
    }
    out.push_back(id);
    start = end;
  }
}

void qbrt_tokenizer::tokenizeSegment(const char32_t *begin, const char32_t *end,
                                     std::vector<int32_t> &out) const {
  // BertTokenizer lower-cases first, then BasicTokenizer cleans the text,
  // puts spaces around CJK ideographs and splits on whitespace.
  std::u32string lowered, word, stripped;
  lowered.reserve(end - begin);
  appendLowerCase(std::u32string(begin, end), lowered);

  auto flushWord = [&] {
    if (word.empty())
      return;
    stripped.clear();
    appendWithoutAccents(word, stripped);
    word.clear();
    // _run_split_on_punc: each punctuation character is a word of its own.
    std::u32string piece;
    for (char32_t c : stripped) {
      if (classify(c) != CharClass::Punctuation) {
        piece.push_back(c);
        continue;
      }
      if (!piece.empty())
        tokenizeWord(piece, out);
      piece.clear();
      tokenizeWord(std::u32string(1, c), out);
    }
    if (!piece.empty())
      tokenizeWord(piece, out);
  };

  for (char32_t c : lowered) {
    CharClass cls = classify(c);
    if (cls == CharClass::Removed)
      continue;
    if (cls == CharClass::Space) {
      flushWord();
      continue;
    }
    if (isCjkIdeograph(c)) {
      flushWord();
      word.push_back(c);
      flushWord();
      continue;
    }
    word.push_back(c);
  }
  flushWord();
}

qb_status qbrt_tokenizer::tokenize(const char *text, int64_t length,
                                   std::vector<int32_t> &out,
                                   Failure &failure) const {
  if (!text && length != 0)
    return failure.set(QB_ERR_INVALID_ARGUMENT, "text is NULL");
  if (length == QBRT_NUL_TERMINATED)
    length = static_cast<int64_t>(std::strlen(text));
  if (length < 0)
    return failure.set(QB_ERR_INVALID_ARGUMENT,
                       "text length is " + std::to_string(length) +
                           ", must be >= 0 or QBRT_NUL_TERMINATED");

  std::u32string chars;
  size_t badOffset;
  if (!decodeUtf8(text, static_cast<size_t>(length), chars, badOffset))
    return failure.set(QB_ERR_INVALID_UTF8,
                       "text is not valid UTF-8: ill-formed sequence at byte " +
                           std::to_string(badOffset));

  // Special tokens written in the text are kept whole (the tokenizer's
  // added-token split, which runs before everything else).
  const char32_t *segment = chars.data();
  const char32_t *const end = chars.data() + chars.size();
  for (const char32_t *p = segment; p < end; ++p) {
    if (*p != U'[')
      continue;
    for (const auto &special : specials) {
      const std::u32string &s = special.first;
      if (static_cast<size_t>(end - p) < s.size() ||
          !std::equal(s.begin(), s.end(), p))
        continue;
      tokenizeSegment(segment, p, out);
      out.push_back(special.second);
      p += s.size() - 1;
      segment = p + 1;
      break;
    }
  }
  tokenizeSegment(segment, end, out);
  return QB_OK;
}

qb_status qbrt_tokenizer::encode(const char *text, int64_t textLen,
                                 const char *pair, int64_t pairLen,
                                 int64_t maxLength, qbrt_padding padding,
                                 int32_t *inputIds, int32_t *typeIds,
                                 int32_t *mask, int64_t *length,
                                 Failure &failure) const {
  int64_t specialCount = pair ? 3 : 2;
  if (maxLength < specialCount)
    return failure.set(QB_ERR_INVALID_ARGUMENT,
                       "max_length is " + std::to_string(maxLength) +
                           ", must be >= " + std::to_string(specialCount) +
                           (pair ? " for a pair" : " for one text"));
  if (padding != QBRT_PAD_TO_MAX_LENGTH && padding != QBRT_PAD_TO_LONGEST)
    return failure.set(QB_ERR_INVALID_ARGUMENT,
                       "padding is " + std::to_string(padding) +
                           ", not a qbrt_padding value");
  if (!inputIds)
    return failure.set(QB_ERR_INVALID_ARGUMENT, "input_ids is NULL");

  std::vector<int32_t> first, second;
  if (tokenize(text, textLen, first, failure) != QB_OK)
    return failure.status;
  if (pair && tokenize(pair, pairLen, second, failure) != QB_OK) {
    failure.message = "text_pair: " + failure.message;
    return failure.status;
  }

  // "longest_first": drop one token at a time from the longer sequence,
  // from the pair on a tie.
  size_t budget = static_cast<size_t>(maxLength - specialCount);
  size_t firstLen = first.size(), secondLen = second.size();
  while (firstLen + secondLen > budget) {
    if (firstLen > secondLen)
      --firstLen;
    else
      --secondLen;
  }

  int64_t pos = 0;
  auto put = [&](int32_t id, int32_t type) {
    inputIds[pos] = id;
    if (typeIds)
      typeIds[pos] = type;
    if (mask)
      mask[pos] = 1;
    ++pos;
  };
  put(clsId, 0);
  for (size_t i = 0; i < firstLen; ++i)
    put(first[i], 0);
  put(sepId, 0);
  if (pair) {
    for (size_t i = 0; i < secondLen; ++i)
      put(second[i], 1);
    put(sepId, 1);
  }
  if (padding == QBRT_PAD_TO_MAX_LENGTH) {
    std::fill(inputIds + pos, inputIds + maxLength, padId);
    if (typeIds)
      std::fill(typeIds + pos, typeIds + maxLength, 0);
    if (mask)
      std::fill(mask + pos, mask + maxLength, 0);
    pos = maxLength;
  }
  if (length)
    *length = pos;
  return QB_OK;
}

namespace {

qb_status createTokenizer(qbrt_context *ctx, const char *function,
                          const char *data, size_t size,
                          const std::string &origin, qbrt_tokenizer **out) {
  auto tokenizer = std::make_unique<qbrt_tokenizer>();
  tokenizer->ctx = ctx;
  Failure failure;
  if (tokenizer->loadVocab(data, size, origin, failure) != QB_OK)
    return reportError(ctx, failure.status, "%s: %s", function,
                       failure.message.c_str());
  *out = tokenizer.release();
  return QB_OK;
}

qb_status checkTokenizer(const qbrt_tokenizer *tok, const char *function) {
  if (tok)
    return QB_OK;
  return reportError(nullptr, QB_ERR_INVALID_ARGUMENT, "%s: tok is NULL",
                     function);
}

} // namespace

extern "C" {

qb_status qbrt_tokenizer_create(qbrt_context *ctx, const char *vocab_path,
                                qbrt_tokenizer **out) {
  const char *function = "qbrt_tokenizer_create";
  if (qb_status s = checkPointer(nullptr, function, ctx, "ctx"))
    return s;
  if (qb_status s = checkPointer(ctx, function, out, "out"))
    return s;
  *out = nullptr;
  if (qb_status s = checkPointer(ctx, function, vocab_path, "vocab_path"))
    return s;
  return guardedCall(ctx, function, [&] {
    std::ifstream file(vocab_path, std::ios::binary);
    if (!file)
      return reportError(ctx, QB_ERR_IO,
                         "%s: cannot open vocabulary file '%s': %s", function,
                         vocab_path, std::strerror(errno));
    std::ostringstream contents;
    contents << file.rdbuf();
    if (file.bad())
      return reportError(ctx, QB_ERR_IO, "%s: cannot read vocabulary file '%s'",
                         function, vocab_path);
    std::string data = contents.str();
    return createTokenizer(ctx, function, data.data(), data.size(), vocab_path,
                           out);
  });
}

qb_status qbrt_tokenizer_create_from_buffer(qbrt_context *ctx, const char *data,
                                            int64_t size,
                                            qbrt_tokenizer **out) {
  const char *function = "qbrt_tokenizer_create_from_buffer";
  if (qb_status s = checkPointer(nullptr, function, ctx, "ctx"))
    return s;
  if (qb_status s = checkPointer(ctx, function, out, "out"))
    return s;
  *out = nullptr;
  if (qb_status s = checkDim(ctx, function, size, "size"))
    return s;
  if (qb_status s = checkPointer(ctx, function, data, "data", size))
    return s;
  return guardedCall(ctx, function, [&] {
    return createTokenizer(ctx, function, data, static_cast<size_t>(size),
                           "vocabulary buffer", out);
  });
}

void qbrt_tokenizer_destroy(qbrt_tokenizer *tok) { delete tok; }

int64_t qbrt_tokenizer_vocab_size(const qbrt_tokenizer *tok) {
  return tok ? static_cast<int64_t>(tok->tokens.size()) : 0;
}

qb_status qbrt_tokenizer_token_to_id(const qbrt_tokenizer *tok,
                                     const char *token, int32_t *id) {
  const char *function = "qbrt_tokenizer_token_to_id";
  if (qb_status s = checkTokenizer(tok, function))
    return s;
  if (qb_status s = checkPointer(tok->ctx, function, token, "token"))
    return s;
  if (qb_status s = checkPointer(tok->ctx, function, id, "id"))
    return s;
  return guardedCall(tok->ctx, function, [&] {
    auto it = tok->ids.find(token);
    if (it == tok->ids.end())
      return reportError(tok->ctx, QB_ERR_INVALID_ARGUMENT,
                         "%s: '%s' is not in the vocabulary", function, token);
    *id = it->second;
    return QB_OK;
  });
}

qb_status qbrt_tokenizer_id_to_token(const qbrt_tokenizer *tok, int32_t id,
                                     const char **token) {
  const char *function = "qbrt_tokenizer_id_to_token";
  if (qb_status s = checkTokenizer(tok, function))
    return s;
  if (qb_status s = checkPointer(tok->ctx, function, token, "token"))
    return s;
  if (id < 0 || static_cast<size_t>(id) >= tok->tokens.size())
    return reportError(tok->ctx, QB_ERR_INVALID_ARGUMENT,
                       "%s: id %d is outside the vocabulary [0, %zu)", function,
                       id, tok->tokens.size());
  *token = tok->tokens[id].c_str();
  return QB_OK;
}

qb_status qbrt_tokenizer_tokenize(const qbrt_tokenizer *tok, const char *text,
                                  int64_t text_len, int32_t *ids,
                                  int64_t capacity, int64_t *count) {
  const char *function = "qbrt_tokenizer_tokenize";
  if (qb_status s = checkTokenizer(tok, function))
    return s;
  if (qb_status s = checkPointer(tok->ctx, function, count, "count"))
    return s;
  if (qb_status s = checkDim(tok->ctx, function, capacity, "capacity"))
    return s;
  if (qb_status s = checkPointer(tok->ctx, function, ids, "ids", capacity))
    return s;
  return guardedCall(tok->ctx, function, [&] {
    std::vector<int32_t> result;
    Failure failure;
    if (tok->tokenize(text, text_len, result, failure) != QB_OK)
      return reportError(tok->ctx, failure.status, "%s: %s", function,
                         failure.message.c_str());
    *count = static_cast<int64_t>(result.size());
    if (*count > capacity)
      return reportError(tok->ctx, QB_ERR_BUFFER_TOO_SMALL,
                         "%s: the text has %lld tokens, capacity is %lld",
                         function, static_cast<long long>(*count),
                         static_cast<long long>(capacity));
    std::copy(result.begin(), result.end(), ids);
    return QB_OK;
  });
}

qb_status qbrt_tokenizer_encode(const qbrt_tokenizer *tok, const char *text,
                                int64_t text_len, const char *text_pair,
                                int64_t text_pair_len, int64_t max_length,
                                qbrt_padding padding, int32_t *input_ids,
                                int32_t *token_type_ids,
                                int32_t *attention_mask, int64_t *length) {
  const char *function = "qbrt_tokenizer_encode";
  if (qb_status s = checkTokenizer(tok, function))
    return s;
  return guardedCall(tok->ctx, function, [&] {
    Failure failure;
    if (tok->encode(text, text_len, text_pair, text_pair_len, max_length,
                    padding, input_ids, token_type_ids, attention_mask, length,
                    failure) != QB_OK)
      return reportError(tok->ctx, failure.status, "%s: %s", function,
                         failure.message.c_str());
    return QB_OK;
  });
}

qb_status qbrt_tokenizer_encode_batch(
    const qbrt_tokenizer *tok, int64_t batch, const char *const *texts,
    const int64_t *text_lens, const char *const *text_pairs,
    const int64_t *pair_lens, int64_t max_length, qbrt_padding padding,
    int32_t *input_ids, int32_t *token_type_ids, int32_t *attention_mask,
    int64_t *lengths, int64_t *seq_len) {
  const char *function = "qbrt_tokenizer_encode_batch";
  if (qb_status s = checkTokenizer(tok, function))
    return s;
  qbrt_context *ctx = tok->ctx;
  if (qb_status s = checkDim(ctx, function, batch, "batch"))
    return s;
  if (qb_status s = checkPointer(ctx, function, texts, "texts", batch))
    return s;
  if (qb_status s = checkPointer(ctx, function, seq_len, "seq_len"))
    return s;
  if (padding != QBRT_PAD_TO_MAX_LENGTH && padding != QBRT_PAD_TO_LONGEST)
    return reportError(ctx, QB_ERR_INVALID_ARGUMENT,
                       "%s: padding is %d, not a qbrt_padding value", function,
                       static_cast<int>(padding));
  int64_t slots; // rows are addressed as row * max_length
  if (qb_status s = checkedProduct(ctx, function, batch,
                                   std::max<int64_t>(max_length, 0), &slots))
    return s;
  return guardedCall(ctx, function, [&] {
    // Rows are encoded unpadded at stride max_length, then moved to the
    // final stride (never larger) and padded.
    std::vector<int64_t> rowLengths(batch);
    std::vector<Failure> failures(batch);
    auto rowPointer = [&](int32_t *base, int64_t row, int64_t stride) {
      return base ? base + row * stride : nullptr;
    };
    ctx->pool.parallelFor(batch, 8, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        try {
          const char *pair = text_pairs ? text_pairs[row] : nullptr;
          tok->encode(texts[row],
                      text_lens ? text_lens[row] : QBRT_NUL_TERMINATED, pair,
                      pair_lens ? pair_lens[row] : QBRT_NUL_TERMINATED,
                      max_length, QBRT_PAD_TO_LONGEST,
                      rowPointer(input_ids, row, max_length),
                      rowPointer(token_type_ids, row, max_length),
                      rowPointer(attention_mask, row, max_length),
                      &rowLengths[row], failures[row]);
        } catch (const std::bad_alloc &) {
          failures[row].set(QB_ERR_OUT_OF_MEMORY, "out of memory");
        }
      }
    });
    for (int64_t row = 0; row < batch; ++row)
      if (failures[row].status != QB_OK)
        return reportError(ctx, failures[row].status, "%s: row %lld: %s",
                           function, static_cast<long long>(row),
                           failures[row].message.c_str());

    int64_t stride = max_length;
    if (padding == QBRT_PAD_TO_LONGEST)
      stride =
          batch ? *std::max_element(rowLengths.begin(), rowLengths.end()) : 0;
    auto compact = [&](int32_t *base, int32_t padValue) {
      if (!base)
        return;
      for (int64_t row = 0; row < batch; ++row) {
        int32_t *dst = base + row * stride;
        std::memmove(dst, base + row * max_length,
                     rowLengths[row] * sizeof(int32_t));
        std::fill(dst + rowLengths[row], dst + stride, padValue);
      }
    };
    compact(input_ids, tok->padId);
    compact(token_type_ids, 0);
    compact(attention_mask, 0);
    if (lengths)
      std::copy(rowLengths.begin(), rowLengths.end(), lengths);
    *seq_len = stride;
    return QB_OK;
  });
}

} // extern "C"
