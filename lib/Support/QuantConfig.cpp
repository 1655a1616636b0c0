//===- QuantConfig.cpp - quant.json ---------------------------------------===//
//
// Parsing is strict: these files are quant-bert's own contract, so unknown
// keys are errors (a misspelled "zeropoint" must not silently mean "no zero
// point"). Parsing fills the structs field by field; the precision/quantizer
// rules live in validate(), which both the parser and save() run, so a file
// quant-bert writes is always one it accepts. sensitivity.json is
// SensitivityReport.cpp.
//
// Just over 600 lines because it is one file format: the parser, the field
// rules (validate) and the tensor rules (checkTensors) of the table in
// docs/formats.md, which must change together.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/BlockSparse.h"
#include "quantbert/Support/FileIO.h"
#include "quantbert/Support/JsonFields.h"
#include "quantbert/Support/Safetensors.h"

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <set>
#include <sstream>

using namespace quantbert;
using namespace quantbert::json_fields;

namespace {

constexpr std::pair<Precision, const char *> kPrecisions[] = {
    {Precision::F32, "f32"},         {Precision::F16, "f16"},
    {Precision::BF16, "bf16"},       {Precision::I8, "i8"},
    {Precision::Ternary, "ternary"}, {Precision::Binary, "binary"},
};
constexpr std::pair<Quantizer, const char *> kQuantizers[] = {
    {Quantizer::SymmetricEma, "symmetric-ema"},
    {Quantizer::AsymmetricIndex, "asymmetric-index"},
    {Quantizer::Twn, "twn"},
    {Quantizer::BinarySign, "binary-sign"},
    {Quantizer::BinaryMeanScale, "binary-mean-scale"},
};

std::string quote(std::string_view text) {
  return "'" + std::string(text) + "'";
}

Expected<ScalarOrTensor> readScalarOrTensor(const Json &value,
                                            const std::string &where,
                                            std::string_view key) {
  ScalarOrTensor result;
  if (value.is_string() && !value.get<std::string>().empty()) {
    result.tensor = value.get<std::string>();
    return result;
  }
  if (value.is_number() && std::isfinite(value.get<double>())) {
    result.value = value.get<double>();
    return result;
  }
  return fieldError(where, key, "must be a number or a tensor name", value);
}

Json scalarOrTensorJson(const ScalarOrTensor &item) {
  if (item.value)
    return *item.value;
  return item.tensor;
}

/// Reads the fields WeightQuant shares between linears and embeddings.
Error readWeightQuant(const Json &entry, const std::string &where,
                      WeightQuant &quant) {
  if (!entry.contains("precision"))
    return missingField(where, "precision");
  const Json &precision = entry["precision"];
  std::optional<Precision> parsedPrecision =
      precision.is_string() ? parsePrecision(precision.get<std::string>())
                            : std::nullopt;
  if (!parsedPrecision)
    return fieldError(where, "precision",
                      "must be one of \"f32\", \"f16\", \"bf16\", \"i8\", "
                      "\"ternary\", \"binary\"",
                      precision);
  quant.precision = *parsedPrecision;

  if (entry.contains("quantizer")) {
    const Json &quantizer = entry["quantizer"];
    std::optional<Quantizer> parsed =
        quantizer.is_string() ? parseQuantizer(quantizer.get<std::string>())
                              : std::nullopt;
    if (!parsed)
      return fieldError(where, "quantizer",
                        "must be one of \"symmetric-ema\", "
                        "\"asymmetric-index\", \"twn\", \"binary-sign\", "
                        "\"binary-mean-scale\"",
                        quantizer);
    quant.quantizer = *parsed;
  }

  if (!entry.contains("weight"))
    return missingField(where, "weight");
  Expected<std::string> weight = readName(entry["weight"], where, "weight");
  if (!weight)
    return weight.error();
  quant.weight = *weight;
  if (entry.contains("scale")) {
    Expected<std::string> scale = readName(entry["scale"], where, "scale");
    if (!scale)
      return scale.error();
    quant.scale = *scale;
  }
  if (entry.contains("zero_point")) {
    Expected<ScalarOrTensor> zeroPoint =
        readScalarOrTensor(entry["zero_point"], where, "zero_point");
    if (!zeroPoint)
      return zeroPoint.error();
    quant.zeroPoint = *zeroPoint;
  }
  if (entry.contains("offset")) {
    Expected<ScalarOrTensor> offset =
        readScalarOrTensor(entry["offset"], where, "offset");
    if (!offset)
      return offset.error();
    quant.offset = *offset;
  }
  return Error::success();
}

/// A linear's "sparsity": {"block": [R, C], "mask": "<tensor>"}.
Expected<BlockSparsity> readSparsity(const Json &value,
                                     const std::string &where) {
  if (!value.is_object())
    return fieldError(where, "sparsity", "must be an object", value);
  std::string at = where + "'sparsity': ";
  if (Error err = rejectUnknownKeys(value, at, {"block", "mask"}))
    return err;
  BlockSparsity sparsity;
  if (!value.contains("block"))
    return missingField(at, "block");
  const Json &block = value["block"];
  if (!block.is_array() || block.size() != 2)
    return fieldError(at, "block",
                      "must be [rows, cols] (two positive integers)", block);
  for (auto [index, field] : {std::pair<size_t, int64_t *>{0, &sparsity.blockRows},
                              {1, &sparsity.blockCols}}) {
    Expected<int64_t> size = readInteger(block[index], at, "block", 1);
    if (!size)
      return size.error();
    *field = *size;
  }
  if (!value.contains("mask"))
    return missingField(at, "mask");
  Expected<std::string> mask = readName(value["mask"], at, "mask");
  if (!mask)
    return mask.error();
  sparsity.mask = *mask;
  return sparsity;
}

/// The precision/quantizer/parameter rules of docs/formats.md.
Error validateWeightQuant(const WeightQuant &quant, const std::string &where) {
  std::string precision(precisionName(quant.precision));
  if (quant.weight.empty())
    return missingField(where, "weight");
  if (isFloatPrecision(quant.precision)) {
    if (quant.quantizer)
      return Error::failure(where + "precision '" + precision +
                            "' takes no quantizer, got '" +
                            std::string(quantizerName(*quant.quantizer)) + "'");
    if (!quant.scale.empty() || quant.zeroPoint || quant.offset)
      return Error::failure(where + "precision '" + precision +
                            "' takes no scale, zero_point or offset");
    return Error::success();
  }
  if (!quant.quantizer)
    return Error::failure(where + "precision '" + precision +
                          "' needs field 'quantizer'");
  Quantizer quantizer = *quant.quantizer;
  std::string name(quantizerName(quantizer));
  if (producedPrecision(quantizer) != quant.precision)
    return Error::failure(where + "quantizer '" + name +
                          "' produces precision '" +
                          std::string(precisionName(producedPrecision(quantizer))) +
                          "', not '" + precision + "'");
  bool needsScale = quantizer != Quantizer::BinarySign;
  if (needsScale && quant.scale.empty())
    return Error::failure(where + "quantizer '" + name +
                          "' needs field 'scale'");
  if (!needsScale && !quant.scale.empty())
    return Error::failure(where + "quantizer 'binary-sign' takes no scale "
                                  "(use 'binary-mean-scale')");
  bool isAsymmetric = quantizer == Quantizer::AsymmetricIndex;
  for (const auto &[key, field] :
       {std::pair<const char *, const std::optional<ScalarOrTensor> *>{
            "zero_point", &quant.zeroPoint},
        {"offset", &quant.offset}}) {
    if (isAsymmetric && !*field)
      return Error::failure(where + "quantizer 'asymmetric-index' needs field '" +
                            key + "'");
    if (!isAsymmetric && *field)
      return Error::failure(where + "quantizer '" + name +
                            "' takes no field '" + key + "'");
  }
  if (quant.zeroPoint && quant.zeroPoint->value) {
    double zeroPoint = *quant.zeroPoint->value;
    if (zeroPoint != static_cast<double>(static_cast<int64_t>(zeroPoint)) ||
        zeroPoint < -128 || zeroPoint > 127)
      return fieldError(where, "zero_point",
                        "must be an integer in [-128, 127]", zeroPoint);
  }
  return Error::success();
}

Json weightQuantJson(const WeightQuant &quant) {
  Json entry = {{"precision", precisionName(quant.precision)},
                {"weight", quant.weight}};
  if (quant.quantizer)
    entry["quantizer"] = quantizerName(*quant.quantizer);
  if (!quant.scale.empty())
    entry["scale"] = quant.scale;
  if (quant.zeroPoint)
    entry["zero_point"] = scalarOrTensorJson(*quant.zeroPoint);
  if (quant.offset)
    entry["offset"] = scalarOrTensorJson(*quant.offset);
  return entry;
}

/// Checks the tensors one entry names against the weights file.
class TensorChecker {
public:
  TensorChecker(const SafetensorsFile &weights, std::string where)
      : weights_(weights), where_(std::move(where)) {}

  Error require(const std::string &name, DType dtype,
                const std::vector<int64_t> &shape) const {
    const TensorInfo *tensor = weights_.find(name);
    if (!tensor)
      return Error::failure(where_ + "missing tensor " + quote(name));
    if (tensor->dtype != dtype)
      return Error::failure(where_ + "tensor " + quote(name) + " has dtype " +
                            std::string(dtypeName(tensor->dtype)) +
                            ", expected " + std::string(dtypeName(dtype)));
    if (tensor->shape != shape)
      return Error::failure(where_ + "tensor " + quote(name) + " has shape " +
                            formatShape(tensor->shape) + ", expected " +
                            formatShape(shape));
    return Error::success();
  }

  /// A per-tensor ([]) or per-row ([rows]) parameter.
  Error requireParameter(const std::string &name, DType dtype,
                         int64_t rows) const {
    const TensorInfo *tensor = weights_.find(name);
    if (tensor && tensor->dtype == dtype && tensor->shape.empty())
      return Error::success();
    Error perRow = require(name, dtype, {rows});
    if (perRow && tensor && tensor->dtype == dtype)
      return Error::failure(where_ + "tensor " + quote(name) + " has shape " +
                            formatShape(tensor->shape) + ", expected [] or [" +
                            std::to_string(rows) + "]");
    return perRow;
  }

  /// Block-sparse codes (BlockSparse.h): the mask U8 [block rows, mask row
  /// bytes], the codes I8 [its set bits, block rows, block cols], zero past
  /// the matrix.
  /// The mask of a block-sparse weight, U8 [block rows, mask row bytes].
  Expected<ByteView> requireBlockMask(const BlockSparsity &sparsity,
                                      const BlockGrid &grid) const {
    if (Error err = require(sparsity.mask, DType::U8,
                            {grid.blockRowCount(), grid.maskRowBytes()}))
      return err;
    return weights_.bytes(*weights_.find(sparsity.mask));
  }

  Error requireBlockSparse(const std::string &name,
                           const BlockSparsity &sparsity,
                           const BlockGrid &grid) const {
    Expected<ByteView> maskBytes = requireBlockMask(sparsity, grid);
    if (!maskBytes)
      return maskBytes.error();
    ByteView mask = *maskBytes;
    int64_t stored = countStoredBlocks(
        reinterpret_cast<const uint8_t *>(mask.data), int64_t(mask.size));
    if (Error err = require(name, DType::I8,
                            {stored, grid.blockRows, grid.blockCols}))
      return err;
    ByteView codes = weights_.bytes(*weights_.find(name));
    std::string problem = checkPacked(
        reinterpret_cast<const uint8_t *>(mask.data), int64_t(mask.size),
        reinterpret_cast<const int8_t *>(codes.data), int64_t(codes.size),
        grid);
    if (!problem.empty())
      return Error::failure(where_ + "block-sparse tensors " + quote(name) +
                            " and " + quote(sparsity.mask) + ": " + problem);
    return Error::success();
  }

  /// Block-sparse 1-bit signs (BlockSparse.h): the mask U8 [block rows,
  /// mask row bytes], the words I64 [its set bits, 32], zero past the
  /// matrix.
  Error requireBlockSparseBinary(const std::string &name,
                                 const BlockSparsity &sparsity, int64_t rows,
                                 int64_t cols) const {
    Expected<ByteView> maskBytes =
        requireBlockMask(sparsity, binaryBlockGrid(rows, cols));
    if (!maskBytes)
      return maskBytes.error();
    ByteView mask = *maskBytes;
    int64_t stored = countStoredBlocks(
        reinterpret_cast<const uint8_t *>(mask.data), int64_t(mask.size));
    if (Error err = require(name, DType::I64, {stored, kBinaryBlockRows}))
      return err;
    ByteView words = weights_.bytes(*weights_.find(name));
    std::vector<uint64_t> aligned(size_t(words.size) / 8);
    std::memcpy(aligned.data(), words.data, aligned.size() * 8);
    std::string problem = checkPackedBinary(
        reinterpret_cast<const uint8_t *>(mask.data), int64_t(mask.size),
        aligned.data(), int64_t(aligned.size()), rows, cols);
    if (!problem.empty())
      return Error::failure(where_ + "block-sparse tensors " + quote(name) +
                            " and " + quote(sparsity.mask) + ": " + problem);
    return Error::success();
  }

  /// Ternary codes are -1, 0 or +1.
  Error requireTernaryCodes(const std::string &name) const {
    ByteView codes = weights_.bytes(*weights_.find(name));
    for (size_t i = 0; i < codes.size; ++i) {
      int8_t code = static_cast<int8_t>(codes.data[i]);
      if (code < -1 || code > 1)
        return Error::failure(where_ + "tensor " + quote(name) +
                              " holds ternary code " + std::to_string(code) +
                              " at index " + std::to_string(i) +
                              "; codes must be -1, 0 or +1");
    }
    return Error::success();
  }

  /// Every value of the F32 parameter `name` is finite (and, with
  /// `positive`, > 0): scales divide, and the compiler's qb.dequantize
  /// rejects anything else.
  Error requireFiniteValues(const std::string &name, bool positive) const {
    Expected<std::vector<float>> values = weights_.readF32(name);
    if (!values)
      return Error::failure(where_ + values.message());
    for (size_t i = 0; i < values->size(); ++i) {
      float value = (*values)[i];
      if (std::isfinite(value) && (!positive || value > 0))
        continue;
      std::ostringstream text;
      text << value;
      return Error::failure(where_ + "tensor " + quote(name) + " holds " +
                            text.str() + " at index " + std::to_string(i) +
                            (positive ? "; scales must be finite and positive"
                                      : "; values must be finite"));
    }
    return Error::success();
  }

  /// Every value of the I32 zero-point tensor `name` is in [-128, 127].
  Error requireInt8Range(const std::string &name) const {
    ByteView bytes = weights_.bytes(*weights_.find(name));
    for (size_t i = 0; i < bytes.size / 4; ++i) {
      int32_t value;
      std::memcpy(&value, bytes.data + 4 * i, 4);
      if (value < -128 || value > 127)
        return Error::failure(where_ + "tensor " + quote(name) + " holds " +
                              std::to_string(value) + " at index " +
                              std::to_string(i) +
                              "; zero points must be in [-128, 127]");
    }
    return Error::success();
  }

  /// BitPacking.h pads each row's last word with zero bits.
  Error requireZeroPadding(const std::string &name, int64_t rows,
                           int64_t cols) const {
    int64_t tail = cols % kBitsPerPackedWord;
    if (tail == 0)
      return Error::success();
    ByteView words = weights_.bytes(*weights_.find(name));
    int64_t wordsPerRow = packedWordCount(cols);
    for (int64_t row = 0; row < rows; ++row) {
      uint64_t last;
      std::memcpy(&last, words.data + 8 * (row * wordsPerRow + wordsPerRow - 1),
                  sizeof(last));
      if (last >> tail)
        return Error::failure(where_ + "tensor " + quote(name) + " row " +
                              std::to_string(row) +
                              " has padding bits set past column " +
                              std::to_string(cols) +
                              " (BitPacking.h pads with zeros)");
    }
    return Error::success();
  }

private:
  const SafetensorsFile &weights_;
  std::string where_;
};

Error checkWeightTensors(const WeightQuant &quant, int64_t rows, int64_t cols,
                         const TensorChecker &checker) {
  const std::optional<BlockSparsity> &sparsity = quant.sparsity;
  static const std::map<Precision, DType> kFloatDTypes = {
      {Precision::F32, DType::F32},
      {Precision::F16, DType::F16},
      {Precision::BF16, DType::BF16}};
  switch (quant.precision) {
  case Precision::F32:
  case Precision::F16:
  case Precision::BF16:
    return checker.require(quant.weight, kFloatDTypes.at(quant.precision),
                           {rows, cols});
  case Precision::I8:
  case Precision::Ternary:
    if (sparsity) {
      if (Error err = checker.requireBlockSparse(quant.weight, *sparsity,
                                                 BlockGrid{rows, cols,
                                                           sparsity->blockRows,
                                                           sparsity->blockCols}))
        return err;
    } else if (Error err =
                   checker.require(quant.weight, DType::I8, {rows, cols})) {
      return err;
    }
    if (quant.precision == Precision::Ternary)
      if (Error err = checker.requireTernaryCodes(quant.weight))
        return err;
    break;
  case Precision::Binary:
    if (sparsity)
      return checker.requireBlockSparseBinary(quant.weight, *sparsity, rows,
                                              cols);
    if (Error err = checker.require(quant.weight, DType::I64,
                                    {rows, packedWordCount(cols)}))
      return err;
    if (Error err = checker.requireZeroPadding(quant.weight, rows, cols))
      return err;
    break;
  }
  if (!quant.scale.empty()) {
    if (Error err = checker.requireParameter(quant.scale, DType::F32, rows))
      return err;
    if (Error err = checker.requireFiniteValues(quant.scale, /*positive=*/true))
      return err;
  }
  if (quant.zeroPoint && !quant.zeroPoint->tensor.empty()) {
    if (Error err =
            checker.requireParameter(quant.zeroPoint->tensor, DType::I32, rows))
      return err;
    if (Error err = checker.requireInt8Range(quant.zeroPoint->tensor))
      return err;
  }
  // One offset per tensor: qb.dequantize has one, and SensiMix's index
  // format is per tensor.
  if (quant.offset && !quant.offset->tensor.empty())
    if (Error err = checker.require(quant.offset->tensor, DType::F32, {}))
      return err;
  if (quant.offset && !quant.offset->tensor.empty())
    if (Error err = checker.requireFiniteValues(quant.offset->tensor,
                                                /*positive=*/false))
      return err;
  return Error::success();
}

std::string entryWhere(const std::string &source, const char *section,
                       const std::string &name) {
  return source + ": " + section + "['" + name + "']: ";
}

Expected<QuantConfig> parseQuantConfig(const Json &root,
                                       const std::string &source) {
  std::string where = source + ": ";
  if (Error err = rejectUnknownKeys(
          root, where, {"format_version", "recipe", "linears", "embeddings"}))
    return err;
  QuantConfig config;
  Expected<int64_t> version = readFormatVersion(root, where, kQuantFormatVersion);
  if (!version)
    return version.error();
  if (!root.contains("recipe"))
    return missingField(where, "recipe");
  Expected<std::string> recipe = readName(root["recipe"], where, "recipe");
  if (!recipe)
    return recipe.error();
  config.recipe = *recipe;

  if (!root.contains("linears"))
    return missingField(where, "linears");
  if (!root["linears"].is_object())
    return fieldError(where, "linears", "must be an object", root["linears"]);
  for (const auto &[name, entry] : root["linears"].items()) {
    std::string at = entryWhere(source, "linears", name);
    if (!entry.is_object())
      return Error::failure(at + "entry must be an object, got " +
                            describe(entry));
    if (Error err = rejectUnknownKeys(
            entry, at,
            {"precision", "quantizer", "weight", "scale", "zero_point",
             "offset", "bias", "input_scale", "in_features", "out_features",
             "sparsity"}))
      return err;
    LinearQuant linear;
    if (Error err = readWeightQuant(entry, at, linear))
      return err;
    for (const auto &[key, field] :
         {std::pair<const char *, int64_t *>{"in_features", &linear.inFeatures},
          {"out_features", &linear.outFeatures}}) {
      if (!entry.contains(key))
        return missingField(at, key);
      Expected<int64_t> value = readInteger(entry[key], at, key, 1);
      if (!value)
        return value.error();
      *field = *value;
    }
    if (entry.contains("bias")) {
      Expected<std::string> bias = readName(entry["bias"], at, "bias");
      if (!bias)
        return bias.error();
      linear.bias = *bias;
    }
    if (entry.contains("input_scale")) {
      Expected<double> scale =
          readNumber(entry["input_scale"], at, "input_scale", true);
      if (!scale)
        return scale.error();
      linear.inputScale = *scale;
    }
    if (entry.contains("sparsity")) {
      Expected<BlockSparsity> sparsity = readSparsity(entry["sparsity"], at);
      if (!sparsity)
        return sparsity.error();
      linear.sparsity = *sparsity;
    }
    config.linears.emplace(name, std::move(linear));
  }

  if (root.contains("embeddings")) {
    if (!root["embeddings"].is_object())
      return fieldError(where, "embeddings", "must be an object",
                        root["embeddings"]);
    for (const auto &[name, entry] : root["embeddings"].items()) {
      std::string at = entryWhere(source, "embeddings", name);
      if (!entry.is_object())
        return Error::failure(at + "entry must be an object, got " +
                              describe(entry));
      if (Error err = rejectUnknownKeys(
              entry, at,
              {"precision", "quantizer", "weight", "scale", "zero_point",
               "offset", "num_embeddings", "embedding_dim"}))
        return err;
      EmbeddingQuant embedding;
      if (Error err = readWeightQuant(entry, at, embedding))
        return err;
      for (const auto &[key, field] :
           {std::pair<const char *, int64_t *>{"num_embeddings",
                                               &embedding.numEmbeddings},
            {"embedding_dim", &embedding.embeddingDim}}) {
        if (!entry.contains(key))
          return missingField(at, key);
        Expected<int64_t> value = readInteger(entry[key], at, key, 1);
        if (!value)
          return value.error();
        *field = *value;
      }
      config.embeddings.emplace(name, std::move(embedding));
    }
  }
  if (Error err = config.validate(source))
    return err;
  return config;
}

} // namespace

std::string_view quantbert::precisionName(Precision precision) {
  for (const auto &[value, name] : kPrecisions)
    if (value == precision)
      return name;
  return "?";
}

std::optional<Precision> quantbert::parsePrecision(std::string_view name) {
  for (const auto &[value, spelling] : kPrecisions)
    if (name == spelling)
      return value;
  return std::nullopt;
}

std::string_view quantbert::quantizerName(Quantizer quantizer) {
  for (const auto &[value, name] : kQuantizers)
    if (value == quantizer)
      return name;
  return "?";
}

std::optional<Quantizer> quantbert::parseQuantizer(std::string_view name) {
  for (const auto &[value, spelling] : kQuantizers)
    if (name == spelling)
      return value;
  return std::nullopt;
}

bool quantbert::isFloatPrecision(Precision precision) {
  return precision == Precision::F32 || precision == Precision::F16 ||
         precision == Precision::BF16;
}

Precision quantbert::producedPrecision(Quantizer quantizer) {
  switch (quantizer) {
  case Quantizer::SymmetricEma:
  case Quantizer::AsymmetricIndex:
    return Precision::I8;
  case Quantizer::Twn:
    return Precision::Ternary;
  case Quantizer::BinarySign:
  case Quantizer::BinaryMeanScale:
    return Precision::Binary;
  }
  return Precision::F32;
}

bool quantbert::isBinaryQuantizer(Quantizer quantizer) {
  return producedPrecision(quantizer) == Precision::Binary;
}

//===----------------------------------------------------------------------===//
// QuantConfig
//===----------------------------------------------------------------------===//

Expected<QuantConfig> QuantConfig::fromJson(std::string_view text,
                                            const std::string &source) {
  return parseDocument<QuantConfig>(text, source, parseQuantConfig);
}

Expected<QuantConfig> QuantConfig::load(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  return fromJson(*text, path);
}

Error QuantConfig::validate(const std::string &source) const {
  if (formatVersion != kQuantFormatVersion)
    return fieldError(source + ": ", "format_version",
                      "must be " + std::to_string(kQuantFormatVersion),
                      formatVersion);
  if (recipe.empty())
    return fieldError(source + ": ", "recipe", "must be a non-empty string",
                      recipe);
  for (const auto &[name, linear] : linears) {
    std::string at = entryWhere(source, "linears", name);
    if (name.empty())
      return Error::failure(source + ": linears: module path is empty");
    if (linear.inFeatures <= 0 || linear.outFeatures <= 0)
      return Error::failure(at + "fields 'in_features' and 'out_features' "
                                 "must be positive integers");
    if (Error err = validateWeightQuant(linear, at))
      return err;
    if (linear.inputScale) {
      // Both run on qb.int8_linear, which quantizes its input statically.
      if (linear.precision != Precision::I8 &&
          linear.precision != Precision::Ternary)
        return Error::failure(at + "field 'input_scale' applies to precisions "
                                   "'i8' and 'ternary' only, not '" +
                              std::string(precisionName(linear.precision)) +
                              "'");
      if (!(*linear.inputScale > 0) || !std::isfinite(*linear.inputScale))
        return fieldError(at, "input_scale", "must be a positive number",
                          *linear.inputScale);
    }
    if (linear.sparsity) {
      // Codes one byte each (int8 and ternary), or packed signs in blocks
      // of the binary kernel.
      bool binary = linear.precision == Precision::Binary;
      if (!binary && linear.precision != Precision::I8 &&
          linear.precision != Precision::Ternary)
        return Error::failure(at + "field 'sparsity' applies to precisions "
                                   "'i8', 'ternary' and 'binary' only, not '" +
                              std::string(precisionName(linear.precision)) +
                              "'");
      if (linear.sparsity->blockRows <= 0 || linear.sparsity->blockCols <= 0)
        return Error::failure(at + "'sparsity': field 'block' must be two "
                                   "positive integers");
      if (binary && (linear.sparsity->blockRows != kBinaryBlockRows ||
                     linear.sparsity->blockCols != kBitsPerPackedWord))
        return Error::failure(
            at + "'sparsity': a binary weight's block must be [" +
            std::to_string(kBinaryBlockRows) + ", " +
            std::to_string(kBitsPerPackedWord) + "] (the binary kernel's), got [" +
            std::to_string(linear.sparsity->blockRows) + ", " +
            std::to_string(linear.sparsity->blockCols) + "]");
      if (linear.sparsity->mask.empty())
        return missingField(at + "'sparsity': ", "mask");
    }
  }
  for (const auto &[name, embedding] : embeddings) {
    std::string at = entryWhere(source, "embeddings", name);
    if (name.empty())
      return Error::failure(source + ": embeddings: module path is empty");
    if (embedding.numEmbeddings <= 0 || embedding.embeddingDim <= 0)
      return Error::failure(at + "fields 'num_embeddings' and 'embedding_dim' "
                                 "must be positive integers");
    if (Error err = validateWeightQuant(embedding, at))
      return err;
    if (embedding.sparsity)
      return Error::failure(at + "field 'sparsity' applies to linears only");
  }
  return Error::success();
}

Error QuantConfig::checkTensors(const SafetensorsFile &weights,
                                const std::string &source) const {
  for (const auto &[name, linear] : linears) {
    TensorChecker checker(weights, entryWhere(source, "linears", name));
    if (Error err = checkWeightTensors(linear, linear.outFeatures,
                                       linear.inFeatures, checker))
      return err;
    if (!linear.bias.empty())
      if (Error err =
              checker.require(linear.bias, DType::F32, {linear.outFeatures}))
        return err;
  }
  for (const auto &[name, embedding] : embeddings) {
    TensorChecker checker(weights, entryWhere(source, "embeddings", name));
    if (Error err = checkWeightTensors(embedding, embedding.numEmbeddings,
                                       embedding.embeddingDim, checker))
      return err;
  }
  return Error::success();
}

std::string QuantConfig::toJson() const {
  Json linearsJson = Json::object();
  for (const auto &[name, linear] : linears) {
    Json entry = weightQuantJson(linear);
    entry["in_features"] = linear.inFeatures;
    entry["out_features"] = linear.outFeatures;
    if (!linear.bias.empty())
      entry["bias"] = linear.bias;
    if (linear.inputScale)
      entry["input_scale"] = *linear.inputScale;
    if (linear.sparsity)
      entry["sparsity"] = {
          {"block", {linear.sparsity->blockRows, linear.sparsity->blockCols}},
          {"mask", linear.sparsity->mask}};
    linearsJson[name] = std::move(entry);
  }
  Json root = {{"format_version", formatVersion},
               {"recipe", recipe},
               {"linears", std::move(linearsJson)}};
  if (!embeddings.empty()) {
    Json embeddingsJson = Json::object();
    for (const auto &[name, embedding] : embeddings) {
      Json entry = weightQuantJson(embedding);
      entry["num_embeddings"] = embedding.numEmbeddings;
      entry["embedding_dim"] = embedding.embeddingDim;
      embeddingsJson[name] = std::move(entry);
    }
    root["embeddings"] = std::move(embeddingsJson);
  }
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Error QuantConfig::save(const std::string &path) const {
  if (Error err = validate(path))
    return err;
  return saveDocument(path, toJson());
}
