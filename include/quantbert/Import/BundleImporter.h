//===- BundleImporter.h - Checkpoints and bundles to qb IR -------*- C++ -*-===//
//
// Imports a Hugging Face BERT sequence-classification checkpoint directory,
// or a compressed bundle (the same plus quant.json and sensitivity.json),
// into a qb module. See lib/Import/BundleImporter.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_IMPORT_BUNDLEIMPORTER_H
#define QUANTBERT_IMPORT_BUNDLEIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace quantbert {

struct BundleImportOptions {
  /// Name of the generated function (logits = forward(ids, types, mask)).
  std::string functionName = "forward";
};

/// Builds the qb module of the checkpoint or bundle in `directory`. On
/// failure emits an error naming the missing or mismatched file, tensor or
/// field and returns null.
mlir::OwningOpRef<mlir::ModuleOp>
importBundle(mlir::MLIRContext *context, const std::string &directory,
             const BundleImportOptions &options = {});

} // namespace quantbert

#endif // QUANTBERT_IMPORT_BUNDLEIMPORTER_H
