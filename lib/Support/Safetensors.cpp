//===- Safetensors.cpp - Safetensors checkpoint reader and writer ---------===//
//
// The reader validates a file in the order the bytes are trusted: the length
// prefix, the header's bounds, its JSON, each entry's fields, then the layout
// of all entries over the data buffer (sorted by offset: no overlap, no gap,
// full coverage, the rules of the reference implementation). Only after all
// of that does any accessor touch tensor bytes, so every access is in bounds.
//
// One file over 600 lines because it is one format: the writer produces
// exactly the layout the reader's checks accept, and keeping both next to
// each other keeps those rules in one place.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/Safetensors.h"
#include "quantbert/Support/FileIO.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <tuple>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace quantbert;
using Json = nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; big-endian hosts would need "
              "byte swapping");

namespace {

/// The reference implementation's limit: larger headers are rejected before
/// any allocation, so a corrupt length cannot make the reader allocate GBs.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
/// JSON nesting deeper than this cannot be a valid header (which nests three
/// levels) and is refused before it costs memory.
constexpr int kMaxHeaderDepth = 16;
constexpr char kMetadataKey[] = "__metadata__";

struct DTypeSpelling {
  DType dtype;
  const char *name;
  size_t size;
};
constexpr DTypeSpelling kDTypes[] = {
    {DType::F32, "F32", 4},  {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8},  {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},  {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
};

std::string formatRange(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

std::string quoteName(std::string_view name) {
  return "'" + std::string(name) + "'";
}

/// product(shape) * dtypeSize(dtype), multiplied left to right; false on
/// 64-bit overflow. The reader and the writer share it so they agree on
/// which shapes are representable (e.g. [2^62, 8, 0] overflows in both).
bool checkedByteSize(DType dtype, const std::vector<int64_t> &shape,
                     uint64_t &bytes) {
  uint64_t elements = 1;
  for (int64_t dim : shape)
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements))
      return false;
  return !__builtin_mul_overflow(elements, dtypeSize(dtype), &bytes);
}

bool isValidUtf8(const std::string &text) {
  try {
    (void)Json(text).dump();
    return true;
  } catch (const Json::exception &) {
    return false;
  }
}

/// Thrown by the JSON parse callback to stop on duplicate keys or deep
/// nesting; caught in parseHeaderJson, never escapes.
struct HeaderShapeError {
  std::string message;
};

/// Parses the header, rejecting duplicate keys (which nlohmann would
/// silently collapse, hiding a tensor) and excessive nesting.
Expected<Json> parseHeaderJson(const char *begin, const char *end) {
  std::vector<std::set<std::string>> keysPerObject;
  int depth = 0;
  auto callback = [&](int, Json::parse_event_t event, Json &parsed) {
    switch (event) {
    case Json::parse_event_t::object_start:
    case Json::parse_event_t::array_start:
      if (++depth > kMaxHeaderDepth)
        throw HeaderShapeError{"header nests deeper than " +
                               std::to_string(kMaxHeaderDepth) + " levels"};
      if (event == Json::parse_event_t::object_start)
        keysPerObject.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      --depth;
      keysPerObject.pop_back();
      break;
    case Json::parse_event_t::array_end:
      --depth;
      break;
    case Json::parse_event_t::key:
      if (!keysPerObject.back().insert(parsed.get<std::string>()).second)
        throw HeaderShapeError{"header has duplicate key " +
                               quoteName(parsed.get<std::string>())};
      break;
    case Json::parse_event_t::value:
      break;
    }
    return true;
  };
  try {
    return Json::parse(begin, end, callback);
  } catch (const HeaderShapeError &err) {
    return Error::failure(err.message);
  } catch (const Json::exception &err) {
    return Error::failure(std::string("header is not valid JSON: ") +
                          err.what());
  }
}

/// Reads a non-negative integer that fits in int64 from `value`, or explains
/// (after `what`) why it is not one.
Expected<uint64_t> readCount(const Json &value, const std::string &what) {
  if (value.is_number_unsigned()) {
    uint64_t count = value.get<uint64_t>();
    if (count > static_cast<uint64_t>(INT64_MAX))
      return Error::failure(what + " is too large (" + std::to_string(count) +
                            ")");
    return count;
  }
  if (value.is_number_integer())
    return Error::failure(what + " is negative (" +
                          std::to_string(value.get<int64_t>()) + ")");
  return Error::failure(what + " must be a non-negative integer, got " +
                        value.dump());
}

/// Validates one tensor entry of the header.
Expected<TensorInfo> parseTensorEntry(const std::string &name,
                                      const Json &entry) {
  std::string where = "tensor " + quoteName(name) + ": ";
  if (!entry.is_object())
    return Error::failure(where + "entry must be a JSON object, got " +
                          std::string(entry.type_name()));
  for (const char *field : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(field))
      return Error::failure(where + "missing field '" + field + "'");

  TensorInfo info;
  info.name = name;
  const Json &dtype = entry["dtype"];
  if (!dtype.is_string())
    return Error::failure(where + "field 'dtype' must be a string, got " +
                          dtype.dump());
  std::optional<DType> parsed = parseDType(dtype.get<std::string>());
  if (!parsed) {
    std::string known;
    for (const DTypeSpelling &spelling : kDTypes)
      known += std::string(known.empty() ? "" : ", ") + spelling.name;
    return Error::failure(where + "unknown dtype " +
                          quoteName(dtype.get<std::string>()) + " (expected one of " +
                          known + ")");
  }
  info.dtype = *parsed;

  const Json &shape = entry["shape"];
  if (!shape.is_array())
    return Error::failure(where + "field 'shape' must be an array, got " +
                          shape.dump());
  for (size_t i = 0; i < shape.size(); ++i) {
    Expected<uint64_t> dim =
        readCount(shape[i], "dimension " + std::to_string(i) + " of 'shape'");
    if (!dim)
      return Error::failure(where + dim.message());
    info.shape.push_back(static_cast<int64_t>(*dim));
  }
  uint64_t expectedBytes = 0;
  if (!checkedByteSize(info.dtype, info.shape, expectedBytes))
    return Error::failure(where + "shape " + formatShape(info.shape) +
                          " overflows: its byte size does not fit in 64 bits");

  const Json &offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    return Error::failure(where +
                          "field 'data_offsets' must be [begin, end], got " +
                          offsets.dump());
  Expected<uint64_t> begin = readCount(offsets[0], "'data_offsets' begin");
  if (!begin)
    return Error::failure(where + begin.message());
  Expected<uint64_t> end = readCount(offsets[1], "'data_offsets' end");
  if (!end)
    return Error::failure(where + end.message());
  if (*begin > *end)
    return Error::failure(where + "data_offsets " + formatRange(*begin, *end) +
                          " must have begin <= end");
  info.begin = *begin;
  info.end = *end;
  if (info.byteSize() != expectedBytes)
    return Error::failure(where + "shape/size mismatch: shape " +
                          formatShape(info.shape) + " of " +
                          std::string(dtypeName(info.dtype)) + " needs " +
                          std::to_string(expectedBytes) +
                          " bytes but data_offsets " + formatRange(*begin, *end) +
                          " hold " + std::to_string(info.byteSize()));
  return info;
}

Expected<std::map<std::string, std::string>> parseMetadata(const Json &value) {
  if (!value.is_object())
    return Error::failure("'__metadata__' must be an object of strings, got " +
                          std::string(value.type_name()));
  std::map<std::string, std::string> metadata;
  for (const auto &[key, item] : value.items()) {
    if (!item.is_string())
      return Error::failure("'__metadata__' entry " + quoteName(key) +
                            " must be a string, got " + item.dump());
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

} // namespace

std::string_view quantbert::dtypeName(DType dtype) {
  for (const DTypeSpelling &spelling : kDTypes)
    if (spelling.dtype == dtype)
      return spelling.name;
  return "?";
}

std::optional<DType> quantbert::parseDType(std::string_view name) {
  for (const DTypeSpelling &spelling : kDTypes)
    if (name == spelling.name)
      return spelling.dtype;
  return std::nullopt;
}

size_t quantbert::dtypeSize(DType dtype) {
  for (const DTypeSpelling &spelling : kDTypes)
    if (spelling.dtype == dtype)
      return spelling.size;
  return 0;
}

std::string quantbert::formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

float quantbert::halfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t out;
  if (exponent == 0x1f) {
    out = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    // Rebias the exponent from 15 to 127.
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  float value;
  std::memcpy(&value, &out, sizeof(value));
  return value;
}

float quantbert::bfloat16ToFloat(uint16_t bits) {
  uint32_t out = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &out, sizeof(value));
  return value;
}

uint64_t TensorInfo::numElements() const {
  uint64_t elements = 1;
  for (int64_t dim : shape)
    elements *= static_cast<uint64_t>(dim);
  return elements;
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

/// The file's bytes: an mmap'ed region or an owned string.
struct SafetensorsFile::Storage {
  std::string owned;
  void *mapping = nullptr;
  size_t mappingSize = 0;
  const uint8_t *data = nullptr;
  size_t size = 0;

  ~Storage() {
    if (mapping)
      ::munmap(mapping, mappingSize);
  }
};

Expected<SafetensorsFile> SafetensorsFile::open(const std::string &path) {
  try {
    auto storage = std::make_shared<Storage>();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Error::failure(path + ": cannot open: " + std::strerror(errno));
    struct stat info;
    bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
    if (regular && info.st_size > 0) {
      void *mapping = ::mmap(nullptr, static_cast<size_t>(info.st_size),
                             PROT_READ, MAP_PRIVATE, fd, 0);
      if (mapping != MAP_FAILED) {
        storage->mapping = mapping;
        storage->mappingSize = static_cast<size_t>(info.st_size);
        storage->data = static_cast<const uint8_t *>(mapping);
        storage->size = storage->mappingSize;
      }
    }
    ::close(fd);
    if (!storage->mapping) {
      // Empty files, pipes and file systems without mmap: read instead.
      Expected<std::string> contents = readFile(path);
      if (!contents)
        return contents.error();
      storage->owned = std::move(*contents);
      storage->data = reinterpret_cast<const uint8_t *>(storage->owned.data());
      storage->size = storage->owned.size();
    }
    return parseStorage(std::move(storage), path);
  } catch (const std::exception &err) {
    return Error::failure(path + ": " + err.what());
  }
}

Expected<SafetensorsFile> SafetensorsFile::parse(std::string bytes) {
  try {
    auto storage = std::make_shared<Storage>();
    storage->owned = std::move(bytes);
    storage->data = reinterpret_cast<const uint8_t *>(storage->owned.data());
    storage->size = storage->owned.size();
    return parseStorage(std::move(storage), "safetensors");
  } catch (const std::exception &err) {
    return Error::failure(std::string("safetensors: ") + err.what());
  }
}

Expected<SafetensorsFile>
SafetensorsFile::parseStorage(std::shared_ptr<Storage> storage,
                              std::string source) {
  auto fail = [&](const std::string &message) {
    return Error::failure(source + ": " + message);
  };
  const uint64_t fileSize = storage->size;
  if (fileSize < 8)
    return fail("file is truncated: " + std::to_string(fileSize) +
                " bytes, need at least 8 for the header length");
  uint64_t headerSize;
  std::memcpy(&headerSize, storage->data, sizeof(headerSize));
  if (headerSize > kMaxHeaderSize)
    return fail("header length " + std::to_string(headerSize) +
                " exceeds the limit of " + std::to_string(kMaxHeaderSize) +
                " bytes");
  if (headerSize > fileSize - 8)
    return fail("header length " + std::to_string(headerSize) +
                " runs past the end of the file (" +
                std::to_string(fileSize - 8) +
                " bytes follow the length field)");

  const char *headerBegin = reinterpret_cast<const char *>(storage->data + 8);
  Expected<Json> header = parseHeaderJson(headerBegin, headerBegin + headerSize);
  if (!header)
    return fail(header.message());
  if (!header->is_object())
    return fail("header is not a JSON object (got " +
                std::string(header->type_name()) + ")");

  SafetensorsFile file;
  file.source_ = source;
  file.dataSize_ = fileSize - 8 - headerSize;
  for (const auto &[name, entry] : header->items()) {
    if (name == kMetadataKey) {
      Expected<std::map<std::string, std::string>> metadata =
          parseMetadata(entry);
      if (!metadata)
        return fail(metadata.message());
      file.metadata_ = std::move(*metadata);
      continue;
    }
    Expected<TensorInfo> info = parseTensorEntry(name, entry);
    if (!info)
      return fail(info.message());
    if (info->end > file.dataSize_)
      return fail("tensor " + quoteName(name) + ": data_offsets " +
                  formatRange(info->begin, info->end) +
                  " run past the end of the data buffer (" +
                  std::to_string(file.dataSize_) + " bytes)");
    file.tensors_.push_back(std::move(*info));
  }

  std::sort(file.tensors_.begin(), file.tensors_.end(),
            [](const TensorInfo &a, const TensorInfo &b) {
              return std::tie(a.begin, a.end, a.name) <
                     std::tie(b.begin, b.end, b.name);
            });
  uint64_t covered = 0;
  for (size_t i = 0; i < file.tensors_.size(); ++i) {
    const TensorInfo &tensor = file.tensors_[i];
    if (tensor.begin < covered)
      return fail("tensors " + quoteName(file.tensors_[i - 1].name) + " " +
                  formatRange(file.tensors_[i - 1].begin,
                              file.tensors_[i - 1].end) +
                  " and " + quoteName(tensor.name) + " " +
                  formatRange(tensor.begin, tensor.end) +
                  " have overlapping data_offsets");
    if (tensor.begin > covered)
      return fail("gap in the data buffer: bytes [" + std::to_string(covered) +
                  ", " + std::to_string(tensor.begin) + ")" +
                  " belong to no tensor (before " + quoteName(tensor.name) + ")");
    covered = tensor.end;
  }
  if (covered != file.dataSize_)
    return fail("gap in the data buffer: bytes [" + std::to_string(covered) +
                ", " + std::to_string(file.dataSize_) + ")" +
                " at its end belong to no tensor");

  for (size_t i = 0; i < file.tensors_.size(); ++i)
    file.index_.emplace(file.tensors_[i].name, i);
  file.data_ = storage->data + 8 + headerSize;
  file.storage_ = std::move(storage);
  return file;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> result;
  result.reserve(tensors_.size());
  for (const TensorInfo &tensor : tensors_)
    result.push_back(tensor.name);
  return result;
}

const TensorInfo *SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Expected<const TensorInfo *>
SafetensorsFile::requireTensor(std::string_view name, DType dtype,
                               const std::vector<int64_t> &shape) const {
  const TensorInfo *tensor = find(name);
  if (!tensor)
    return Error::failure(source_ + ": missing tensor " + quoteName(name));
  if (tensor->dtype != dtype)
    return Error::failure(source_ + ": tensor " + quoteName(name) + " has dtype " +
                          std::string(dtypeName(tensor->dtype)) +
                          ", expected " + std::string(dtypeName(dtype)));
  if (tensor->shape != shape)
    return Error::failure(source_ + ": tensor " + quoteName(name) + " has shape " +
                          formatShape(tensor->shape) + ", expected " +
                          formatShape(shape));
  return tensor;
}

ByteView SafetensorsFile::bytes(const TensorInfo &tensor) const {
  return ByteView{data_ + tensor.begin, static_cast<size_t>(tensor.byteSize())};
}

Expected<std::vector<float>>
SafetensorsFile::readF32(std::string_view name) const {
  const TensorInfo *tensor = find(name);
  if (!tensor)
    return Error::failure(source_ + ": missing tensor " + quoteName(name));
  ByteView view = bytes(*tensor);
  try {
    std::vector<float> values(tensor->numElements());
    switch (tensor->dtype) {
    case DType::F32:
      if (view.size)
        std::memcpy(values.data(), view.data, view.size);
      return values;
    case DType::F16:
    case DType::BF16:
      for (size_t i = 0; i < values.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, view.data + 2 * i, sizeof(bits));
        values[i] = tensor->dtype == DType::F16 ? halfToFloat(bits)
                                                : bfloat16ToFloat(bits);
      }
      return values;
    default:
      return Error::failure(source_ + ": tensor " + quoteName(name) +
                            " has dtype " +
                            std::string(dtypeName(tensor->dtype)) +
                            "; only F32, F16 and BF16 convert exactly to f32");
    }
  } catch (const std::exception &err) {
    return Error::failure(source_ + ": tensor " + quoteName(name) + ": " +
                          err.what());
  }
}

//===----------------------------------------------------------------------===//
// SafetensorsWriter
//===----------------------------------------------------------------------===//

Error SafetensorsWriter::add(std::string name, DType dtype,
                             std::vector<int64_t> shape, const void *data,
                             size_t size) {
  std::string where = "safetensors writer: tensor " + quoteName(name) + ": ";
  if (name.empty())
    return Error::failure("safetensors writer: tensor name is empty");
  if (name == kMetadataKey)
    return Error::failure(where + "the name is reserved for metadata");
  if (!isValidUtf8(name))
    return Error::failure(where + "the name is not valid UTF-8");
  if (entries_.count(name))
    return Error::failure(where + "added twice");
  for (int64_t dim : shape)
    if (dim < 0)
      return Error::failure(where + "shape " + formatShape(shape) +
                            " has a negative dimension");
  uint64_t expectedBytes = 0;
  if (!checkedByteSize(dtype, shape, expectedBytes))
    return Error::failure(where + "shape " + formatShape(shape) +
                          " overflows 64 bits");
  if (expectedBytes != size)
    return Error::failure(where + "shape " + formatShape(shape) + " of " +
                          std::string(dtypeName(dtype)) + " needs " +
                          std::to_string(expectedBytes) + " bytes, got " +
                          std::to_string(size));
  Entry entry{dtype, std::move(shape), {}};
  const uint8_t *bytes = static_cast<const uint8_t *>(data);
  entry.bytes.assign(bytes, bytes + size);
  entries_.emplace(std::move(name), std::move(entry));
  return Error::success();
}

Error SafetensorsWriter::setMetadata(std::string key, std::string value) {
  if (key.empty())
    return Error::failure("safetensors writer: metadata key is empty");
  if (!isValidUtf8(key) || !isValidUtf8(value))
    return Error::failure("safetensors writer: metadata " + quoteName(key) +
                          " is not valid UTF-8");
  metadata_[std::move(key)] = std::move(value);
  return Error::success();
}

std::string
SafetensorsWriter::buildHeader(std::vector<const Entry *> &order) const {
  std::vector<std::pair<const std::string *, const Entry *>> sorted;
  for (const auto &[name, entry] : entries_)
    sorted.emplace_back(&name, &entry);
  // Largest elements first, so with an 8-aligned data buffer every tensor
  // starts at a multiple of its element size; ties keep name order.
  std::stable_sort(sorted.begin(), sorted.end(), [](auto a, auto b) {
    return dtypeSize(a.second->dtype) > dtypeSize(b.second->dtype);
  });

  Json header = Json::object();
  if (!metadata_.empty())
    header[kMetadataKey] = metadata_;
  uint64_t offset = 0;
  order.clear();
  for (const auto &[name, entry] : sorted) {
    uint64_t end = offset + entry->bytes.size();
    header[*name] = {{"dtype", dtypeName(entry->dtype)},
                     {"shape", entry->shape},
                     {"data_offsets", {offset, end}}};
    offset = end;
    order.push_back(entry);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

std::string SafetensorsWriter::serialize() const {
  std::vector<const Entry *> order;
  std::string header = buildHeader(order);
  uint64_t headerSize = header.size();
  std::string file(reinterpret_cast<const char *>(&headerSize), 8);
  file += header;
  for (const Entry *entry : order)
    file.append(entry->bytes.begin(), entry->bytes.end());
  return file;
}

Error SafetensorsWriter::writeAtomically(const std::string &path) const {
  try {
    std::vector<const Entry *> order;
    std::string header = buildHeader(order);
    uint64_t headerSize = header.size();
    return writeFileAtomically(path, [&](const ChunkWriter &write) {
      if (Error err = write(&headerSize, sizeof(headerSize)))
        return err;
      if (Error err = write(header.data(), header.size()))
        return err;
      for (const Entry *entry : order)
        if (Error err = write(entry->bytes.data(), entry->bytes.size()))
          return err;
      return Error::success();
    });
  } catch (const std::exception &err) {
    return Error::failure(path + ": " + err.what());
  }
}
