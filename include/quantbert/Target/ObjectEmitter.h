//===- ObjectEmitter.h - LLVM-dialect models to object files -----*- C++ -*-===//
//
// quant-bert-compile's back end: the model descriptor, object emission and
// the C header. See lib/Target/Object/ObjectEmitter.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TARGET_OBJECTEMITTER_H
#define QUANTBERT_TARGET_OBJECTEMITTER_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace quantbert {

/// Version of qbrt_model_descriptor (quantbert/runtime.h) the generated
/// descriptor has.
constexpr int32_t kModelAbiVersion = 3;

/// What the generated code and header say about a compiled model.
struct ModelInfo {
  /// C identifier prefixing every generated symbol.
  std::string name;
  /// The lowered model function (its C interface is _mlir_ciface_<forward>).
  std::string forward;
  int64_t numLabels = 0;
  int64_t vocabSize = 0;
  int64_t typeVocabSize = 0;
  int64_t maxPositions = 0;
  /// Number of runtime int8 plans the function takes (0: no plans argument).
  int64_t numPlans = 0;
  /// Label names by class index (config.json's id2label); empty means
  /// transformers' defaults, "LABEL_0", "LABEL_1", ...
  std::vector<std::string> labels;
};

/// Adds `<name>_descriptor` to an LLVM-dialect module.
mlir::LogicalResult addModelDescriptor(mlir::ModuleOp module,
                                       const ModelInfo &info);

/// Checks that `cpu` ("host" or an LLVM CPU name) names a CPU of the native
/// target; on failure `error` says which names are valid.
mlir::LogicalResult checkTargetCPU(const std::string &cpu, std::string &error);

/// Translates `module` to LLVM IR, optimises it at -O3 for `cpu` ("host" or
/// an LLVM CPU name such as znver5, skylake-avx512, x86-64-v3) and writes an
/// object file to `path`.
mlir::LogicalResult emitObjectFile(mlir::ModuleOp module,
                                   const std::string &cpu,
                                   const std::string &path, std::string &error);

/// `text` as a C string literal, quotes included: printable ASCII as is
/// (with \\, \" and \? escaped), every other byte as a 3-digit octal escape.
std::string cStringLiteral(const std::string &text);

/// The C header of the compiled model.
std::string emitHeader(const ModelInfo &info);

} // namespace quantbert

#endif // QUANTBERT_TARGET_OBJECTEMITTER_H
