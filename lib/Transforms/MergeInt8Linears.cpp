//===- MergeInt8Linears.cpp - qb-merge-int8-linears -----------------------===//
//
// Merges the qb.int8_linear ops that read the same quantized input (with the
// same input scale and zero point), such as an attention layer's query, key
// and value projections, into one linear over the concatenated weights,
// whose result the originals become column slices of: one runtime call (one
// oneDNN matmul, one fork-join of the thread pool) instead of three, over a
// wider N, which oneDNN runs more efficiently. Every output element is the
// same sum as before, bit for bit.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Transforms/Passes.h"

#include "QuantBert/QBOps.h"
#include "quantbert/Support/BlockSparse.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <map>
#include <tuple>

namespace quantbert {
#define GEN_PASS_DEF_MERGEINT8LINEARS
#include "quantbert/Transforms/Passes.h.inc"
} // namespace quantbert

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

/// Merges `linears` (two or more, same input and quantization, constant
/// weights, scales and biases) into one.
void merge(ArrayRef<Int8LinearOp> linears) {
  Int8LinearOp first = linears.front();
  OpBuilder builder(first);
  Location loc = builder.getFusedLoc(llvm::to_vector(
      llvm::map_range(linears, [](Int8LinearOp op) { return op.getLoc(); })));
  int64_t k = first.getWeight().getType().getDimSize(1);
  int64_t n = 0;
  SmallVector<int8_t> weights;
  SmallVector<float> scales, biases;
  bool anyBias = false;
  for (Int8LinearOp op : linears) {
    int64_t rows = op.getWeight().getType().getDimSize(0);
    llvm::append_range(weights, *getConstantInt8s(op.getWeight()));
    llvm::append_range(scales, *getConstantFloats(op.getWeightScale()));
    if (op.getBias()) {
      llvm::append_range(biases, *getConstantFloats(op.getBias()));
      anyBias = true;
    } else {
      biases.append(rows, 0.0f);
    }
    n += rows;
  }
  auto weightType = RankedTensorType::get({n, k}, builder.getI8Type());
  auto vectorType = RankedTensorType::get({n}, builder.getF32Type());
  Value weight = builder.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(weightType, ArrayRef<int8_t>(weights)));
  Value scale = builder.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(vectorType, ArrayRef<float>(scales)));
  Value bias = anyBias ? builder.create<arith::ConstantOp>(
                             loc, DenseElementsAttr::get(
                                      vectorType, ArrayRef<float>(biases)))
                       : Value();

  auto resultType = cast<RankedTensorType>(first.getType());
  SmallVector<int64_t> shape(resultType.getShape());
  shape.back() = n;
  auto merged = builder.create<Int8LinearOp>(
      loc, resultType.clone(shape), first.getInput(), weight, scale,
      first.getInputScales(), bias, first.getInputScaleAttr(),
      first.getInputZeroPointAttr(), first.getBlockSparseAttr());
  merged->setDiscardableAttrs(first->getDiscardableAttrDictionary());

  // Each original result is a slice of the merged columns.
  int64_t column = 0;
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(builder, loc, merged.getResult());
  SmallVector<OpFoldResult> strides(shape.size(), builder.getIndexAttr(1));
  for (Int8LinearOp op : linears) {
    int64_t rows = op.getWeight().getType().getDimSize(0);
    SmallVector<OpFoldResult> offsets(shape.size(), builder.getIndexAttr(0));
    offsets.back() = builder.getIndexAttr(column);
    sizes.back() = builder.getIndexAttr(rows);
    Value slice = builder.create<tensor::ExtractSliceOp>(
        op.getLoc(), cast<RankedTensorType>(op.getType()), merged.getResult(),
        offsets, sizes, strides);
    op.getResult().replaceAllUsesWith(slice);
    column += rows;
  }
  for (Int8LinearOp op : linears)
    op.erase();
}

class MergeInt8LinearsPass
    : public quantbert::impl::MergeInt8LinearsBase<MergeInt8LinearsPass> {
public:
  void runOnOperation() override {
    // Groups, in program order, of the linears with the same input and
    // input quantization (static scale and zero point, or the same per-row
    // scales), and constant weights, scales and biases.
    // Block-sparse linears merge only with each other.
    using Key = std::tuple<void *, float, int32_t, void *, bool>;
    std::map<Key, SmallVector<Int8LinearOp>> groups;
    SmallVector<Key> order;
    getOperation()->walk([&](Int8LinearOp op) {
      if (!getConstantInt8s(op.getWeight()) ||
          !getConstantFloats(op.getWeightScale()) ||
          (op.getBias() && !getConstantFloats(op.getBias())))
        return;
      std::optional<APFloat> scale = op.getInputScale();
      Key key{op.getInput().getAsOpaquePointer(),
              scale ? scale->convertToFloat() : 0.0f,
              static_cast<int32_t>(op.getInputZeroPoint()),
              op.getInputScales().getAsOpaquePointer(),
              op.getBlockSparse().has_value()};
      auto [it, inserted] = groups.try_emplace(key);
      if (inserted)
        order.push_back(key);
      it->second.push_back(op);
    });
    for (const Key &key : order) {
      SmallVector<Int8LinearOp> &linears = groups[key];
      // The merged op goes where the first was: every other one must come
      // later in the same block, its operands available there.
      Block *block = linears.front()->getBlock();
      llvm::erase_if(linears, [&](Int8LinearOp op) {
        return op->getBlock() != block;
      });
      // Block-sparse weights stay aligned to the blocks' 16 channels only
      // if every part but the last fills whole blocks.
      bool aligned = llvm::all_of(
          ArrayRef<Int8LinearOp>(linears).drop_back(), [](Int8LinearOp op) {
            return op.getWeight().getType().getDimSize(0) %
                       kSparseInt8BlockRows ==
                   0;
          });
      if (linears.size() >= 2 && (!std::get<4>(key) || aligned))
        merge(linears);
    }
  }
};

} // namespace
