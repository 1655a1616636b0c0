//===- FuseAttention.cpp - qb-fuse-attention ------------------------------===//
//
// Replaces the unfused attention chain (split heads, Q K^T, scale, mask,
// softmax, P V, merge heads) by one qb.attention with reduced-precision
// storage of Q, K and V, whose lowering needs no seq x seq buffer.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace quantbert {
#define GEN_PASS_DEF_FUSEATTENTION
#include "quantbert/Transforms/Passes.h.inc"
} // namespace quantbert

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

/// The op defining `value`, if it is an `OpTy` whose result has no other use.
template <typename OpTy>
OpTy singleUseProducer(Value value) {
  auto op = value.getDefiningOp<OpTy>();
  if (!op || !op->hasOneUse())
    return nullptr;
  return op;
}

/// merge_heads(batch_matmul(softmax(attention_mask?(scale?(batch_matmul(
/// split_heads(q), split_heads(k), transpose_rhs)))), split_heads(v)))
///   -> qb.attention(q, k, v, mask?).
struct FuseAttentionChain : OpRewritePattern<MergeHeadsOp> {
  FuseAttentionChain(MLIRContext *context, FloatType storageType)
      : OpRewritePattern(context), storageType(storageType) {}

  LogicalResult matchAndRewrite(MergeHeadsOp merge,
                                PatternRewriter &rewriter) const override {
    auto context = singleUseProducer<BatchMatmulOp>(merge.getInput());
    if (!context || context.getTransposeRhs())
      return rewriter.notifyMatchFailure(merge, "input is not a single-use P V");
    auto probs = singleUseProducer<SoftmaxOp>(context.getLhs());
    if (!probs)
      return rewriter.notifyMatchFailure(
          merge, "P is not a single-use softmax (probabilities used elsewhere?)");
    auto valueHeads = singleUseProducer<SplitHeadsOp>(context.getRhs());
    if (!valueHeads)
      return rewriter.notifyMatchFailure(merge, "V is not a single-use split_heads");

    Value scores = probs.getInput();
    Value mask;
    float maskFill = -10000.0f;
    if (auto masked = singleUseProducer<AttentionMaskOp>(scores)) {
      mask = masked.getMask();
      maskFill = masked.getFill().convertToFloat();
      scores = masked.getScores();
    }
    float scale = 1.0f;
    if (auto scaled = singleUseProducer<ScaleOp>(scores)) {
      scale = scaled.getFactor().convertToFloat();
      scores = scaled.getInput();
    }
    if (!(scale > 0.0f))
      return rewriter.notifyMatchFailure(merge, "scale is not positive");
    auto qk = singleUseProducer<BatchMatmulOp>(scores);
    if (!qk || !qk.getTransposeRhs())
      return rewriter.notifyMatchFailure(merge, "scores are not a single-use Q K^T");
    auto queryHeads = singleUseProducer<SplitHeadsOp>(qk.getLhs());
    auto keyHeads = singleUseProducer<SplitHeadsOp>(qk.getRhs());
    if (!queryHeads || !keyHeads)
      return rewriter.notifyMatchFailure(merge, "Q or K is not a single-use split_heads");
    uint64_t heads = queryHeads.getNumHeads();
    if (keyHeads.getNumHeads() != heads || valueHeads.getNumHeads() != heads)
      return rewriter.notifyMatchFailure(merge, "Q, K and V split into different head counts");
    Type elementType = merge.getType().getElementType();
    if (queryHeads.getInput().getType().getElementType() != elementType ||
        keyHeads.getInput().getType().getElementType() != elementType ||
        valueHeads.getInput().getType().getElementType() != elementType)
      return rewriter.notifyMatchFailure(merge, "mixed element types");

    auto attention = rewriter.create<AttentionOp>(
        merge.getLoc(), merge.getType(), queryHeads.getInput(),
        keyHeads.getInput(), valueHeads.getInput(), mask,
        rewriter.getI64IntegerAttr(heads), rewriter.getF32FloatAttr(scale),
        rewriter.getF32FloatAttr(maskFill), TypeAttr::get(storageType));
    rewriter.replaceOp(merge, attention.getResult());
    return success();
  }

  FloatType storageType;
};

class FuseAttentionPass
    : public quantbert::impl::FuseAttentionBase<FuseAttentionPass> {
public:
  using FuseAttentionBase::FuseAttentionBase;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    FloatType storage;
    if (storageType.getValue() == "f16")
      storage = Float16Type::get(context);
    else if (storageType.getValue() == "bf16")
      storage = BFloat16Type::get(context);
    else if (storageType.getValue() == "f32")
      storage = Float32Type::get(context);
    else {
      getOperation()->emitError()
          << "qb-fuse-attention: storage-type must be f16, bf16 or f32, got '"
          << storageType.getValue() << "'";
      return signalPassFailure();
    }
    RewritePatternSet patterns(context);
    patterns.add<FuseAttentionChain>(context, storage);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
