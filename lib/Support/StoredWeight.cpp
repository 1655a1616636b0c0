//===- StoredWeight.cpp - A bundle's quantized weight, decoded ------------===//

#include "quantbert/Support/StoredWeight.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/BlockSparse.h"
#include "quantbert/Support/Quantization.h"
#include "quantbert/Support/Safetensors.h"

#include <cstring>

using namespace quantbert;

namespace {

/// An I32 parameter given inline or as a tensor [] / [rows].
Expected<std::vector<int32_t>> readIntegers(const SafetensorsFile &file,
                                            const ScalarOrTensor &value,
                                            const std::string &where,
                                            const char *field) {
  if (value.value)
    return std::vector<int32_t>{static_cast<int32_t>(*value.value)};
  const TensorInfo *info = file.find(value.tensor);
  if (!info || info->dtype != DType::I32)
    return Error::failure(where + "'" + field + "': tensor '" + value.tensor +
                          "' is missing or not I32");
  ByteView bytes = file.bytes(*info);
  std::vector<int32_t> values(bytes.size / sizeof(int32_t));
  std::memcpy(values.data(), bytes.data, values.size() * sizeof(int32_t));
  return values;
}

/// A block-sparse weight's mask tensor: U8 [block rows, mask row bytes].
Expected<ByteView> readBlockMask(const SafetensorsFile &file,
                                 const std::string &name,
                                 const BlockGrid &grid,
                                 const std::string &where) {
  Expected<const TensorInfo *> mask = file.requireTensor(
      name, DType::U8, {grid.blockRowCount(), grid.maskRowBytes()});
  if (!mask)
    return Error::failure(where + mask.message());
  return file.bytes(**mask);
}

} // namespace

float StoredWeight::value(int64_t row, int64_t col) const {
  return dequantizeInt8(codes[size_t(row * cols + col)], scale(row),
                        zeroPoint(row), offset);
}

Expected<StoredWeight> quantbert::readStoredWeight(const SafetensorsFile &file,
                                                   const WeightQuant &quant,
                                                   int64_t rows, int64_t cols,
                                                   const std::string &where) {
  if (!quant.quantizer)
    return Error::failure(where + "a float weight has no codes to decode");
  StoredWeight weight;
  weight.quantizer = *quant.quantizer;
  weight.rows = rows;
  weight.cols = cols;
  weight.codes.resize(size_t(rows * cols));
  bool binary = isBinaryQuantizer(weight.quantizer);
  if (quant.sparsity && !binary) {
    // Block-sparse codes (BlockSparse.h): decoded to the dense matrix.
    BlockGrid grid{rows, cols, quant.sparsity->blockRows,
                   quant.sparsity->blockCols};
    Expected<ByteView> maskBytes =
        readBlockMask(file, quant.sparsity->mask, grid, where);
    if (!maskBytes)
      return maskBytes.error();
    const auto *maskData = reinterpret_cast<const uint8_t *>(maskBytes->data);
    int64_t stored = countStoredBlocks(maskData, int64_t(maskBytes->size));
    Expected<const TensorInfo *> blocks = file.requireTensor(
        quant.weight, DType::I8, {stored, grid.blockRows, grid.blockCols});
    if (!blocks)
      return Error::failure(where + blocks.message());
    ByteView blockBytes = file.bytes(**blocks);
    const auto *blockData = reinterpret_cast<const int8_t *>(blockBytes.data);
    std::string problem =
        checkPacked(maskData, int64_t(maskBytes->size), blockData,
                    int64_t(blockBytes.size), grid);
    if (!problem.empty())
      return Error::failure(where + "block-sparse '" + quant.weight + "': " +
                            problem);
    weight.codes = unpackBlocks(maskData, blockData, grid);
  }
  if (quant.sparsity && binary) {
    // Block-sparse signs (BlockSparse.h): 0 in the blocks not stored.
    BlockGrid grid = binaryBlockGrid(rows, cols);
    Expected<ByteView> maskBytes =
        readBlockMask(file, quant.sparsity->mask, grid, where);
    if (!maskBytes)
      return maskBytes.error();
    const auto *maskData = reinterpret_cast<const uint8_t *>(maskBytes->data);
    int64_t stored = countStoredBlocks(maskData, int64_t(maskBytes->size));
    Expected<const TensorInfo *> blocks = file.requireTensor(
        quant.weight, DType::I64, {stored, kBinaryBlockRows});
    if (!blocks)
      return Error::failure(where + blocks.message());
    ByteView blockBytes = file.bytes(**blocks);
    std::vector<uint64_t> words(size_t(blockBytes.size) / 8);
    std::memcpy(words.data(), blockBytes.data, words.size() * 8);
    std::string problem =
        checkPackedBinary(maskData, int64_t(maskBytes->size), words.data(),
                          int64_t(words.size()), rows, cols);
    if (!problem.empty())
      return Error::failure(where + "block-sparse '" + quant.weight + "': " +
                            problem);
    weight.codes = unpackBinaryBlocks(maskData, words.data(), rows, cols);
  }
  if (!quant.sparsity) {
    Expected<const TensorInfo *> info =
        binary ? file.requireTensor(quant.weight, DType::I64,
                                    {rows, packedWordCount(cols)})
               : file.requireTensor(quant.weight, DType::I8, {rows, cols});
    if (!info)
      return Error::failure(where + info.message());
    ByteView bytes = file.bytes(**info);
    if (binary) {
      int64_t words = packedWordCount(cols);
      std::vector<uint64_t> row(static_cast<size_t>(words));
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(row.data(), bytes.data + r * words * 8, size_t(words) * 8);
        for (int64_t c = 0; c < cols; ++c)
          weight.codes[size_t(r * cols + c)] =
              static_cast<int8_t>(unpackSign(row.data(), c));
      }
    } else {
      std::memcpy(weight.codes.data(), bytes.data, weight.codes.size());
    }
  }

  weight.scales = {1.0f};
  if (!quant.scale.empty()) {
    Expected<std::vector<float>> scales = file.readF32(quant.scale);
    if (!scales)
      return Error::failure(where + scales.message());
    weight.scales = std::move(*scales);
  }
  if (quant.zeroPoint) {
    Expected<std::vector<int32_t>> zeroPoints =
        readIntegers(file, *quant.zeroPoint, where, "zero_point");
    if (!zeroPoints)
      return zeroPoints.error();
    weight.zeroPoints = std::move(*zeroPoints);
  }
  if (quant.offset) {
    if (quant.offset->value) {
      weight.offset = float(*quant.offset->value);
    } else {
      Expected<std::vector<float>> offsets = file.readF32(quant.offset->tensor);
      if (!offsets)
        return Error::failure(where + offsets.message());
      if (offsets->size() != 1)
        return Error::failure(where + "'offset': one value per tensor, got " +
                              std::to_string(offsets->size()));
      weight.offset = offsets->front();
    }
  }
  auto perTensorOrRow = [&](size_t size) { return size == 1 || int64_t(size) == rows; };
  if (!perTensorOrRow(weight.scales.size()) ||
      !(weight.zeroPoints.empty() || perTensorOrRow(weight.zeroPoints.size())))
    return Error::failure(where + "'scale' and 'zero_point' need 1 or " +
                          std::to_string(rows) + " values");
  return weight;
}
