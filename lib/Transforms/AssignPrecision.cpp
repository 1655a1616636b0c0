//===- AssignPrecision.cpp - qb-assign-precision --------------------------===//
//
// Assigns a precision to each encoder module (a layer's attention or FFN)
// by SensiMix's fixed policy, int8 everywhere, or by minimising the total
// measured sensitivity under a model-size budget (the exact solver of
// Support/PrecisionBudget.h, which the trainer's recipes share), and
// explains every choice with a remark.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Transforms/Passes.h"

#include "quantbert/Support/BitPacking.h"
#include "quantbert/Support/BlockSparse.h"
#include "quantbert/Support/PrecisionBudget.h"
#include "quantbert/Support/SensitivityReport.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>

namespace quantbert {
#define GEN_PASS_DEF_ASSIGNPRECISION
#include "quantbert/Transforms/Passes.h.inc"
} // namespace quantbert

using namespace mlir;
// The dialect's Precision and Quantizer, not the support library's
// namesakes (QuantConfig.h): no `using namespace quantbert`.
using namespace quantbert::qb;

namespace {


/// Storage bits per weight element at `precision`.
int64_t bitsPerWeight(Precision precision) {
  switch (precision) {
  case Precision::f32:
    return 32;
  case Precision::f16:
  case Precision::bf16:
    return 16;
  case Precision::i8:
    return 8;
  case Precision::ternary:
    return 2;
  case Precision::binary:
    return 1;
  }
  llvm_unreachable("unknown precision");
}

bool isQuantized(Precision precision) {
  return precision == Precision::i8 || precision == Precision::ternary ||
         precision == Precision::binary;
}

/// The quantizer a precision gets when the linear has no compatible one.
std::optional<Quantizer> defaultQuantizer(Precision precision) {
  switch (precision) {
  case Precision::i8:
    return Quantizer::symmetric_ema;
  case Precision::ternary:
    return Quantizer::twn;
  case Precision::binary:
    return Quantizer::binary_sign;
  default:
    return std::nullopt;
  }
}

bool quantizerFits(Quantizer quantizer, Precision precision) {
  switch (quantizer) {
  case Quantizer::symmetric_ema:
  case Quantizer::asymmetric_index:
    return precision == Precision::i8;
  case Quantizer::twn:
    return precision == Precision::ternary;
  case Quantizer::binary_sign:
  case Quantizer::binary_mean_scale:
    return precision == Precision::binary;
  }
  return false;
}

int64_t numElements(Value value) {
  return cast<ShapedType>(value.getType()).getNumElements();
}

/// Storage bits of an embedding table: int8 codes behind a qb.dequantize
/// count 8 bits plus their scales and zero points; a float table 32 bits,
/// or 8 plus one f32 scale per row when it is to become int8.
int64_t tableBits(Value table, bool toInt8) {
  if (DequantizeOp dequantize = getInt8Dequantize(table)) {
    QuantParams params = dequantize.getQuantParams();
    return numElements(table) * 8 +
           int64_t(params.scales.size() + params.zeroPoints.size()) * 32;
  }
  if (toInt8)
    return numElements(table) * 8 +
           cast<ShapedType>(table.getType()).getDimSize(0) * 32;
  return numElements(table) * 32;
}

/// A linear weight's 16 x 4 block structure, for the bytes it takes when
/// its int8 or ternary codes are stored block-sparse (the nonzero blocks
/// and a mask: what export writes, and the compiler keeps, for a pruned
/// weight).
struct WeightBlocks {
  int64_t elements = 0;
  /// Elements in the blocks with a nonzero weight, and the mask's bits.
  int64_t storedElements = 0;
  int64_t maskBits = 0;
  /// As 1-bit signs: the bits of the block-sparse form when whole blocks of
  /// 32 rows x 64 inputs are zero (qb-materialize-quant then always makes
  /// it block-sparse: a zero is no sign), else -1.
  int64_t binarySparseBits = -1;

  /// Storage bits at `bitsPerElement`: dense, or block-sparse when smaller.
  int64_t bits(int64_t bitsPerElement, bool mayBeSparse) const {
    int64_t dense = elements * bitsPerElement;
    if (!mayBeSparse)
      return dense;
    return std::min(dense, storedElements * bitsPerElement + maskBits);
  }
  /// Storage bits as packed signs.
  int64_t binaryBits() const {
    return binarySparseBits >= 0 ? binarySparseBits : bits(1, false);
  }
};

template <typename T>
void countBinaryBlocks(WeightBlocks &blocks, const T *values, int64_t rows,
                       int64_t cols) {
  std::vector<bool> stored = quantbert::storedBinaryBlocks(values, rows, cols);
  int64_t count = llvm::count(stored, true);
  if (count < static_cast<int64_t>(stored.size()))
    blocks.binarySparseBits =
        quantbert::binaryBlockSparseBytes(count, quantbert::binaryBlockRowCount(rows)) * 8;
}

/// The blocks of a linear's weight when its values are known at compile
/// time: a float constant, or the int8 codes behind a qb.dequantize with
/// zero points 0 and no offset (code 0 is weight 0). Otherwise every block
/// counts as nonzero.
WeightBlocks weightBlocks(Value weight) {
  auto type = cast<ShapedType>(weight.getType());
  WeightBlocks blocks;
  blocks.elements = type.getNumElements();
  blocks.storedElements = blocks.elements;
  if (type.getRank() != 2 || !type.hasStaticShape())
    return blocks;
  quantbert::BlockGrid grid{type.getDimSize(0), type.getDimSize(1),
                            quantbert::kSparseInt8BlockRows,
                            quantbert::kSparseInt8BlockCols};
  int64_t zero = -1;
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  if (std::optional<SmallVector<float>> values = getConstantFloats(weight)) {
    zero = quantbert::countZeroBlocks(values->data(), grid);
    countBinaryBlocks(blocks, values->data(), rows, cols);
  } else if (auto dequantize = weight.getDefiningOp<DequantizeOp>()) {
    QuantParams params = dequantize.getQuantParams();
    bool zeroIsZero = params.offset == 0.0f &&
                      llvm::all_of(params.zeroPoints,
                                   [](int32_t z) { return z == 0; });
    if (std::optional<SmallVector<int8_t>> codes =
            getConstantInt8s(dequantize.getInput());
        codes && zeroIsZero) {
      zero = quantbert::countZeroBlocks(codes->data(), grid);
      countBinaryBlocks(blocks, codes->data(), rows, cols);
    }
  }
  if (zero < 0)
    return blocks;
  blocks.storedElements = (grid.blockCount() - zero) * grid.blockSize();
  blocks.maskBits = grid.maskBytes() * 8;
  return blocks;
}

/// One assignable unit: the linears of one layer's attention or FFN; in a
/// weight-shared model, of one group's (qb.layer_group), in every layer
/// that runs the group, so the group gets one precision.
struct ModuleSlot {
  /// The layer, or the group of a weight-shared model.
  int64_t layer;
  LayerModule module;
  SmallVector<LinearOp> linears;
  int64_t outChannels = 0;
  /// The weights' block structure, each stored weight once.
  SmallVector<WeightBlocks> weights;
  /// Measured sensitivity per candidate precision (f32 is always 0).
  std::map<Precision, double> sensitivity;

  /// Storage bits at `precision`: int8 and ternary codes of pruned
  /// weights count block-sparse (16 x 4 blocks), binary signs too when
  /// whole 32 x 64 blocks are zero (floats cannot skip zeros), plus one f32
  /// scale per output channel when quantized.
  int64_t bits(Precision precision) const {
    bool sparse = precision == Precision::i8 || precision == Precision::ternary;
    int64_t total = 0;
    for (const WeightBlocks &weight : weights)
      total += precision == Precision::binary
                   ? weight.binaryBits()
                   : weight.bits(bitsPerWeight(precision), sparse);
    return total + (isQuantized(precision) ? outChannels * 32 : 0);
  }
  /// The layers whose linears these are (one, unless weights are shared).
  SmallVector<int64_t> runBy;

  std::string name() const {
    if (runBy.size() == 1 && runBy.front() == layer)
      return llvm::formatv("layer {0} {1}", layer, stringifyLayerModule(module));
    std::string layers;
    for (int64_t index : runBy)
      layers += (layers.empty() ? "" : ", ") + std::to_string(index);
    return llvm::formatv("layer group {0} {1} (layers {2})", layer,
                         stringifyLayerModule(module), layers);
  }
};

std::string formatBytes(int64_t bits) {
  return llvm::formatv("{0} bytes", (bits + 7) / 8);
}

class AssignPrecisionPass
    : public quantbert::impl::AssignPrecisionBase<AssignPrecisionPass> {
public:
  using AssignPrecisionBase::AssignPrecisionBase;

  void runOnOperation() override;

private:
  LogicalResult collectSlots(ModuleOp module);
  LogicalResult readSensitivity(ModuleOp module);
  LogicalResult assignSensiMix(ModuleOp module);
  LogicalResult assignInt8(ModuleOp module);
  LogicalResult assignUnderBudget(ModuleOp module);
  void apply(ModuleSlot &slot, Precision precision);
  /// "model N bytes = P% of FP32 M bytes", for the summary remarks.
  std::string modelSize(int64_t bits) const;

  /// Modules in (layer, module) order.
  llvm::MapVector<std::pair<int64_t, LayerModule>, ModuleSlot> slots;
  /// Bits of every parameter outside the slots, and the FP32 total.
  int64_t fixedBits = 0;
  int64_t fp32Bits = 0;
  /// embeddings=i8: the word and position tables become int8 per row.
  bool int8Embeddings = true;
};

} // namespace

LogicalResult AssignPrecisionPass::collectSlots(ModuleOp module) {
  std::map<std::pair<int64_t, LayerModule>, ModuleSlot> byPosition;
  // A tensor is counted once however many ops use it: by its constant's
  // attribute (the importer gives a shared tensor one blob, used by one
  // constant in each layer that runs it), else by the value.
  llvm::DenseSet<const void *> counted;
  auto firstUse = [&](Value value) {
    // Codes behind a qb.dequantize are the stored tensor.
    if (auto dequantize = value.getDefiningOp<DequantizeOp>())
      value = dequantize.getInput();
    if (auto constant = value.getDefiningOp<arith::ConstantOp>())
      return counted.insert(constant.getValue().getAsOpaquePointer()).second;
    return counted.insert(value.getAsOpaquePointer()).second;
  };
  // Counts `value` once, at `bitsPerElement`.
  auto countFixed = [&](Value value, int64_t bitsPerElement) {
    if (!value || !firstUse(value))
      return;
    fixedBits += numElements(value) * bitsPerElement;
    fp32Bits += numElements(value) * 32;
  };

  WalkResult walk = module.walk([&](Operation *op) -> WalkResult {
    if (auto linear = dyn_cast<LinearOp>(op)) {
      countFixed(linear.getBias(), 32);
      std::optional<LayerPosition> position = getLayerPosition(linear);
      if (!position) {
        countFixed(linear.getWeight(), bitsPerWeight(linear.getPrecision()));
        return WalkResult::advance();
      }
      if (std::optional<LayerModule> roleModule = linear.getRoleModule();
          roleModule && *roleModule != position->module)
        return linear.emitOpError()
               << "has role '" << stringifyLinearRole(*linear.getRole())
               << "' but sits in the "
               << stringifyLayerModule(position->module) << " region";
      ModuleSlot &slot = byPosition[{position->group, position->module}];
      slot.layer = position->group;
      slot.module = position->module;
      slot.linears.push_back(linear);
      if (!llvm::is_contained(slot.runBy, position->layer))
        slot.runBy.push_back(position->layer);
      if (firstUse(linear.getWeight())) {
        slot.weights.push_back(weightBlocks(linear.getWeight()));
        fp32Bits += numElements(linear.getWeight()) * 32;
        slot.outChannels += linear.getWeight().getType().getDimSize(0);
      }
      return WalkResult::advance();
    }
    if (auto embedding = dyn_cast<EmbeddingOp>(op)) {
      bool toInt8 = int8Embeddings || embedding.getPrecision() == Precision::i8;
      for (Value table : {embedding.getWords(), embedding.getPositions()}) {
        if (!cast<ShapedType>(table.getType()).hasStaticShape())
          return embedding.emitOpError()
                 << "needs static table shapes to size the model";
        if (!firstUse(table))
          continue;
        fixedBits += tableBits(table, toInt8);
        fp32Bits += numElements(table) * 32;
      }
      countFixed(embedding.getTokenTypes(), 32);
      return WalkResult::advance();
    }
    if (auto norm = dyn_cast<LayerNormOp>(op)) {
      countFixed(norm.getGamma(), 32);
      countFixed(norm.getBeta(), 32);
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  for (auto &[position, slot] : byPosition) {
    if (!cast<ShapedType>(slot.linears.front().getWeight().getType())
             .hasStaticShape())
      return slot.linears.front().emitOpError()
             << "needs a static weight shape to size its module";
    slots.insert({position, std::move(slot)});
  }
  return success();
}

LogicalResult AssignPrecisionPass::readSensitivity(ModuleOp module) {
  ArrayAttr entries;
  if (!sensitivityFile.empty()) {
    auto report = quantbert::SensitivityReport::load(sensitivityFile);
    if (!report)
      return module.emitError() << "qb-assign-precision: " << report.message();
    entries = buildSensitivityAttr(module.getContext(), *report);
  } else {
    // The dialect verified its form (QBDialect::verifyOperationAttribute).
    entries = module->getAttrOfType<ArrayAttr>(kSensitivityAttrName);
  }
  if (!entries)
    return module.emitError()
           << "qb-assign-precision: no sensitivity data; give sensitivity=FILE "
              "or add a '"
           << kSensitivityAttrName
           << "' module attribute (quant-bert-translate copies sensitivity.json "
              "there)";
  for (auto entry : entries.getAsRange<ModuleSensitivityAttr>()) {
    auto it = slots.find({entry.getLayer(), entry.getModule()});
    if (it == slots.end())
      continue; // Data for a module this model does not have (e.g. truncated).
    for (NamedAttribute loss : entry.getLosses())
      it->second.sensitivity[*symbolizePrecision(loss.getName().getValue())] =
          cast<FloatAttr>(loss.getValue()).getValueAsDouble();
  }
  return success();
}

void AssignPrecisionPass::apply(ModuleSlot &slot, Precision precision) {
  for (LinearOp linear : slot.linears) {
    MLIRContext *context = linear.getContext();
    linear.setPrecisionAttr(PrecisionAttr::get(context, precision));
    std::optional<Quantizer> current = linear.getQuantizer();
    if (current && quantizerFits(*current, precision))
      continue;
    if (std::optional<Quantizer> quantizer = defaultQuantizer(precision))
      linear.setQuantizerAttr(QuantizerAttr::get(context, *quantizer));
    else
      linear.removeQuantizerAttr();
  }
}

LogicalResult AssignPrecisionPass::assignSensiMix(ModuleOp module) {
  int64_t numLayers = 0;
  for (auto &entry : slots)
    numLayers = std::max(numLayers, entry.second.layer + 1);
  int64_t numMpLayers = mpLayers;
  if (numMpLayers < 0 || numMpLayers > numLayers)
    return module.emitError() << "qb-assign-precision: policy=sensimix needs "
                                 "mp-layers in [0, "
                              << numLayers << "], got " << numMpLayers;
  int64_t firstMpLayer = numLayers - numMpLayers;
  int64_t totalBits = fixedBits;
  for (auto &entry : slots) {
    ModuleSlot &slot = entry.second;
    bool binaryFfn =
        slot.module == LayerModule::ffn && slot.layer >= firstMpLayer;
    Precision precision = binaryFfn ? Precision::binary : Precision::i8;
    apply(slot, precision);
    totalBits += slot.bits(precision);
    InFlightDiagnostic remark = slot.linears.front().emitRemark();
    remark << slot.name() << ": " << stringifyPrecision(precision);
    if (slot.module == LayerModule::attention)
      remark << " (SensiMix: attention is 8-bit in every layer)";
    else if (binaryFfn)
      remark << " (SensiMix: 1-bit FFN in an MP layer; MP layers are >= "
             << firstMpLayer << ")";
    else
      remark << " (SensiMix: 8-bit FFN below the MP layers, which start at "
             << firstMpLayer << ")";
    remark << ", " << formatBytes(slot.bits(precision));
  }
  module.emitRemark() << "qb-assign-precision: SensiMix with " << numMpLayers
                      << " MP layers of " << numLayers << ": "
                      << modelSize(totalBits);
  return success();
}

std::string AssignPrecisionPass::modelSize(int64_t bits) const {
  return "model " + formatBytes(bits) + " = " +
         llvm::formatv("{0:F1}", 100.0 * double(bits) / double(fp32Bits))
             .str() +
         "% of FP32 " + formatBytes(fp32Bits);
}

LogicalResult AssignPrecisionPass::assignInt8(ModuleOp module) {
  int64_t totalBits = fixedBits;
  for (auto &entry : slots) {
    apply(entry.second, Precision::i8);
    totalBits += entry.second.bits(Precision::i8);
  }
  module.emitRemark() << "qb-assign-precision: every encoder linear i8 ("
                      << slots.size() << " modules): " << modelSize(totalBits);
  return success();
}

LogicalResult AssignPrecisionPass::assignUnderBudget(ModuleOp module) {
  if (!(budget > 0.0 && budget <= 1.0))
    return module.emitError()
           << "qb-assign-precision: budget must be in (0, 1], got "
           << llvm::formatv("{0:F2}", budget);
  if (failed(readSensitivity(module)))
    return failure();

  SmallVector<Precision> candidates;
  if (precisions.empty()) {
    candidates = {Precision::f32, Precision::i8, Precision::ternary,
                  Precision::binary};
  } else {
    for (const std::string &name : precisions) {
      std::optional<Precision> precision = symbolizePrecision(name);
      if (!precision)
        return module.emitError()
               << "qb-assign-precision: unknown precision '" << name
               << "' in precisions=";
      candidates.push_back(*precision);
    }
  }

  // The choices each module can take: a candidate with measured sensitivity.
  SmallVector<SmallVector<Precision>> choices;
  for (auto &entry : slots) {
    ModuleSlot &slot = entry.second;
    SmallVector<Precision> available;
    for (Precision precision : candidates)
      if (precision == Precision::f32 || slot.sensitivity.count(precision))
        available.push_back(precision);
    if (available.empty())
      return slot.linears.front().emitError()
             << "qb-assign-precision: " << slot.name()
             << " has no sensitivity for any candidate precision";
    choices.push_back(std::move(available));
  }

  // One unit per module: its candidates' bits and measured sensitivity.
  std::vector<std::vector<quantbert::BudgetOption>> units;
  for (auto [i, entry] : llvm::enumerate(slots)) {
    const ModuleSlot &slot = entry.second;
    std::vector<quantbert::BudgetOption> &options = units.emplace_back();
    for (Precision precision : choices[i])
      options.push_back({slot.bits(precision),
                         precision == Precision::f32
                             ? 0.0
                             : slot.sensitivity.at(precision)});
  }
  int64_t budgetBits = static_cast<int64_t>(budget * double(fp32Bits));
  std::optional<quantbert::BudgetSolution> best =
      quantbert::solvePrecisionBudget(units, fixedBits, budgetBits);
  if (!best) {
    int64_t smallest = quantbert::minimumBudgetBits(units, fixedBits);
    return module.emitError()
           << "qb-assign-precision: budget "
           << llvm::formatv("{0:F1}", 100.0 * budget) << "% of FP32 ("
           << budgetBits / 8 << " bytes) is infeasible: the smallest "
           << "assignment needs " << formatBytes(smallest) << " ("
           << llvm::formatv("{0:F1}",
                            100.0 * double(smallest) / double(fp32Bits))
           << "% of FP32)";
  }

  for (size_t i = 0; i < slots.size(); ++i) {
    ModuleSlot &slot = slots.begin()[i].second;
    Precision chosen = choices[i][best->picks[i]];
    apply(slot, chosen);
    InFlightDiagnostic remark = slot.linears.front().emitRemark();
    remark << slot.name() << ": " << stringifyPrecision(chosen)
           << ", sensitivity "
           << llvm::formatv("{0:F4}", chosen == Precision::f32
                                          ? 0.0
                                          : slot.sensitivity.at(chosen))
           << " at " << formatBytes(slot.bits(chosen)) << "; alternatives:";
    for (Precision other : choices[i]) {
      if (other == chosen)
        continue;
      double cost =
          other == Precision::f32 ? 0.0 : slot.sensitivity.at(other);
      remark << " " << stringifyPrecision(other) << " "
             << llvm::formatv("{0:F4}", cost) << " at "
             << formatBytes(slot.bits(other));
    }
    if (choices[i].size() == 1)
      remark << " none";
  }
  module.emitRemark() << "qb-assign-precision: " << slots.size()
                      << " modules, " << modelSize(best->bits) << " (budget "
                      << llvm::formatv("{0:F1}", 100.0 * budget)
                      << "%), total sensitivity "
                      << llvm::formatv("{0:F4}", best->cost);
  return success();
}

void AssignPrecisionPass::runOnOperation() {
  ModuleOp module = getOperation();
  slots.clear();
  fixedBits = 0;
  fp32Bits = 0;
  if (embeddings.getValue() != "i8" && embeddings.getValue() != "keep") {
    module.emitError() << "qb-assign-precision: embeddings must be 'i8' or "
                          "'keep', got '"
                       << embeddings << "'";
    return signalPassFailure();
  }
  int8Embeddings = embeddings.getValue() == "i8";
  if (failed(collectSlots(module)))
    return signalPassFailure();
  if (slots.empty()) {
    module.emitWarning() << "qb-assign-precision: no qb.linear inside a "
                            "qb.encoder_layer; nothing to assign";
    return;
  }
  LogicalResult result = failure();
  if (policy.getValue() == "sensimix")
    result = assignSensiMix(module);
  else if (policy.getValue() == "budget")
    result = assignUnderBudget(module);
  else if (policy.getValue() == "int8")
    result = assignInt8(module);
  else
    module.emitError() << "qb-assign-precision: unknown policy '" << policy
                       << "' (expected 'budget', 'sensimix' or 'int8')";
  if (failed(result))
    return signalPassFailure();
  // SensiMix and Q8BERT store the word and position embeddings in 8 bits;
  // qb-materialize-quant quantizes them.
  if (int8Embeddings)
    module.walk([&](EmbeddingOp embedding) {
      embedding.setPrecisionAttr(
          PrecisionAttr::get(embedding.getContext(), Precision::i8));
      embedding.emitRemark()
          << "word and position embeddings: i8 per row, "
          << formatBytes(tableBits(embedding.getWords(), true) +
                         tableBits(embedding.getPositions(), true))
          << " (embeddings=keep leaves them)";
    });
}
