//===- SensitivityAttr.h - sensitivity.json as a module attribute -*- C++ -*-===//
//
// The one translation of sensitivity.json (quantbert/Support/QuantConfig.h)
// into the `qb.sensitivity` module attribute qb-assign-precision reads; the
// importer and the pass's `sensitivity=` option both use it.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRANSFORMS_SENSITIVITYATTR_H
#define QUANTBERT_TRANSFORMS_SENSITIVITYATTR_H

#include "quantbert/Support/SensitivityReport.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace quantbert {

/// Name of the module attribute holding the sensitivity entries.
constexpr llvm::StringLiteral kSensitivityAttrName = "qb.sensitivity";

/// An array of `{layer = N : i64, module = "attention"|"ffn", sensitivity =
/// {<precision> = <loss increase> : f64, ...}}`, one per measured module.
mlir::ArrayAttr buildSensitivityAttr(mlir::Builder &builder,
                                     const SensitivityReport &report);

} // namespace quantbert

#endif // QUANTBERT_TRANSFORMS_SENSITIVITYATTR_H
