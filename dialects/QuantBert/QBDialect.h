//===- QBDialect.h - The qb dialect ------------------------------*- C++ -*-===//
//
// Declares the qb dialect class (generated from QBBase.td).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_DIALECT_QB_QBDIALECT_H
#define QUANTBERT_DIALECT_QB_QBDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Dialect.h"

#include "QuantBert/QBDialect.h.inc"

#endif // QUANTBERT_DIALECT_QB_QBDIALECT_H
