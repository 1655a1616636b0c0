//===- QBAttrs.h - qb dialect attributes -------------------------*- C++ -*-===//
//
// The qb enumerations (precision, quantizer, linear role, layer module, GELU
// approximation) and their attributes, generated from QBAttrs.td.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_DIALECT_QB_QBATTRS_H
#define QUANTBERT_DIALECT_QB_QBATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "QuantBert/QBEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "QuantBert/QBAttrs.h.inc"

namespace quantbert {
struct SensitivityReport;
} // namespace quantbert

namespace quantbert::qb {

/// The module attributes import sets: a #qb.model and an array of
/// #qb.sensitivity (QBDialect::verifyOperationAttribute checks both).
constexpr llvm::StringLiteral kModelAttrName = "qb.model";
constexpr llvm::StringLiteral kSensitivityAttrName = "qb.sensitivity";
/// On a qb.encoder_layer of a weight-shared model: the stored layer (group)
/// whose weights it runs, a non-negative integer. Layers of one group are
/// one unit for precision assignment, and sensitivity data is per group.
constexpr llvm::StringLiteral kLayerGroupAttrName = "qb.layer_group";

/// sensitivity.json (quantbert/Support/SensitivityReport.h) as the
/// `qb.sensitivity` array: the one translation, used by the importer and by
/// qb-assign-precision's `sensitivity=` option.
mlir::ArrayAttr buildSensitivityAttr(mlir::MLIRContext *context,
                                     const quantbert::SensitivityReport &report);

/// f32, f16 and bf16: a float qb.linear, no quantizer.
bool isFloatPrecision(Precision precision);

/// The precision a quantizer produces: the only precision a qb.linear with
/// that quantizer may carry.
Precision precisionOfQuantizer(Quantizer quantizer);

} // namespace quantbert::qb

#endif // QUANTBERT_DIALECT_QB_QBATTRS_H
