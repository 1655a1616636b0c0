//===- DataTsv.cpp - GLUE-style labelled TSV datasets ---------------------===//
//
// GLUE's files are plain tab-separated rows under a header, with no quoting;
// the reader finds its columns by name so that extra columns (ids, parse
// trees) are skipped.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Train/Data.h"

#include "quantbert/Support/FileIO.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

namespace quantbert::train {

namespace {

std::vector<std::string_view> splitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab - start));
    if (tab == std::string_view::npos)
      return fields;
    start = tab + 1;
  }
}

std::optional<int64_t> parseLabelId(std::string_view s) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 0)
    return std::nullopt;
  return value;
}

/// The byte offset of the first invalid UTF-8 sequence in `text` (overlong
/// forms, surrogates and code points past U+10FFFF included), or npos.
size_t findInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3
                               : (c >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > text.size())
      return i;
    uint32_t code = length == 1 ? c : c & (0x7f >> length);
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2)
        return i;
      code = (code << 6) | (next & 0x3f);
    }
    static const uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff))
      return i;
    i += length;
  }
  return std::string_view::npos;
}

/// The rows of a TSV: texts and raw labels (empty without a `label`
/// column, which only `needLabels` requires).
struct Rows {
  TextDataset dataset;
  std::vector<std::string> rawLabels;
};

Expected<Rows> parseRows(std::string_view text, const std::string &source,
                         bool needLabels) {
  auto fail = [&](size_t line, const std::string &message) {
    return Error::failure(source + ":" + std::to_string(line) + ": " + message);
  };
  std::vector<std::string_view> lines = splitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view &line = lines[i];
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (size_t bad = findInvalidUtf8(line); bad != std::string_view::npos)
      return fail(i + 1, "invalid UTF-8 at byte " + std::to_string(bad + 1) +
                             " of the line");
  }
  if (lines.empty())
    return fail(1, "empty file, expected a header row");

  std::vector<std::string_view> header = splitTabs(lines[0]);
  auto column = [&](std::string_view name) -> std::optional<size_t> {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end())
      return std::nullopt;
    return size_t(it - header.begin());
  };
  TextDataset dataset;
  std::optional<size_t> textA = column("text"), textB, label = column("label");
  if (!textA) {
    textA = column("text_a");
    textB = column("text_b");
    if (!textA || !textB)
      return fail(1, "header needs a 'text' column or 'text_a' and 'text_b'");
    dataset.hasPairs = true;
  }
  if (!label && needLabels)
    return fail(1, "header needs a 'label' column");

  std::vector<std::string> rawLabels;
  for (size_t i = 1; i < lines.size(); ++i) {
    // A final newline ends the last row rather than starting an empty one.
    if (lines[i].empty() && i + 1 == lines.size())
      break;
    std::vector<std::string_view> fields = splitTabs(lines[i]);
    if (fields.size() != header.size())
      return fail(i + 1, "expected " + std::to_string(header.size()) +
                             " tab-separated fields, got " +
                             std::to_string(fields.size()));
    if (label && fields[*label].empty())
      return fail(i + 1, "empty label");
    TextExample example;
    example.textA = std::string(fields[*textA]);
    if (textB)
      example.textB = std::string(fields[*textB]);
    dataset.examples.push_back(std::move(example));
    if (label)
      rawLabels.emplace_back(fields[*label]);
  }
  return Rows{std::move(dataset), std::move(rawLabels)};
}

} // namespace

Expected<TextDataset> parseTsv(std::string_view text, const std::string &source,
                               const std::vector<std::string> *labelNames) {
  Expected<Rows> rows = parseRows(text, source, /*needLabels=*/true);
  if (!rows)
    return rows.error();
  TextDataset &dataset = rows->dataset;
  const std::vector<std::string> &rawLabels = rows->rawLabels;
  auto fail = [&](size_t line, const std::string &message) {
    return Error::failure(source + ":" + std::to_string(line) + ": " + message);
  };

  if (labelNames) {
    dataset.labelNames = *labelNames;
  } else if (std::all_of(rawLabels.begin(), rawLabels.end(),
                         [](const auto &l) { return parseLabelId(l); })) {
    int64_t maxId = -1;
    for (const std::string &l : rawLabels)
      maxId = std::max(maxId, *parseLabelId(l));
    for (int64_t id = 0; id <= maxId; ++id)
      dataset.labelNames.push_back(std::to_string(id));
  } else {
    std::set<std::string> distinct(rawLabels.begin(), rawLabels.end());
    dataset.labelNames.assign(distinct.begin(), distinct.end());
  }
  std::map<std::string, int64_t, std::less<>> ids;
  for (size_t id = 0; id < dataset.labelNames.size(); ++id)
    ids.emplace(dataset.labelNames[id], int64_t(id));
  for (size_t i = 0; i < rawLabels.size(); ++i) {
    auto it = ids.find(rawLabels[i]);
    if (it == ids.end())
      return fail(i + 2, "unknown label '" + rawLabels[i] + "'");
    dataset.examples[i].label = it->second;
  }
  return dataset;
}

Expected<std::vector<TextExample>> parseTexts(std::string_view text,
                                              const std::string &source) {
  Expected<Rows> rows = parseRows(text, source, /*needLabels=*/false);
  if (!rows)
    return rows.error();
  return std::move(rows->dataset.examples);
}

Expected<TextDataset> readTsv(const std::string &path,
                              const std::vector<std::string> *labelNames) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  return parseTsv(*text, path, labelNames);
}

std::vector<int64_t> labelIds(const TextDataset &dataset) {
  std::vector<int64_t> ids;
  ids.reserve(dataset.examples.size());
  for (const TextExample &example : dataset.examples)
    ids.push_back(example.label);
  return ids;
}

} // namespace quantbert::train
