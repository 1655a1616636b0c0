//===- QBToVector.h - qb binary ops to vector loops --------------*- C++ -*-===//
//
// Patterns lowering qb.bitpack and qb.binary_linear to register-blocked
// vector loops on tensors, and qb.attention to fused attention loops (see
// lib/Conversion/QBToVector).
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

/// qb.bitpack, qb.binary_linear and qb.attention to vector loops.
void populateQBToVectorPatterns(mlir::RewritePatternSet &patterns,
                                const QBToVectorOptions &options = {});

/// qb.attention alone (lib/Conversion/QBToVector/LowerAttention.cpp).
void populateAttentionToVectorPatterns(mlir::RewritePatternSet &patterns);

} // namespace quantbert

#endif // QUANTBERT_CONVERSION_QBTOVECTOR_H
