//===- Unicode.h - The Unicode facts the WordPiece tokenizer needs --------===//
//
// UTF-8 decoding and encoding, and the character properties, lower-casing
// and canonical decomposition that Hugging Face's BertTokenizer takes from
// Python's unicodedata and str.lower(). The tables come from
// runtime/tools/gen_unicode_tables.py.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTBERT_RUNTIME_UNICODE_H
#define QUANTBERT_RUNTIME_UNICODE_H

#include <cstddef>
#include <string>

namespace quantbert {

/// How BertTokenizer's BasicTokenizer treats a character.
enum class CharClass : unsigned char {
  Other,       ///< part of a word
  Removed,     ///< NUL, U+FFFD, control and unassigned: dropped
  Space,       ///< whitespace: separates words
  Punctuation, ///< ASCII punctuation and Unicode P*: a word of its own
  Mark,        ///< nonspacing mark (Mn): dropped by accent stripping
};

CharClass classify(char32_t c);

/// The CJK Unified Ideograph blocks BertTokenizer splits into single words.
bool isCjkIdeograph(char32_t c);

/// Decodes well-formed UTF-8 (no overlong forms, surrogates or values above
/// U+10FFFF) into out. On failure returns false and sets errorOffset to the
/// offset of the first byte of the ill-formed sequence.
bool decodeUtf8(const char *data, size_t size, std::u32string &out,
                size_t &errorOffset);

void appendUtf8(char32_t c, std::string &out);

/// Appends word lower-cased one character at a time with Python's
/// str.lower(), as BertTokenizer does (so capital sigma is always U+03C3).
void appendLowerCase(const std::u32string &word, std::u32string &out);

/// Appends word in NFD with nonspacing marks removed (BertTokenizer's
/// _run_strip_accents) to out.
void appendWithoutAccents(const std::u32string &word, std::u32string &out);

} // namespace quantbert

#endif // QUANTBERT_RUNTIME_UNICODE_H
