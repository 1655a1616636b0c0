//===- QBAttrs.cpp - qb dialect attributes -------------------------------===//
//
// Generated enum and attribute definitions of the qb dialect.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBAttrs.h"
#include "QuantBert/QBDialect.h"

#include "quantbert/Support/SensitivityReport.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace quantbert::qb;

#include "QuantBert/QBEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "QuantBert/QBAttrs.cpp.inc"

Precision quantbert::qb::precisionOfQuantizer(Quantizer quantizer) {
  switch (quantizer) {
  case Quantizer::symmetric_ema:
  case Quantizer::asymmetric_index:
    return Precision::i8;
  case Quantizer::twn:
    return Precision::ternary;
  case Quantizer::binary_sign:
  case Quantizer::binary_mean_scale:
    return Precision::binary;
  }
  llvm_unreachable("unknown quantizer");
}

bool quantbert::qb::isFloatPrecision(Precision precision) {
  return precision == Precision::f32 || precision == Precision::f16 ||
         precision == Precision::bf16;
}

//===----------------------------------------------------------------------===//
// ModelAttr, ModuleSensitivityAttr and the module attributes holding them
//===----------------------------------------------------------------------===//

LogicalResult ModelAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t numLabels, int64_t vocabSize,
                                int64_t maxPositions, int64_t typeVocabSize,
                                ArrayAttr labels) {
  for (auto [name, value] :
       {std::pair{"num_labels", numLabels}, std::pair{"vocab_size", vocabSize},
        std::pair{"max_positions", maxPositions},
        std::pair{"type_vocab_size", typeVocabSize}})
    if (value <= 0)
      return emitError() << "#qb.model: " << name << " must be positive, got "
                         << value;
  if (labels) {
    if (static_cast<int64_t>(labels.size()) != numLabels)
      return emitError() << "#qb.model: labels has " << labels.size()
                         << " names, num_labels is " << numLabels;
    for (auto [index, label] : llvm::enumerate(labels))
      if (!llvm::isa<StringAttr>(label))
        return emitError() << "#qb.model: labels[" << index
                           << "] must be a string, got " << label;
  }
  return success();
}

LogicalResult
ModuleSensitivityAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                              int64_t layer, LayerModule module,
                              DictionaryAttr losses) {
  (void)module;
  if (layer < 0)
    return emitError() << "#qb.sensitivity: layer must be non-negative, got "
                       << layer;
  if (losses.empty())
    return emitError() << "#qb.sensitivity: losses must list at least one "
                          "precision";
  for (NamedAttribute loss : losses) {
    if (!symbolizePrecision(loss.getName().getValue()))
      return emitError() << "#qb.sensitivity: unknown precision '"
                         << loss.getName().getValue() << "' in losses";
    auto value = llvm::dyn_cast<FloatAttr>(loss.getValue());
    if (!value || !std::isfinite(value.getValueAsDouble()))
      return emitError() << "#qb.sensitivity: the loss of '"
                         << loss.getName().getValue()
                         << "' must be a finite float, got " << loss.getValue();
  }
  return success();
}

LogicalResult QBDialect::verifyOperationAttribute(Operation *op,
                                                  NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (name != kModelAttrName && name != kSensitivityAttrName)
    return success();
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << name << "' belongs on a builtin.module";
  if (name == kModelAttrName) {
    if (!isa<ModelAttr>(attribute.getValue()))
      return op->emitError() << "'" << name << "' must be a #qb.model, got "
                             << attribute.getValue();
    return success();
  }
  auto entries = dyn_cast<ArrayAttr>(attribute.getValue());
  if (!entries)
    return op->emitError() << "'" << name
                           << "' must be an array of #qb.sensitivity";
  llvm::DenseSet<std::pair<int64_t, unsigned>> seen;
  for (auto [index, entry] : llvm::enumerate(entries)) {
    auto sensitivity = dyn_cast<ModuleSensitivityAttr>(entry);
    if (!sensitivity)
      return op->emitError() << "'" << name << "'[" << index
                             << "] must be a #qb.sensitivity, got " << entry;
    if (!seen.insert({sensitivity.getLayer(),
                      static_cast<unsigned>(sensitivity.getModule())})
             .second)
      return op->emitError() << "'" << name << "'[" << index << "]: layer "
                             << sensitivity.getLayer() << " "
                             << stringifyLayerModule(sensitivity.getModule())
                             << " is listed twice";
  }
  return success();
}

ArrayAttr quantbert::qb::buildSensitivityAttr(
    MLIRContext *context, const quantbert::SensitivityReport &report) {
  Builder builder(context);
  SmallVector<Attribute> entries;
  for (const quantbert::ModuleSensitivity &measured : report.modules) {
    SmallVector<NamedAttribute> losses;
    // precisionName spells the dialect's #qb.precision keywords.
    for (auto [precision, increase] : measured.sensitivity)
      losses.push_back(builder.getNamedAttr(quantbert::precisionName(precision),
                                            builder.getF64FloatAttr(increase)));
    LayerModule module = measured.module == quantbert::BertModule::Attention
                             ? LayerModule::attention
                             : LayerModule::ffn;
    entries.push_back(ModuleSensitivityAttr::get(
        context, measured.layer, module, builder.getDictionaryAttr(losses)));
  }
  return builder.getArrayAttr(entries);
}

void QBDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "QuantBert/QBAttrs.cpp.inc"
      >();
}
