//===- Unicode.cpp - The Unicode facts the WordPiece tokenizer needs ------===//
//
// Property lookups are binary searches over the generated range tables;
// decomposition follows Unicode's canonical decomposition and ordering
// algorithm (UAX #15), with Hangul syllables decomposed arithmetically.
//
//===----------------------------------------------------------------------===//
#include "Unicode.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

using namespace quantbert;

namespace {

struct LowerCaseEntry {
  char32_t codePoint, first, second;
};

struct DecompositionEntry {
  char32_t codePoint;
  uint16_t offset, length;
};

#include "UnicodeTables.inc"

/// Value of the range containing c in a table of (start << bits | value)
/// entries sorted by start, starting at U+0000.
template <size_t N>
unsigned rangeValue(const uint32_t (&table)[N], unsigned bits, char32_t c) {
  uint32_t key = (static_cast<uint32_t>(c) << bits) | ((1u << bits) - 1);
  const uint32_t *it =
      std::upper_bound(std::begin(table), std::end(table), key);
  return *(it - 1) & ((1u << bits) - 1);
}

unsigned combiningClass(char32_t c) {
  return rangeValue(kCombiningClassRanges, 8, c);
}

constexpr char32_t kHangulBase = 0xAC00, kHangulCount = 11172,
                   kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7,
                   kVowelCount = 21, kTrailCount = 28;

void appendDecomposition(char32_t c, std::u32string &out) {
  if (c >= kHangulBase && c < kHangulBase + kHangulCount) {
    char32_t index = c - kHangulBase;
    out.push_back(kLeadBase + index / (kVowelCount * kTrailCount));
    out.push_back(kVowelBase +
                  index % (kVowelCount * kTrailCount) / kTrailCount);
    if (index % kTrailCount)
      out.push_back(kTrailBase + index % kTrailCount);
    return;
  }
  auto it =
      std::lower_bound(std::begin(kDecomposition), std::end(kDecomposition), c,
                       [](const DecompositionEntry &e, char32_t cp) {
                         return e.codePoint < cp;
                       });
  if (it == std::end(kDecomposition) || it->codePoint != c) {
    out.push_back(c);
    return;
  }
  out.append(kDecompositionPool + it->offset, it->length);
}

} // namespace

CharClass quantbert::classify(char32_t c) {
  return static_cast<CharClass>(rangeValue(kCharClassRanges, 3, c));
}

bool quantbert::isCjkIdeograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool quantbert::decodeUtf8(const char *data, size_t size, std::u32string &out,
                           size_t &errorOffset) {
  const auto *bytes = reinterpret_cast<const unsigned char *>(data);
  size_t i = 0;
  while (i < size) {
    unsigned char lead = bytes[i];
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    size_t length;
    char32_t c, minimum;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2, c = lead & 0x1F, minimum = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3, c = lead & 0x0F, minimum = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4, c = lead & 0x07, minimum = 0x10000;
    } else {
      errorOffset = i;
      return false;
    }
    if (size - i < length) {
      errorOffset = i;
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) {
        errorOffset = i;
        return false;
      }
      c = (c << 6) | (bytes[i + k] & 0x3F);
    }
    if (c < minimum || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      errorOffset = i;
      return false;
    }
    out.push_back(c);
    i += length;
  }
  return true;
}

void quantbert::appendUtf8(char32_t c, std::string &out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

void quantbert::appendLowerCase(const std::u32string &word,
                                std::u32string &out) {
  for (char32_t c : word) {
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      continue;
    }
    auto it = std::lower_bound(
        std::begin(kLowerCase), std::end(kLowerCase), c,
        [](const LowerCaseEntry &e, char32_t cp) { return e.codePoint < cp; });
    if (it == std::end(kLowerCase) || it->codePoint != c) {
      out.push_back(c);
      continue;
    }
    out.push_back(it->first);
    if (it->second)
      out.push_back(it->second);
  }
}

void quantbert::appendWithoutAccents(const std::u32string &word,
                                     std::u32string &out) {
  size_t start = out.size();
  for (char32_t c : word)
    appendDecomposition(c, out);
  // Canonical ordering: stable-sort each run of non-starters by combining
  // class. Marks must be ordered before they are dropped, since a dropped
  // starter mark (class 0) still separates the runs around it.
  auto byClass = [](char32_t a, char32_t b) {
    return combiningClass(a) < combiningClass(b);
  };
  for (size_t i = start; i < out.size();) {
    if (combiningClass(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < out.size() && combiningClass(out[end]) != 0)
      ++end;
    std::stable_sort(out.begin() + i, out.begin() + end, byClass);
    i = end;
  }
  out.erase(
      std::remove_if(out.begin() + start, out.end(),
                     [](char32_t c) { return classify(c) == CharClass::Mark; }),
      out.end());
}
