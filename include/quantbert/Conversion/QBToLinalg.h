//===- QBToLinalg.h - qb to linalg conversion patterns -----------*- C++ -*-===//
//
// The patterns of convert-qb-to-linalg, for pipelines that combine them with
// other conversions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_CONVERSION_QBTOLINALG_H
#define QUANTBERT_CONVERSION_QBTOLINALG_H

#include "mlir/IR/PatternMatch.h"

namespace quantbert {

/// Adds the patterns that lower the float-level qb ops (all but qb.bitpack,
/// qb.binary_linear, qb.attention, qb.int8_linear and qb.encoder_layer, which
/// inlineEncoderLayers handles) to linalg, tensor, arith and math.
void populateQBToLinalgPatterns(mlir::RewritePatternSet &patterns);

/// Inlines every qb.encoder_layer under `root` into its parent block: the
/// attention region's arguments become the layer's operands, the FFN
/// region's argument the attention output, and the layer's result the FFN
/// output.
void inlineEncoderLayers(mlir::Operation *root);

} // namespace quantbert

#endif // QUANTBERT_CONVERSION_QBTOLINALG_H
