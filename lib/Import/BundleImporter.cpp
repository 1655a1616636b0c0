//===- BundleImporter.cpp - Hugging Face checkpoints and bundles to qb ----===//
//
// Reads a BERT sequence-classification checkpoint directory (config.json +
// model.safetensors, Hugging Face layout) and, when present, quant.json and
// sensitivity.json of a compressed bundle, and builds a qb module with one
// function:
//
//   func.func @forward(%input_ids, %token_type_ids, %attention_mask)
//       -> tensor<?xLABELSxf32>   (logits)
//
// in the float-level form later passes expect: embeddings, one
// qb.encoder_layer per layer with the unfused attention chain, pooler and
// classifier. Weights become dense_resource blobs. Quantized weights of a
// bundle stay codes behind a qb.dequantize, and each linear carries the
// precision, quantizer and input scale quant.json gives it; binary weights
// are unpacked to +-1 codes (qb-materialize-quant packs them again, exactly).
// Structurally pruned layers (pruned_heads, intermediate_sizes) get their
// own widths, and a low-rank factorized linear becomes two qb.linear ops.
// A weight-shared model (num_hidden_groups) runs its group's tensors in each
// of the group's layers: every tensor of model.safetensors becomes one
// dense_resource blob however many ops use it, so the compiled object stores
// it once. Narrower embeddings (embedding_size) are normalized at their width
// and projected by embedding_hidden_mapping_in, a qb.linear with no role.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Import/BundleImporter.h"

#include "QuantBert/QBOps.h"
#include "quantbert/Support/BertConfig.h"
#include "quantbert/Support/QuantConfig.h"
#include "quantbert/Support/SensitivityReport.h"
#include "quantbert/Support/Safetensors.h"
#include "quantbert/Support/StoredWeight.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace quantbert::qb;
using quantbert::BertConfig;
using quantbert::BundleImportOptions;
using quantbert::EmbeddingQuant;
using quantbert::LinearQuant;
using quantbert::QuantConfig;
using quantbert::SafetensorsFile;
using quantbert::SensitivityReport;

namespace {

/// The support library's precision as the dialect's.
Precision toDialect(quantbert::Precision precision) {
  switch (precision) {
  case quantbert::Precision::F32:
    return Precision::f32;
  case quantbert::Precision::F16:
    return Precision::f16;
  case quantbert::Precision::BF16:
    return Precision::bf16;
  case quantbert::Precision::I8:
    return Precision::i8;
  case quantbert::Precision::Ternary:
    return Precision::ternary;
  case quantbert::Precision::Binary:
    return Precision::binary;
  }
  llvm_unreachable("unknown precision");
}

Quantizer toDialect(quantbert::Quantizer quantizer) {
  switch (quantizer) {
  case quantbert::Quantizer::SymmetricEma:
    return Quantizer::symmetric_ema;
  case quantbert::Quantizer::AsymmetricIndex:
    return Quantizer::asymmetric_index;
  case quantbert::Quantizer::Twn:
    return Quantizer::twn;
  case quantbert::Quantizer::BinarySign:
    return Quantizer::binary_sign;
  case quantbert::Quantizer::BinaryMeanScale:
    return Quantizer::binary_mean_scale;
  }
  llvm_unreachable("unknown quantizer");
}

class Importer {
public:
  Importer(MLIRContext *context, const std::string &directory,
           const BundleImportOptions &options)
      : context(context), builder(context), directory(directory),
        options(options),
        loc(FileLineColLoc::get(context, directory, 0, 0)) {}

  OwningOpRef<ModuleOp> run();

private:
  LogicalResult load();
  InFlightDiagnostic error() { return emitError(loc, "bundle '") << directory << "': "; }

  /// Tensor names, with or without the "bert." prefix of
  /// BertForSequenceClassification checkpoints.
  std::string bertName(const std::string &suffix) const {
    return bertPrefix + suffix;
  }

  /// An f32 constant from an F32/F16/BF16 tensor of exactly `shape`.
  FailureOr<Value> floatTensor(const std::string &name,
                               ArrayRef<int64_t> shape);
  /// The first of `names` present in the checkpoint (LayerNorm weight/gamma).
  FailureOr<Value> floatTensorAnyOf(ArrayRef<std::string> names,
                                    ArrayRef<int64_t> shape);
  FailureOr<Value> constant(RankedTensorType type, const std::string &name,
                            ArrayRef<char> bytes, size_t alignment);

  /// y = x W^T + b for the linear at module path `module`: one qb.linear,
  /// or two for a low-rank factorized linear (config.json's
  /// low_rank_linears): `<module>.down` (in -> rank, no bias), then
  /// `<module>` (rank -> out, the bias), both with the role.
  FailureOr<Value> linear(Value input, const std::string &module, int64_t out,
                          int64_t in, LinearRole role);
  /// One qb.linear of the tensors (and quant.json entry) of `module`.
  FailureOr<Value> singleLinear(Value input, const std::string &module,
                                int64_t out, int64_t in,
                                std::optional<LinearRole> role);
  FailureOr<Value> quantizedWeight(const quantbert::WeightQuant &entry,
                                   const std::string &module, int64_t out,
                                   int64_t in);
  /// The table of the nn.Embedding at module path `module`: a constant, or
  /// qb.dequantize of its codes when quant.json quantizes it (the lowering
  /// then gathers codes, so the table stays 8-bit in the object).
  FailureOr<Value> embeddingTable(const std::string &module, int64_t rows,
                                  int64_t cols);
  /// LayerNorm over the last dimension, `width` wide (hidden_size when 0).
  FailureOr<Value> layerNorm(Value input, const std::string &prefix,
                             int64_t width = 0);
  FailureOr<Value> encoderLayer(Value hidden, Value mask, int64_t index);
  FailureOr<Value> attention(Value hidden, Value mask,
                             const std::string &prefix, int64_t layer);
  FailureOr<Value> feedForward(Value hidden, const std::string &prefix,
                               int64_t layer);

  RankedTensorType hiddenType() {
    return RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic, config.hiddenSize},
        builder.getF32Type());
  }

  MLIRContext *context;
  OpBuilder builder;
  std::string directory;
  BundleImportOptions options;
  Location loc;

  BertConfig config;
  std::optional<SafetensorsFile> weights;
  std::optional<QuantConfig> quant;
  std::optional<SensitivityReport> sensitivity;
  std::string bertPrefix = "bert.";
  /// The blob of each tensor made a constant so far, by tensor name: a
  /// tensor several layers share is one blob.
  llvm::StringMap<DenseResourceElementsAttr> blobs;
};

LogicalResult Importer::load() {
  auto path = [&](const char *file) {
    SmallString<256> joined(directory);
    llvm::sys::path::append(joined, file);
    return std::string(joined);
  };
  if (!llvm::sys::fs::is_directory(directory))
    return error() << "not a directory";
  auto loadedConfig = BertConfig::load(path("config.json"));
  if (!loadedConfig)
    return error() << loadedConfig.message();
  config = std::move(*loadedConfig);
  auto loadedWeights = SafetensorsFile::open(path("model.safetensors"));
  if (!loadedWeights)
    return error() << loadedWeights.message();
  weights = std::move(*loadedWeights);
  if (!weights->find("bert.embeddings.word_embeddings.weight")) {
    if (!weights->find("embeddings.word_embeddings.weight"))
      return error() << "model.safetensors: missing tensor "
                        "'bert.embeddings.word_embeddings.weight' (not a BERT "
                        "checkpoint?)";
    bertPrefix = ""; // a bare BertModel checkpoint
  }
  if (llvm::sys::fs::exists(path("quant.json"))) {
    auto loadedQuant = QuantConfig::load(path("quant.json"));
    if (!loadedQuant)
      return error() << loadedQuant.message();
    if (quantbert::Error err = loadedQuant->checkTensors(*weights))
      return error() << err.message();
    quant = std::move(*loadedQuant);
  }
  if (llvm::sys::fs::exists(path("sensitivity.json"))) {
    auto loadedSensitivity = SensitivityReport::load(path("sensitivity.json"));
    if (!loadedSensitivity)
      return error() << loadedSensitivity.message();
    sensitivity = std::move(*loadedSensitivity);
    // A weight-shared model's report measures its groups; one measured on
    // the unshared model would be read as the wrong layers. (An unshared
    // model may carry its teacher's report of more layers: those entries
    // are ignored, as for a truncated student.)
    for (const quantbert::ModuleSensitivity &entry : sensitivity->modules)
      if (config.isShared() && entry.layer >= config.storedLayers())
        return error() << "sensitivity.json measures layer " << entry.layer
                       << ", but the weight-shared model stores "
                       << config.storedLayers()
                       << " layer groups (measure the shared model)";
  }
  // A weight-shared config over a checkpoint with a tensor per layer would
  // silently run only the first groups' layers.
  if (config.isShared()) {
    std::string prefix = bertName("encoder.layer.");
    for (const std::string &name : weights->names()) {
      if (name.rfind(prefix, 0) != 0)
        continue;
      int64_t layer = std::atoll(name.c_str() + prefix.size());
      if (layer >= config.storedLayers())
        return error() << "model.safetensors has tensor '" << name
                       << "', but config.json's num_hidden_groups ("
                       << config.numHiddenGroups << ") stores layers 0 to "
                       << config.storedLayers() - 1;
    }
  }
  return success();
}

FailureOr<Value> Importer::constant(RankedTensorType type,
                                    const std::string &name,
                                    ArrayRef<char> bytes, size_t alignment) {
  DenseResourceElementsAttr &attr = blobs[name];
  if (!attr || attr.getType() != type) {
    AsmResourceBlob blob =
        HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, alignment);
    attr = DenseResourceElementsAttr::get(type, name, std::move(blob));
  }
  return builder.create<arith::ConstantOp>(loc, attr).getResult();
}

FailureOr<Value> Importer::floatTensor(const std::string &name,
                                       ArrayRef<int64_t> shape) {
  const quantbert::TensorInfo *info = weights->find(name);
  if (!info)
    return error() << "model.safetensors: missing tensor '" << name << "'";
  if (info->shape != std::vector<int64_t>(shape.begin(), shape.end()))
    return error() << "model.safetensors: tensor '" << name << "' has shape "
                   << quantbert::formatShape(info->shape) << ", expected "
                   << quantbert::formatShape(
                          std::vector<int64_t>(shape.begin(), shape.end()));
  auto values = weights->readF32(name);
  if (!values)
    return error() << values.message();
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  return constant(type, name,
                  ArrayRef<char>(reinterpret_cast<const char *>(values->data()),
                                 values->size() * sizeof(float)),
                  alignof(float));
}

FailureOr<Value> Importer::floatTensorAnyOf(ArrayRef<std::string> names,
                                            ArrayRef<int64_t> shape) {
  for (const std::string &name : names)
    if (weights->find(name))
      return floatTensor(name, shape);
  return error() << "model.safetensors: missing tensor '" << names.front()
                 << "'";
}

FailureOr<Value> Importer::quantizedWeight(const quantbert::WeightQuant &entry,
                                           const std::string &module,
                                           int64_t out, int64_t in) {
  auto weightType = RankedTensorType::get({out, in}, builder.getF32Type());
  if (!entry.quantizer)
    return floatTensor(entry.weight, {out, in});
  // Checked by QuantConfig::checkTensors before import.
  auto stored = quantbert::readStoredWeight(*weights, entry, out, in,
                                            "quant.json: '" + module + "': ");
  if (!stored)
    return error() << stored.message();
  SmallVector<float> scales(stored->scales.begin(), stored->scales.end());
  SmallVector<int32_t> zeroPoints(stored->zeroPoints.begin(),
                                  stored->zeroPoints.end());
  float offset = stored->offset;
  if (zeroPoints.size() == 1 && scales.size() > 1)
    zeroPoints.assign(scales.size(), zeroPoints.front());
  if (scales.size() == 1 && zeroPoints.size() > 1)
    scales.assign(zeroPoints.size(), scales.front());
  // Binary codes are the unpacked +-1 signs: the float-level weight is
  // scale * sign, which qb-materialize-quant packs back bit for bit.
  auto type = RankedTensorType::get({out, in}, builder.getI8Type());
  auto codes = constant(type, entry.weight,
                        ArrayRef<char>(reinterpret_cast<const char *>(
                                           stored->codes.data()),
                                       stored->codes.size()),
                        1);
  if (failed(codes))
    return failure();
  std::optional<uint64_t> axis;
  if (scales.size() > 1)
    axis = 0;
  return builder
      .create<DequantizeOp>(
          loc, weightType, *codes, builder.getDenseF32ArrayAttr(scales),
          zeroPoints.empty() ? DenseI32ArrayAttr()
                             : builder.getDenseI32ArrayAttr(zeroPoints),
          builder.getF32FloatAttr(offset),
          axis ? builder.getI64IntegerAttr(*axis) : IntegerAttr())
      .getResult();
}

FailureOr<Value> Importer::embeddingTable(const std::string &module,
                                          int64_t rows, int64_t cols) {
  const EmbeddingQuant *entry = nullptr;
  if (quant)
    if (auto it = quant->embeddings.find(module); it != quant->embeddings.end())
      entry = &it->second;
  if (!entry)
    return floatTensor(module + ".weight", {rows, cols});
  if (entry->numEmbeddings != rows || entry->embeddingDim != cols)
    return error() << "quant.json: '" << module << "' is "
                   << entry->numEmbeddings << " x " << entry->embeddingDim
                   << ", the model needs " << rows << " x " << cols;
  return quantizedWeight(*entry, module, rows, cols);
}

FailureOr<Value> Importer::linear(Value input, const std::string &module,
                                  int64_t out, int64_t in, LinearRole role) {
  // low_rank_linears names BertForSequenceClassification's module paths.
  int64_t rank = config.rankOf(bertPrefix.empty() ? "bert." + module : module);
  if (rank == 0)
    return singleLinear(input, module, out, in, role);
  auto reduced = singleLinear(input, module + ".down", rank, in, role);
  if (failed(reduced))
    return failure();
  return singleLinear(*reduced, module, out, rank, role);
}

FailureOr<Value> Importer::singleLinear(Value input, const std::string &module,
                                        int64_t out, int64_t in,
                                        std::optional<LinearRole> role) {
  const LinearQuant *entry = nullptr;
  if (quant)
    if (auto it = quant->linears.find(module); it != quant->linears.end())
      entry = &it->second;
  if (entry && (entry->outFeatures != out || entry->inFeatures != in))
    return error() << "quant.json: '" << module << "' is " << entry->outFeatures
                   << " x " << entry->inFeatures << ", the model needs " << out
                   << " x " << in;

  FailureOr<Value> weight = entry ? quantizedWeight(*entry, module, out, in)
                                  : floatTensor(module + ".weight", {out, in});
  if (failed(weight))
    return failure();
  Value bias;
  std::string biasName = entry ? entry->bias : module + ".bias";
  if (!biasName.empty() && (entry || weights->find(biasName))) {
    auto loaded = floatTensor(biasName, {out});
    if (failed(loaded))
      return failure();
    bias = *loaded;
  }

  auto inputType = cast<RankedTensorType>(input.getType());
  SmallVector<int64_t> shape(inputType.getShape());
  shape.back() = out;
  auto resultType = RankedTensorType::get(shape, builder.getF32Type());
  auto op = builder.create<LinearOp>(
      loc, resultType, input, *weight, bias,
      PrecisionAttr::get(context, Precision::f32), QuantizerAttr(),
      role ? LinearRoleAttr::get(context, *role) : LinearRoleAttr(),
      FloatAttr());
  if (entry) {
    op.setPrecisionAttr(PrecisionAttr::get(context, toDialect(entry->precision)));
    if (entry->quantizer)
      op.setQuantizerAttr(QuantizerAttr::get(context, toDialect(*entry->quantizer)));
    if (entry->inputScale)
      op.setInputScaleAttr(builder.getF32FloatAttr(*entry->inputScale));
  }
  return op.getResult();
}

FailureOr<Value> Importer::layerNorm(Value input, const std::string &prefix,
                                     int64_t width) {
  int64_t hidden = width ? width : config.hiddenSize;
  auto gamma = floatTensorAnyOf({prefix + ".weight", prefix + ".gamma"}, {hidden});
  auto beta = floatTensorAnyOf({prefix + ".bias", prefix + ".beta"}, {hidden});
  if (failed(gamma) || failed(beta))
    return failure();
  return builder
      .create<LayerNormOp>(loc, input, *gamma, *beta,
                           builder.getF64FloatAttr(config.layerNormEps))
      .getResult();
}

FailureOr<Value> Importer::attention(Value hidden, Value mask,
                                     const std::string &prefix, int64_t layer) {
  // A layer with pruned heads (config.json's pruned_heads) keeps `heads` of
  // them: Q, K and V are heads * d wide, and so is the output projection's
  // input.
  int64_t h = config.hiddenSize, heads = config.numHeads(layer);
  int64_t d = config.headSize(), width = heads * d;
  std::string self = prefix + "attention.self.";
  auto q = linear(hidden, self + "query", width, h, LinearRole::query);
  auto k = linear(hidden, self + "key", width, h, LinearRole::key);
  auto v = linear(hidden, self + "value", width, h, LinearRole::value);
  if (failed(q) || failed(k) || failed(v))
    return failure();
  int64_t dyn = ShapedType::kDynamic;
  auto f32 = builder.getF32Type();
  auto headsType = RankedTensorType::get({dyn, heads, dyn, d}, f32);
  auto scoresType = RankedTensorType::get({dyn, heads, dyn, dyn}, f32);
  auto split = [&](Value x) {
    return builder
        .create<SplitHeadsOp>(loc, headsType, x, builder.getI64IntegerAttr(heads))
        .getResult();
  };
  Value qh = split(*q), kh = split(*k), vh = split(*v);
  Value scores = builder.create<BatchMatmulOp>(loc, scoresType, qh, kh,
                                               builder.getUnitAttr());
  scores = builder.create<ScaleOp>(
      loc, scores, builder.getF32FloatAttr(1.0f / std::sqrt(float(d))));
  scores = builder.create<AttentionMaskOp>(loc, scoresType, scores, mask,
                                           builder.getF32FloatAttr(-10000.0f));
  Value probs = builder.create<SoftmaxOp>(loc, scores);
  Value context = builder.create<BatchMatmulOp>(loc, headsType, probs, vh,
                                                UnitAttr());
  auto mergedType = RankedTensorType::get({dyn, dyn, width}, f32);
  Value merged = builder.create<MergeHeadsOp>(loc, mergedType, context);
  auto projected = linear(merged, prefix + "attention.output.dense", h, width,
                          LinearRole::attention_output);
  if (failed(projected))
    return failure();
  Value residual = builder.create<AddOp>(loc, *projected, hidden);
  return layerNorm(residual, prefix + "attention.output.LayerNorm");
}

FailureOr<Value> Importer::feedForward(Value hidden, const std::string &prefix,
                                       int64_t layer) {
  int64_t h = config.hiddenSize, i = config.ffnWidth(layer);
  auto intermediate = linear(hidden, prefix + "intermediate.dense", i, h,
                             LinearRole::intermediate);
  if (failed(intermediate))
    return failure();
  GeluApproximation approximation =
      config.hiddenAct == quantbert::HiddenAct::GeluTanh ? GeluApproximation::tanh
                                                         : GeluApproximation::erf;
  Value activated = builder.create<GeluOp>(
      loc, *intermediate, GeluApproximationAttr::get(context, approximation));
  auto output = linear(activated, prefix + "output.dense", h, i,
                       LinearRole::output);
  if (failed(output))
    return failure();
  Value residual = builder.create<AddOp>(loc, *output, hidden);
  return layerNorm(residual, prefix + "output.LayerNorm");
}

FailureOr<Value> Importer::encoderLayer(Value hidden, Value mask,
                                        int64_t index) {
  // A weight-shared layer reads its group's tensors.
  std::string prefix = bertName("encoder.layer." +
                                std::to_string(config.groupOf(index)) + ".");
  auto layer = builder.create<EncoderLayerOp>(
      loc, hiddenType(), hidden, mask, builder.getI64IntegerAttr(index));
  if (config.isShared())
    layer->setAttr(kLayerGroupAttrName,
                   builder.getI64IntegerAttr(config.groupOf(index)));
  OpBuilder::InsertionGuard guard(builder);

  Block *attentionBlock = builder.createBlock(&layer.getAttention());
  Value h = attentionBlock->addArgument(hiddenType(), loc);
  Value m = attentionBlock->addArgument(mask.getType(), loc);
  auto attended = attention(h, m, prefix, index);
  if (failed(attended))
    return failure();
  builder.create<YieldOp>(loc, *attended);

  Block *ffnBlock = builder.createBlock(&layer.getFfn());
  Value a = ffnBlock->addArgument(hiddenType(), loc);
  auto transformed = feedForward(a, prefix, index);
  if (failed(transformed))
    return failure();
  builder.create<YieldOp>(loc, *transformed);
  return layer.getResult();
}

OwningOpRef<ModuleOp> Importer::run() {
  if (failed(load()))
    return nullptr;
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  builder.setInsertionPointToEnd(module->getBody());

  int64_t dyn = ShapedType::kDynamic;
  auto idsType = RankedTensorType::get({dyn, dyn}, builder.getI32Type());
  auto logitsType =
      RankedTensorType::get({dyn, config.numLabels}, builder.getF32Type());
  auto function = builder.create<func::FuncOp>(
      loc, options.functionName,
      builder.getFunctionType({idsType, idsType, idsType}, {logitsType}));
  function.setArgAttr(0, "qb.name", builder.getStringAttr("input_ids"));
  function.setArgAttr(1, "qb.name", builder.getStringAttr("token_type_ids"));
  function.setArgAttr(2, "qb.name", builder.getStringAttr("attention_mask"));
  Block *entry = function.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  Value ids = entry->getArgument(0), types = entry->getArgument(1),
        mask = entry->getArgument(2);

  int64_t h = config.hiddenSize, e = config.embeddingWidth();
  auto words = embeddingTable(bertName("embeddings.word_embeddings"),
                              config.vocabSize, e);
  if (failed(words))
    return nullptr;
  auto positions = embeddingTable(bertName("embeddings.position_embeddings"),
                                  config.maxPositionEmbeddings, e);
  if (failed(positions))
    return nullptr;
  auto tokenTypes = embeddingTable(bertName("embeddings.token_type_embeddings"),
                                   config.typeVocabSize, e);
  if (failed(tokenTypes))
    return nullptr;
  // precision<i8> says both the word and the position table are int8 codes
  // (a bundle with only one of them quantized keeps the default f32, so
  // qb-materialize-quant does not quantize the other).
  auto isInt8Table = [](Value table) {
    auto dequantize = table.getDefiningOp<DequantizeOp>();
    return dequantize &&
           dequantize.getInput().getType().getElementType().isInteger(8);
  };
  PrecisionAttr tablePrecision;
  if (isInt8Table(*words) && isInt8Table(*positions))
    tablePrecision = PrecisionAttr::get(context, Precision::i8);
  auto embeddedType = RankedTensorType::get({dyn, dyn, e}, builder.getF32Type());
  Value hidden = builder.create<EmbeddingOp>(loc, embeddedType, ids, types,
                                             *words, *positions, *tokenTypes,
                                             tablePrecision);
  auto normed = layerNorm(hidden, bertName("embeddings.LayerNorm"), e);
  if (failed(normed))
    return nullptr;
  hidden = *normed;
  if (config.hasEmbeddingProjection()) {
    auto projected =
        singleLinear(hidden, bertName("encoder.embedding_hidden_mapping_in"),
                     h, e, std::nullopt);
    if (failed(projected))
      return nullptr;
    hidden = *projected;
  }
  for (int64_t layer = 0; layer < config.numHiddenLayers; ++layer) {
    auto next = encoderLayer(hidden, mask, layer);
    if (failed(next))
      return nullptr;
    hidden = *next;
  }

  // Pooler: tanh(W h[:, 0] + b); classifier: W pooled + b.
  OpFoldResult batch = builder.create<tensor::DimOp>(loc, hidden, 0).getResult();
  auto firstTokenType = RankedTensorType::get({dyn, h}, builder.getF32Type());
  Value first = builder.create<tensor::ExtractSliceOp>(
      loc, firstTokenType, hidden,
      ArrayRef<OpFoldResult>{builder.getIndexAttr(0), builder.getIndexAttr(0),
                             builder.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{batch, builder.getIndexAttr(1),
                             builder.getIndexAttr(h)},
      ArrayRef<OpFoldResult>{builder.getIndexAttr(1), builder.getIndexAttr(1),
                             builder.getIndexAttr(1)});
  auto pooled = linear(first, bertName("pooler.dense"), h, h, LinearRole::pooler);
  if (failed(pooled))
    return nullptr;
  Value activated = builder.create<math::TanhOp>(loc, *pooled);
  auto logits = linear(activated, "classifier", config.numLabels, h,
                       LinearRole::classifier);
  if (failed(logits))
    return nullptr;
  builder.create<func::ReturnOp>(loc, *logits);

  // Sensitivity data for qb-assign-precision, per stored layer (the groups
  // of a weight-shared model, which qb.layer_group names).
  if (sensitivity)
    (*module)->setAttr(kSensitivityAttrName,
                       buildSensitivityAttr(context, *sensitivity));
  // config.json's label names, in class order (absent without id2label:
  // quant-bert-compile then names them LABEL_0, ... as transformers does).
  ArrayAttr labels;
  if (!config.id2label.empty()) {
    SmallVector<Attribute> names;
    for (int64_t index = 0; index < config.numLabels; ++index)
      names.push_back(builder.getStringAttr(config.labelName(index)));
    labels = builder.getArrayAttr(names);
  }
  (*module)->setAttr(kModelAttrName,
                     ModelAttr::get(context, config.numLabels,
                                    config.vocabSize,
                                    config.maxPositionEmbeddings,
                                    config.typeVocabSize, labels));
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace

OwningOpRef<ModuleOp>
quantbert::importBundle(MLIRContext *context, const std::string &directory,
                        const BundleImportOptions &options) {
  context->loadDialect<QBDialect, arith::ArithDialect, func::FuncDialect,
                       math::MathDialect, tensor::TensorDialect>();
  return Importer(context, directory, options).run();
}
