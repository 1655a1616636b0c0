//===- Passes.h - qb-to-qb transformation passes -----------------*- C++ -*-===//
//
// Declarations and registration of the passes that rewrite qb IR into qb IR:
// precision assignment, quantization materialization and attention fusion.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRANSFORMS_PASSES_H
#define QUANTBERT_TRANSFORMS_PASSES_H

#include "QuantBert/QBOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace quantbert {

#define GEN_PASS_DECL
#include "quantbert/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantbert/Transforms/Passes.h.inc"

} // namespace quantbert

#endif // QUANTBERT_TRANSFORMS_PASSES_H
