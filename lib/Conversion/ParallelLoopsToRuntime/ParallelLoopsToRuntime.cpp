//===- ParallelLoopsToRuntime.cpp - scf.parallel on the runtime's pool ----===//
//
// Outlines every outermost scf.parallel of a function (after bufferization,
// so its body only reads and writes memrefs) into a function
//
//   void NAME_parallel_K(i64 begin, i64 end, ptr captures)
//
// that runs the linearized iterations [begin, end), and replaces the loop
// with a call of libquantbert_rt's
//
//   qbrt_parallel_for(i64 n, i64 grain, ptr body, ptr captures)
//
// The values the body uses from above travel in a struct on the caller's
// stack (one alloca in the entry block), converted to their LLVM types with
// builtin.unrealized_conversion_cast, which reconcile-unrealized-casts
// removes once memrefs and indices are LLVM values too. Operand-free pure
// ops (constants, memref.get_global of a weight) are cloned into the body
// instead of captured. The grain keeps a chunk of iterations above
// `min-chunk-cost` by a static estimate of the body's work: vector elements
// of every op, times the trip counts of the loops it sits in.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Passes.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace quantbert {
#define GEN_PASS_DEF_CONVERTPARALLELLOOPSTORUNTIME
#include "quantbert/Conversion/Passes.h.inc"
} // namespace quantbert

using namespace mlir;

namespace {

constexpr StringLiteral kParallelFor = "qbrt_parallel_for";

/// Trip count assumed for a loop whose bounds are not constants.
constexpr int64_t kAssumedTripCount = 64;

/// True for an op the outlined body can recompute instead of capturing.
bool isRematerializable(Operation *op) {
  return op->getNumOperands() == 0 && op->getNumRegions() == 0 &&
         op->getNumResults() == 1 && isPure(op);
}

/// Elements an op works on: the largest vector among its results and
/// operands, 1 for scalars.
int64_t elementCount(Operation *op) {
  int64_t count = 1;
  auto widen = [&](Type type) {
    if (auto vector = dyn_cast<VectorType>(type))
      count = std::max(count, vector.getNumElements());
  };
  llvm::for_each(op->getResultTypes(), widen);
  llvm::for_each(op->getOperandTypes(), widen);
  return count;
}

/// Static estimate of the work of one pass over `block`.
int64_t estimateCost(Block &block) {
  int64_t cost = 0;
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::ConstantLike>() ||
        op.hasTrait<OpTrait::IsTerminator>())
      continue;
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      int64_t trips = kAssumedTripCount;
      APInt lower, upper, step;
      if (matchPattern(loop.getLowerBound(), m_ConstantInt(&lower)) &&
          matchPattern(loop.getUpperBound(), m_ConstantInt(&upper)) &&
          matchPattern(loop.getStep(), m_ConstantInt(&step)) &&
          step.getSExtValue() > 0)
        trips = std::max<int64_t>(
            0, llvm::divideCeil(upper.getSExtValue() - lower.getSExtValue(),
                                step.getSExtValue()));
      cost += trips * estimateCost(*loop.getBody());
      continue;
    }
    int64_t nested = 0;
    for (Region &region : op.getRegions())
      for (Block &inner : region)
        nested = std::max(nested, estimateCost(inner));
    cost += elementCount(&op) + nested;
  }
  return cost;
}

class ConvertParallelLoopsToRuntimePass
    : public quantbert::impl::ConvertParallelLoopsToRuntimeBase<
          ConvertParallelLoopsToRuntimePass> {
public:
  using ConvertParallelLoopsToRuntimeBase::ConvertParallelLoopsToRuntimeBase;

  void runOnOperation() override {
    if (minChunkCost < 1) {
      getOperation().emitError()
          << "convert-parallel-loops-to-runtime: min-chunk-cost must be "
             "positive";
      return signalPassFailure();
    }
    ModuleOp module = getOperation();
    SmallVector<std::pair<func::FuncOp, scf::ParallelOp>> loops;
    for (auto function : module.getOps<func::FuncOp>())
      function.walk<WalkOrder::PreOrder>([&](scf::ParallelOp loop) {
        // Loops with reductions stay sequential (none of qb's lowerings
        // makes one).
        if (loop.getNumResults() == 0)
          loops.emplace_back(function, loop);
        return WalkResult::skip(); // nested loops run inside the body
      });
    if (loops.empty())
      return;
    LLVMTypeConverter typeConverter(&getContext());
    llvm::DenseMap<Operation *, unsigned> counters;
    for (auto [function, loop] : loops)
      if (failed(outline(module, function, loop, typeConverter,
                         counters[function]++)))
        return signalPassFailure();
  }

private:
  LogicalResult outline(ModuleOp module, func::FuncOp function,
                        scf::ParallelOp loop, LLVMTypeConverter &typeConverter,
                        unsigned index);
};

LogicalResult ConvertParallelLoopsToRuntimePass::outline(
    ModuleOp module, func::FuncOp function, scf::ParallelOp loop,
    LLVMTypeConverter &typeConverter, unsigned index) {
  MLIRContext *context = &getContext();
  Location loc = loop.getLoc();
  OpBuilder builder(loop);
  auto ptrType = LLVM::LLVMPointerType::get(context);
  Type i64 = builder.getI64Type();
  Type indexType = builder.getIndexType();
  unsigned rank = loop.getNumLoops();

  // Trip counts, (max(upper - lower, 0) + step - 1) / step (steps are
  // positive), and their product, the number of linearized iterations.
  // (arith.ceildivsi would need arith-expand before the LLVM conversion.)
  Value zero = builder.create<arith::ConstantIndexOp>(loc, 0);
  Value unit = builder.create<arith::ConstantIndexOp>(loc, 1);
  SmallVector<Value> trips;
  Value total = unit;
  for (unsigned d = 0; d < rank; ++d) {
    Value step = loop.getStep()[d];
    Value extent = builder.create<arith::MaxSIOp>(
        loc, zero,
        builder.create<arith::SubIOp>(loc, loop.getUpperBound()[d],
                                      loop.getLowerBound()[d]));
    Value count = builder.create<arith::DivUIOp>(
        loc,
        builder.create<arith::AddIOp>(
            loc, extent, builder.create<arith::SubIOp>(loc, step, unit)),
        step);
    trips.push_back(count);
    total = builder.create<arith::MulIOp>(loc, total, count);
  }

  // What the body needs from above: the loop's bounds for delinearizing,
  // then every value it uses, except what it can recompute.
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(loop.getRegion(), used);
  SmallVector<Value> captures;
  SmallVector<Operation *> rematerialized;
  for (unsigned d = 0; d < rank; ++d)
    captures.append({loop.getLowerBound()[d], loop.getStep()[d]});
  for (unsigned d = 1; d < rank; ++d)
    captures.push_back(trips[d]);
  unsigned firstUsed = captures.size();
  for (Value value : used) {
    Operation *producer = value.getDefiningOp();
    if (producer && isRematerializable(producer))
      rematerialized.push_back(producer);
    else
      captures.push_back(value);
  }
  SmallVector<Type> fieldTypes;
  for (Value value : captures) {
    Type converted = typeConverter.convertType(value.getType());
    if (!converted)
      return loop.emitOpError()
             << "uses a value of type " << value.getType()
             << " from above, which cannot be passed to a parallel body";
    fieldTypes.push_back(converted);
  }
  auto structType = LLVM::LLVMStructType::getLiteral(context, fieldTypes);

  // The body: void NAME_parallel_K(i64 begin, i64 end, ptr captures).
  auto bodyType = builder.getFunctionType({i64, i64, ptrType}, {});
  std::string name =
      (function.getName() + "_parallel_" + Twine(index)).str();
  OpBuilder moduleBuilder = OpBuilder::atBlockEnd(module.getBody());
  auto body = func::FuncOp::create(loc, name, bodyType);
  body.setPrivate();
  SymbolTable(module).insert(body); // renamed on a clash
  Block *entry = body.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  IRMapping mapping;
  Value loaded = b.create<LLVM::LoadOp>(loc, structType, entry->getArgument(2));
  SmallVector<Value> fields;
  // Values whose type is already an LLVM type (f32, vectors) need no cast.
  auto castTo = [](OpBuilder &b, Location loc, Type type, Value value) {
    if (value.getType() == type)
      return value;
    return b.create<UnrealizedConversionCastOp>(loc, type, value).getResult(0);
  };
  for (auto [i, value] : llvm::enumerate(captures))
    fields.push_back(castTo(b, loc, value.getType(),
                            b.create<LLVM::ExtractValueOp>(loc, loaded, i)));
  for (unsigned i = firstUsed; i < captures.size(); ++i)
    mapping.map(captures[i], fields[i]);
  for (Operation *op : rematerialized)
    b.clone(*op, mapping);
  Value begin = b.create<arith::IndexCastOp>(loc, indexType, entry->getArgument(0));
  Value end = b.create<arith::IndexCastOp>(loc, indexType, entry->getArgument(1));
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  auto chunk = b.create<scf::ForOp>(loc, begin, end, one);
  b.create<func::ReturnOp>(loc);
  b.setInsertionPoint(chunk.getBody()->getTerminator());
  // Delinearize, innermost dimension fastest.
  Value rest = chunk.getInductionVar();
  for (unsigned d = rank; d-- > 0;) {
    Value position = rest;
    if (d > 0) {
      Value count = fields[2 * rank + (d - 1)];
      position = b.create<arith::RemUIOp>(loc, rest, count);
      rest = b.create<arith::DivUIOp>(loc, rest, count);
    }
    Value lower = fields[2 * d], step = fields[2 * d + 1];
    mapping.map(loop.getInductionVars()[d],
                b.create<arith::AddIOp>(
                    loc, lower, b.create<arith::MulIOp>(loc, position, step)));
  }
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);

  // The call: captures stored in an alloca of the entry block (an alloca in
  // a loop would grow the stack on every iteration).
  int64_t cost = std::max<int64_t>(1, estimateCost(*loop.getBody()));
  int64_t grain = std::max<int64_t>(1, llvm::divideCeil(minChunkCost, cost));
  OpBuilder entryBuilder = OpBuilder::atBlockBegin(&function.front());
  Value slot = entryBuilder.create<LLVM::AllocaOp>(
      loc, ptrType, structType,
      entryBuilder.create<LLVM::ConstantOp>(loc, i64, 1), /*alignment=*/0);
  Value packed = builder.create<LLVM::UndefOp>(loc, structType);
  for (auto [i, value] : llvm::enumerate(captures))
    packed = builder.create<LLVM::InsertValueOp>(
        loc, packed, castTo(builder, loc, fieldTypes[i], value), i);
  builder.create<LLVM::StoreOp>(loc, packed, slot);
  Value bodyRef = builder.create<func::ConstantOp>(
      loc, bodyType, SymbolRefAttr::get(body.getSymNameAttr()));
  Value bodyPointer =
      builder.create<UnrealizedConversionCastOp>(loc, ptrType, bodyRef)
          .getResult(0);
  if (!module.lookupSymbol(kParallelFor)) {
    auto declaration = moduleBuilder.create<func::FuncOp>(
        loc, kParallelFor, builder.getFunctionType({i64, i64, ptrType, ptrType}, {}));
    declaration.setPrivate();
  }
  builder.create<func::CallOp>(
      loc, kParallelFor, TypeRange{},
      ValueRange{builder.create<arith::IndexCastOp>(loc, i64, total),
                 builder.create<arith::ConstantOp>(loc, builder.getI64IntegerAttr(grain)),
                 bodyPointer, slot});
  loop.erase();
  return success();
}

} // namespace
