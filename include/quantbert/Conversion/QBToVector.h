//===- QBToVector.h - qb binary ops to vector loops --------------*- C++ -*-===//
//
// Patterns lowering qb.bitpack and qb.binary_linear to register-blocked
// vector loops on tensors (see lib/Conversion/QBToVector).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_CONVERSION_QBTOVECTOR_H
#define QUANTBERT_CONVERSION_QBTOVECTOR_H

#include "mlir/IR/PatternMatch.h"

#include <cstdint>

namespace quantbert {

/// Register blocking of the XNOR-popcount GEMM: tileM rows of activations
/// times tileN vectors of 8 output channels, i.e. tileM * tileN 512-bit
/// accumulators.
struct QBToVectorOptions {
  int64_t tileM = 4;
  int64_t tileN = 3;
};

void populateQBToVectorPatterns(mlir::RewritePatternSet &patterns,
                                const QBToVectorOptions &options = {});

} // namespace quantbert

#endif // QUANTBERT_CONVERSION_QBTOVECTOR_H
