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

namespace quantbert::qb {

/// f32, f16 and bf16: a float qb.linear, no quantizer.
bool isFloatPrecision(Precision precision);

/// The precision a quantizer produces: the only precision a qb.linear with
/// that quantizer may carry.
Precision precisionOfQuantizer(Quantizer quantizer);

} // namespace quantbert::qb

#endif // QUANTBERT_DIALECT_QB_QBATTRS_H
