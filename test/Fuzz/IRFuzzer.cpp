//===- IRFuzzer.cpp - qb IR text through parse, verify and every pass -----===//
//
// libFuzzer target (and, without libFuzzer, the replay driver's target):
// the input is MLIR text. It is parsed with every dialect quant-bert-opt
// knows, verified, and, when valid, each qb pass and conversion runs alone
// on a copy of it, then the whole qb-lower-to-llvm pipeline. Seeded with the
// lit tests' inputs (scripts/fuzz). The oracle is FuzzSupport.h's: no crash,
// no sanitizer report, no hang, and no failure without an error message.
//
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace mlir;
using namespace quantbert::fuzz;

namespace {

/// One pipeline a pass: each qb pass and conversion alone, then the full
/// lowering (which starts with qb-assign-precision's default policy).
const char *const kPipelines[] = {
    "builtin.module(qb-assign-precision{budget=0.3})",
    "builtin.module(qb-assign-precision{policy=sensimix mp-layers=1})",
    "builtin.module(qb-assign-precision{policy=int8 embeddings=keep})",
    "builtin.module(qb-materialize-quant)",
    "builtin.module(qb-merge-int8-linears)",
    "builtin.module(qb-fuse-attention)",
    "builtin.module(convert-qb-to-vector)",
    "builtin.module(convert-qb-to-runtime)",
    "builtin.module(convert-qb-to-linalg)",
    "builtin.module(qb-assign-precision{policy=sensimix},qb-lower-to-llvm)",
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Bigger inputs only slow the search down; the seeds are a few KB.
  if (size > 64 * 1024)
    return -1;
  auto context = makeContext();
  DiagnosticCounter diagnostics(context.get());
  std::string text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, ParserConfig(context.get()));
  if (!module) {
    if (diagnostics.errors() == 0)
      oracleFailure("the parser rejected the input without an error");
    return 0;
  }
  if (failed(verify(*module))) {
    if (diagnostics.errors() == 0)
      oracleFailure("the verifier rejected the input without an error");
    return 0;
  }
  for (const char *pipeline : kPipelines)
    runPipeline(*module, pipeline, diagnostics);
  return 0;
}
