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

#endif // QUANTBERT_DIALECT_QB_QBATTRS_H
