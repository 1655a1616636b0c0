//===- QBAttrs.cpp - qb dialect attributes -------------------------------===//
//
// Generated enum and attribute definitions of the qb dialect.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBAttrs.h"
#include "QuantBert/QBDialect.h"
#include "QuantBert/QBOps.h"

#include "quantbert/Support/QuantConfig.h"
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

// The dialect's enums are the MLIR-free ones of quantbert/Support/QuantConfig.h
// under generated names, value for value, so the precision rules are the
// Support library's and exist once.
namespace {
namespace support = ::quantbert;

#define QB_SAME_VALUE(ENUM, DIALECT, SUPPORT)                                  \
  static_assert(static_cast<int>(ENUM::DIALECT) ==                             \
                    static_cast<int>(support::ENUM::SUPPORT),                  \
                "qb::" #ENUM "::" #DIALECT " must equal " #SUPPORT)
QB_SAME_VALUE(Precision, f32, F32);
QB_SAME_VALUE(Precision, f16, F16);
QB_SAME_VALUE(Precision, bf16, BF16);
QB_SAME_VALUE(Precision, i8, I8);
QB_SAME_VALUE(Precision, ternary, Ternary);
QB_SAME_VALUE(Precision, binary, Binary);
QB_SAME_VALUE(Quantizer, symmetric_ema, SymmetricEma);
QB_SAME_VALUE(Quantizer, asymmetric_index, AsymmetricIndex);
QB_SAME_VALUE(Quantizer, twn, Twn);
QB_SAME_VALUE(Quantizer, binary_sign, BinarySign);
QB_SAME_VALUE(Quantizer, binary_mean_scale, BinaryMeanScale);
#undef QB_SAME_VALUE
static_assert(getMaxEnumValForPrecision() ==
                  static_cast<uint32_t>(support::Precision::Binary),
              "qb::Precision has a case quantbert::Precision lacks");
static_assert(getMaxEnumValForQuantizer() ==
                  static_cast<uint32_t>(support::Quantizer::BinaryMeanScale),
              "qb::Quantizer has a case quantbert::Quantizer lacks");

support::Precision toSupport(Precision precision) {
  return static_cast<support::Precision>(precision);
}
} // namespace

Precision quantbert::qb::precisionOfQuantizer(Quantizer quantizer) {
  return static_cast<Precision>(support::producedPrecision(
      static_cast<support::Quantizer>(quantizer)));
}

bool quantbert::qb::isFloatPrecision(Precision precision) {
  return support::isFloatPrecision(toSupport(precision));
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
  if (name == kLayerGroupAttrName) {
    auto group = dyn_cast<IntegerAttr>(attribute.getValue());
    if (!isa<EncoderLayerOp>(op))
      return op->emitError() << "'" << name << "' belongs on a qb.encoder_layer";
    if (!group || group.getInt() < 0)
      return op->emitError() << "'" << name
                             << "' must be a non-negative integer, got "
                             << attribute.getValue();
    return success();
  }
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
