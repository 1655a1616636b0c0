//===- JsonFields.h - Typed field access for the JSON file parsers -*- C++ -*-===//
//
// For the project's JSON readers (QBSupport's config.json, quant.json and
// sensitivity.json; QBTrain's qat.json and recipe configs), which include it
// from their .cpp files and link nlohmann_json privately. Every type error
// has the same shape:
//   <where>field '<key>' must be a positive integer, got -3
// where `where` names the file and the enclosing entry ("quant.json:
// linears['bert.pooler.dense']: ").
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_JSONFIELDS_H
#define QUANTBERT_SUPPORT_JSONFIELDS_H

#include "quantbert/Support/Error.h"
#include "quantbert/Support/FileIO.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace quantbert::json_fields {

using Json = nlohmann::json;

/// `value` as a short string for messages (long values are elided).
inline std::string describe(const Json &value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  return text;
}

inline Error fieldError(const std::string &where, std::string_view key,
                        const std::string &rule, const Json &got) {
  return Error::failure(where + "field '" + std::string(key) + "' " + rule +
                        ", got " + describe(got));
}

inline Error missingField(const std::string &where, std::string_view key) {
  return Error::failure(where + "missing field '" + std::string(key) + "'");
}

/// Fails on the first key of `object` not in `known`.
inline Error rejectUnknownKeys(const Json &object, const std::string &where,
                               std::initializer_list<const char *> known) {
  for (const auto &item : object.items()) {
    bool isKnown = false;
    for (const char *key : known)
      isKnown |= item.key() == key;
    if (!isKnown)
      return Error::failure(where + "unknown field '" + item.key() + "'");
  }
  return Error::success();
}

/// Parses `text`, which must be a JSON object.
inline Expected<Json> parseObject(std::string_view text,
                                  const std::string &source) {
  Json document;
  try {
    document = Json::parse(text.begin(), text.end());
  } catch (const Json::exception &err) {
    return Error::failure(source + ": not valid JSON: " + err.what());
  }
  if (!document.is_object())
    return Error::failure(source + ": top level must be a JSON object, got " +
                          std::string(document.type_name()));
  return document;
}

/// An integer >= `min` (min 1: "a positive integer", 0: "a non-negative
/// integer").
inline Expected<int64_t> readInteger(const Json &value, const std::string &where,
                                     std::string_view key, int64_t min) {
  std::string rule = min == 1   ? "must be a positive integer"
                     : min == 0 ? "must be a non-negative integer"
                                : "must be an integer >= " + std::to_string(min);
  if (value.is_number_unsigned()) {
    uint64_t unsignedValue = value.get<uint64_t>();
    if (unsignedValue > static_cast<uint64_t>(INT64_MAX))
      return fieldError(where, key, rule + " that fits in 64 bits", value);
    if (static_cast<int64_t>(unsignedValue) < min)
      return fieldError(where, key, rule, value);
    return static_cast<int64_t>(unsignedValue);
  }
  if (!value.is_number_integer() || value.get<int64_t>() < min)
    return fieldError(where, key, rule, value);
  return value.get<int64_t>();
}

/// A finite number; with `positive`, also > 0.
inline Expected<double> readNumber(const Json &value, const std::string &where,
                                   std::string_view key, bool positive) {
  std::string rule = positive ? "must be a positive number" : "must be a number";
  if (!value.is_number() || !std::isfinite(value.get<double>()) ||
      (positive && !(value.get<double>() > 0)))
    return fieldError(where, key, rule, value);
  return value.get<double>();
}

inline Expected<std::string> readString(const Json &value,
                                        const std::string &where,
                                        std::string_view key) {
  if (!value.is_string())
    return fieldError(where, key, "must be a string", value);
  return value.get<std::string>();
}

/// A non-empty string.
inline Expected<std::string> readName(const Json &value,
                                      const std::string &where,
                                      std::string_view key) {
  if (!value.is_string() || value.get<std::string>().empty())
    return fieldError(where, key, "must be a non-empty string", value);
  return value.get<std::string>();
}

/// The document's "format_version", which must be `expected`.
inline Expected<int64_t> readFormatVersion(const Json &root,
                                           const std::string &where,
                                           int64_t expected) {
  if (!root.contains("format_version"))
    return missingField(where, "format_version");
  const Json &version = root["format_version"];
  if (!version.is_number_integer() || version.get<int64_t>() != expected)
    return fieldError(where, "format_version",
                      "must be " + std::to_string(expected) +
                          " (the version this quant-bert reads)",
                      version);
  return expected;
}

/// Runs `parse` on the JSON object in `text`, turning any exception (e.g.
/// bad_alloc) into an Error.
template <typename T, typename ParseFn>
Expected<T> parseDocument(std::string_view text, const std::string &source,
                          ParseFn parse) {
  try {
    Expected<Json> root = parseObject(text, source);
    if (!root)
      return root.error();
    return parse(*root, source);
  } catch (const std::exception &err) {
    return Error::failure(source + ": " + err.what());
  }
}

/// Writes `text` to `path` atomically, exceptions as Errors.
inline Error saveDocument(const std::string &path, const std::string &text) {
  try {
    return writeFileAtomically(path, text);
  } catch (const std::exception &err) {
    return Error::failure(path + ": " + err.what());
  }
}

} // namespace quantbert::json_fields

#endif // QUANTBERT_SUPPORT_JSONFIELDS_H
