//===- QBOps.h - qb dialect operations ---------------------------*- C++ -*-===//
//
// The qb operations (generated from QBOps.td), the quantization parameters
// they carry, and the query that tells which encoder layer and module an
// operation belongs to.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_DIALECT_QB_QBOPS_H
#define QUANTBERT_DIALECT_QB_QBOPS_H

#include "QuantBert/QBAttrs.h"
#include "QuantBert/QBDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace quantbert::qb {

/// Affine int8 quantization parameters of qb.quantize / qb.dequantize:
/// one scale (and zero point) per tensor, or one per index of `axis`.
struct QuantParams {
  llvm::ArrayRef<float> scales;
  /// Empty means all zero points are 0.
  llvm::ArrayRef<int32_t> zeroPoints;
  float offset = 0.0f;
  std::optional<int64_t> axis;

  int32_t zeroPoint(int64_t channel) const {
    return zeroPoints.empty() ? 0 : zeroPoints[channel];
  }
  bool operator==(const QuantParams &other) const {
    return scales == other.scales && offset == other.offset &&
           axis == other.axis && zeroPointsEqual(other);
  }

private:
  bool zeroPointsEqual(const QuantParams &other) const {
    for (size_t i = 0; i < scales.size(); ++i)
      if (zeroPoint(i) != other.zeroPoint(i))
        return false;
    return true;
  }
};

/// Where an operation sits inside the encoder: its layer index and module,
/// and the stored layer (group) whose weights the layer runs: its
/// qb.layer_group, else the layer itself.
struct LayerPosition {
  int64_t layer;
  LayerModule module;
  int64_t group;
};

/// The elements of a constant float tensor attribute (dense or
/// dense_resource; f32, f16 or bf16), as f32. std::nullopt otherwise.
std::optional<llvm::SmallVector<float>> readConstantFloats(mlir::Attribute attr);

/// The elements of `value` if it is a constant float tensor, as f32.
std::optional<llvm::SmallVector<float>> getConstantFloats(mlir::Value value);

/// The elements of `value` if it is a constant i8 tensor.
std::optional<llvm::SmallVector<int8_t>> getConstantInt8s(mlir::Value value);

/// The encoder layer and module (attention or FFN) that `op` is nested in,
/// or std::nullopt for ops outside every qb.encoder_layer (embeddings, heads).
std::optional<LayerPosition> getLayerPosition(mlir::Operation *op);

} // namespace quantbert::qb

#define GET_OP_CLASSES
#include "QuantBert/QBOps.h.inc"

namespace quantbert::qb {

/// The qb.dequantize that `value` is the result of when its input is int8
/// codes (an int8 weight or embedding table), null otherwise.
DequantizeOp getInt8Dequantize(mlir::Value value);

} // namespace quantbert::qb

#endif // QUANTBERT_DIALECT_QB_QBOPS_H
