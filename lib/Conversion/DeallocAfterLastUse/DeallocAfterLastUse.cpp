//===- DeallocAfterLastUse.cpp - qb-dealloc-after-last-use ----------------===//
//
// MLIR's ownership-based buffer deallocation frees every buffer a block
// allocates right before the block's terminator. In a model's forward
// function, one block of a few hundred ops, that keeps every activation of
// every layer alive until the end: 1.1 GB for a 12-layer BERT-base at 8 x
// 384 tokens, which defeats the runtime's buffer cache (its blocks never
// come back for reuse) and makes every op write fresh memory. This pass
// moves each memref.dealloc of a buffer defined in the same block up to
// right after the last op that uses the buffer or anything derived from
// it: views (any op result of memref type), pointers taken from it
// (memref.extract_aligned_pointer_as_index and the casts that follow, as
// convert-qb-to-runtime passes buffers to the runtime) and uses nested in
// the regions of an op (the body of a parallel loop counts as a use by the
// loop).
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace quantbert {
#define GEN_PASS_DEF_DEALLOCAFTERLASTUSE
#include "quantbert/Conversion/Passes.h.inc"
} // namespace quantbert

using namespace mlir;

namespace {

/// True when `result` of `op` may refer to the memory `op` was given: a
/// view (any memref), or an address taken from a buffer and the casts that
/// carry it to a call.
bool mayAlias(Operation *op, Value result) {
  if (isa<BaseMemRefType>(result.getType()))
    return true;
  return isa<memref::ExtractAlignedPointerAsIndexOp,
             memref::ExtractStridedMetadataOp, arith::IndexCastOp,
             arith::IndexCastUIOp, LLVM::IntToPtrOp, LLVM::PtrToIntOp,
             UnrealizedConversionCastOp>(op);
}

/// The last op of `block` that uses `buffer` or a value derived from it,
/// other than `dealloc`; null when a use lies outside the block.
Operation *lastUse(Value buffer, Operation *dealloc, Block &block,
                   bool &escapes) {
  Operation *last = buffer.getDefiningOp();
  llvm::SmallPtrSet<Value, 8> seen{buffer};
  SmallVector<Value> worklist{buffer};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (user == dealloc)
        continue;
      Operation *anchor = block.findAncestorOpInBlock(*user);
      if (!anchor) {
        escapes = true;
        return nullptr;
      }
      if (!last || last->isBeforeInBlock(anchor))
        last = anchor;
      // A view made by `user` or, for a use nested in a region (a loop
      // body yielding a view), by the op in the block.
      for (Operation *producer : {user, anchor})
        for (Value result : producer->getResults())
          if (mayAlias(producer, result) && seen.insert(result).second)
            worklist.push_back(result);
    }
  }
  return last;
}

class DeallocAfterLastUsePass
    : public quantbert::impl::DeallocAfterLastUseBase<DeallocAfterLastUsePass> {
public:
  void runOnOperation() override {
    getOperation()->walk([](Block *block) {
      SmallVector<memref::DeallocOp> deallocs;
      for (Operation &op : *block)
        if (auto dealloc = dyn_cast<memref::DeallocOp>(op))
          deallocs.push_back(dealloc);
      for (memref::DeallocOp dealloc : deallocs) {
        Value buffer = dealloc.getMemref();
        Operation *producer = buffer.getDefiningOp();
        if (!producer || producer->getBlock() != block)
          continue;
        bool escapes = false;
        Operation *last = lastUse(buffer, dealloc, *block, escapes);
        if (escapes || !last || !last->isBeforeInBlock(dealloc))
          continue;
        dealloc->moveAfter(last);
      }
    });
  }
};

} // namespace
