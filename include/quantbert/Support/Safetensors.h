//===- Safetensors.h - Safetensors checkpoint reader and writer --*- C++ -*-===//
//
// Reads and writes Hugging Face safetensors files, the weight format of every
// quant-bert checkpoint and bundle. Layout:
//
//   [8 bytes: little-endian u64 N][N bytes: JSON header][data buffer]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (offsets relative to the data buffer), plus an optional
// "__metadata__" object of string values. Files are untrusted input: the
// reader checks every rule of the reference implementation (header bounds,
// JSON types, known dtypes, shape/size agreement, no overlapping tensors, the
// data buffer fully covered with no gaps) and returns an Error naming the
// tensor and the field at fault; it never reads out of bounds.
//
// The writer is deterministic: tensors sorted by dtype size (largest first)
// then name, as the reference writer does, so every tensor is aligned to its
// element size in a file whose header is space-padded to a multiple of 8.
//
// Little-endian hosts only (checked at compile time in Safetensors.cpp).
// Dependency-free: C++17 standard library and POSIX mmap.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_SAFETENSORS_H
#define QUANTBERT_SUPPORT_SAFETENSORS_H

#include "quantbert/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert {

/// Element types of the safetensors format that quant-bert reads and writes.
enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

/// The header spelling: "F32", "BF16", "BOOL", ...
std::string_view dtypeName(DType dtype);

/// Parses a header spelling; nullopt for anything else.
std::optional<DType> parseDType(std::string_view name);

/// Bytes per element.
size_t dtypeSize(DType dtype);

/// "[768, 3072]"; "[]" for a scalar.
std::string formatShape(const std::vector<int64_t> &shape);

/// IEEE binary16 bits to f32, exactly (subnormals, infinities and NaN
/// payloads included).
float halfToFloat(uint16_t bits);

/// bfloat16 bits to f32, exactly (bfloat16 is the top half of an f32).
float bfloat16ToFloat(uint16_t bits);

/// A read-only view of bytes owned by a SafetensorsFile.
struct ByteView {
  const uint8_t *data = nullptr;
  size_t size = 0;
};

/// One tensor's header entry.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Byte range [begin, end) relative to the start of the data buffer.
  uint64_t begin = 0;
  uint64_t end = 0;

  /// Product of the dims (1 for a scalar).
  uint64_t numElements() const;
  uint64_t byteSize() const { return end - begin; }
};

/// A validated safetensors file. Cheap to copy: copies share the bytes.
class SafetensorsFile {
public:
  /// Maps (or, where mmap fails, reads) and validates the file at `path`.
  /// Errors start with `path`. The mapping is private and read-only; as with
  /// any mmap, truncating the file while it is open is undefined.
  static Expected<SafetensorsFile> open(const std::string &path);

  /// Validates an in-memory file. Errors start with "safetensors".
  static Expected<SafetensorsFile> parse(std::string bytes);

  /// All tensors, in data-offset order.
  const std::vector<TensorInfo> &tensors() const { return tensors_; }

  /// Tensor names, in data-offset order.
  std::vector<std::string> names() const;

  /// The entry named `name`, or null.
  const TensorInfo *find(std::string_view name) const;

  /// The entry named `name` with exactly `dtype` and `shape`; otherwise an
  /// Error such as "missing tensor 'NAME'" or "tensor 'NAME' has shape
  /// [768, 768], expected [768, 3072]".
  Expected<const TensorInfo *>
  requireTensor(std::string_view name, DType dtype,
                const std::vector<int64_t> &shape) const;

  /// The raw little-endian bytes of `tensor`, which must come from this
  /// file. The view lives as long as any copy of this file; it is not
  /// necessarily aligned (the format does not promise alignment).
  ByteView bytes(const TensorInfo &tensor) const;

  /// The elements of the F32, F16 or BF16 tensor `name` as f32, converted
  /// exactly. Other dtypes are an error (F64 would round).
  Expected<std::vector<float>> readF32(std::string_view name) const;

  /// The "__metadata__" entries (empty when absent).
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }

  /// Size of the data buffer in bytes.
  uint64_t dataSize() const { return dataSize_; }

private:
  struct Storage;
  static Expected<SafetensorsFile> parseStorage(std::shared_ptr<Storage> storage,
                                                std::string source);

  std::shared_ptr<Storage> storage_;
  /// The path, or "safetensors" for in-memory files: the prefix of errors.
  std::string source_;
  const uint8_t *data_ = nullptr;
  uint64_t dataSize_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

/// Builds a safetensors file and writes it atomically.
class SafetensorsWriter {
public:
  /// Copies `size` bytes at `data` as tensor `name`. Fails (and adds
  /// nothing) when the name is empty, "__metadata__" or already added, a dim
  /// is negative, or `size` is not product(shape) * dtypeSize(dtype).
  Error add(std::string name, DType dtype, std::vector<int64_t> shape,
            const void *data, size_t size);

  /// Sets a "__metadata__" entry, replacing an earlier value for `key`.
  /// Fails when the key is empty or either string is not valid UTF-8.
  Error setMetadata(std::string key, std::string value);

  /// The whole file in memory (for tests and small files).
  std::string serialize() const;

  /// Writes the file to `path` atomically (see FileIO.h): on failure an
  /// existing file at `path` is left intact.
  Error writeAtomically(const std::string &path) const;

private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  /// Returns the space-padded header and fills `order` with the entries in
  /// data order.
  std::string buildHeader(std::vector<const Entry *> &order) const;

  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_SAFETENSORS_H
