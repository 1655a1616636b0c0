//===- QBToRuntime.cpp - qb.int8_linear to libquantbert_rt calls ----------===//
//
// Lowers qb.int8_linear to libquantbert_rt's oneDNN int8 linear through its
// plain C ABI (quantbert/runtime.h). Weights are handed to the runtime once,
// by a generated prepare function, which builds a plan per linear (weights
// reordered to oneDNN's blocked layout, scales fixed at primitive
// creation); the model function gains an argument pointing at the plans and
// calls qbrt_int8_linear_run on contiguous activation buffers. A linear
// marked block_sparse gets the block-sparse kernel's plan instead, made
// from the packed nonzero blocks (quantbert/Support/BlockSparse.h), which
// are all of its weights the object keeps.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Conversion/Passes.h"
#include "quantbert/Conversion/ShapeUtils.h"
#include "quantbert/Support/BlockSparse.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace quantbert {
#define GEN_PASS_DEF_CONVERTQBTORUNTIME
#include "quantbert/Conversion/Passes.h.inc"
} // namespace quantbert

using namespace mlir;
using namespace quantbert;
using namespace quantbert::qb;

namespace {

constexpr StringLiteral kRun = "qbrt_int8_linear_run";
constexpr StringLiteral kRunRows = "qbrt_int8_linear_run_rows";
constexpr StringLiteral kPrepare = "qbrt_int8_linear_prepare";
constexpr StringLiteral kDestroy = "qbrt_int8_linear_destroy";
constexpr StringLiteral kSparseRun = "qbrt_sparse_int8_linear_run";
constexpr StringLiteral kSparseRunRows = "qbrt_sparse_int8_linear_run_rows";
constexpr StringLiteral kSparsePrepare =
    "qbrt_sparse_int8_linear_prepare_packed";
constexpr StringLiteral kSparseDestroy = "qbrt_sparse_int8_linear_destroy";

/// Declares `name` with `type` in `module` unless it exists.
void declare(OpBuilder &builder, ModuleOp module, StringRef name,
             FunctionType type) {
  if (module.lookupSymbol(name))
    return;
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(module.getBody());
  auto function = builder.create<func::FuncOp>(module.getLoc(), name, type);
  function.setPrivate();
}

/// A `!llvm.ptr` to the first element of `buffer` (identity layout, so
/// row-major and contiguous).
Value bufferPointer(OpBuilder &builder, Location loc,
                    TypedValue<MemRefType> buffer) {
  return builder.create<LLVM::IntToPtrOp>(
      loc, LLVM::LLVMPointerType::get(builder.getContext()),
      builder.create<arith::IndexCastOp>(
          loc, builder.getI64Type(),
          builder.create<memref::ExtractAlignedPointerAsIndexOp>(loc, buffer)));
}

/// Same for the buffer `tensor` bufferizes to, with an identity layout.
Value bufferPointer(OpBuilder &builder, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  auto buffer =
      builder.create<bufferization::ToMemrefOp>(loc, memrefType, tensor);
  return bufferPointer(builder, loc,
                       cast<TypedValue<MemRefType>>(buffer.getResult()));
}

/// The address of slot `index` of the plan array (pointer-sized slots).
Value planSlot(OpBuilder &builder, Location loc, Value plans, int64_t index) {
  auto ptrType = LLVM::LLVMPointerType::get(builder.getContext());
  return builder.create<LLVM::GEPOp>(loc, ptrType, ptrType, plans,
                                     ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(index)});
}

class ConvertQBToRuntimePass
    : public quantbert::impl::ConvertQBToRuntimeBase<ConvertQBToRuntimePass> {
public:
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> functions;
    for (auto function : module.getOps<func::FuncOp>()) {
      bool hasInt8Linear = false;
      function.walk([&](Int8LinearOp) { hasInt8Linear = true; });
      if (hasInt8Linear)
        functions.push_back(function);
    }
    for (func::FuncOp function : functions)
      if (failed(convert(module, function)))
        return signalPassFailure();
  }

private:
  LogicalResult convert(ModuleOp module, func::FuncOp function);
};

LogicalResult ConvertQBToRuntimePass::convert(ModuleOp module,
                                              func::FuncOp function) {
  MLIRContext *context = &getContext();
  OpBuilder builder(context);
  Location loc = function.getLoc();
  auto ptrType = LLVM::LLVMPointerType::get(context);
  Type i32 = builder.getI32Type(), i64 = builder.getI64Type();
  Type f32 = builder.getF32Type();
  // Both plan kinds run and are destroyed with the same arguments.
  auto declarePlanKind = [&](StringRef run, StringRef runRows,
                             StringRef destroy) {
    declare(builder, module, run,
            builder.getFunctionType({ptrType, ptrType, i64, f32, i32, ptrType},
                                    {i32}));
    declare(builder, module, runRows,
            builder.getFunctionType({ptrType, ptrType, i64, ptrType, ptrType},
                                    {i32}));
    declare(builder, module, destroy, builder.getFunctionType({ptrType}, {}));
  };
  declarePlanKind(kRun, kRunRows, kDestroy);
  declare(builder, module, kPrepare,
          builder.getFunctionType(
              {ptrType, ptrType, ptrType, ptrType, i64, i64, ptrType}, {i32}));

  SmallVector<Int8LinearOp> linears;
  function.walk([&](Int8LinearOp op) { linears.push_back(op); });
  if (llvm::any_of(linears, [](Int8LinearOp op) {
        return op.getBlockSparse().has_value();
      })) {
    declarePlanKind(kSparseRun, kSparseRunRows, kSparseDestroy);
    declare(builder, module, kSparsePrepare,
            builder.getFunctionType({ptrType, ptrType, ptrType, i64, ptrType,
                                     ptrType, i64, i64, ptrType},
                                    {i32}));
  }
  for (Int8LinearOp op : linears) {
    if (!op.getWeight().getDefiningOp<arith::ConstantOp>() ||
        !op.getWeightScale().getDefiningOp<arith::ConstantOp>() ||
        (op.getBias() && !op.getBias().getDefiningOp<arith::ConstantOp>()))
      return op.emitOpError()
             << "needs constant weights, scales and bias to prepare a runtime "
                "plan (run qb-materialize-quant on a model with constant "
                "weights)";
    if (!op.getWeight().getType().hasStaticShape())
      return op.emitOpError() << "needs a static weight shape";
    if (op.getBlockSparse() && !getConstantInt8s(op.getWeight()))
      return op.emitOpError() << "block_sparse needs readable constant int8 "
                                 "weights to pack their nonzero blocks";
  }

  // The plans argument: plan pointers, then an i32 status slot.
  int64_t count = linears.size();
  unsigned plansIndex = function.getNumArguments();
  function.insertArgument(
      plansIndex, ptrType,
      builder.getDictionaryAttr({builder.getNamedAttr(
          "qb.name", builder.getStringAttr("int8_plans"))}),
      loc);
  Value plans = function.getArgument(plansIndex);
  function->setAttr("qb.int8_plans", builder.getI64IntegerAttr(count));

  // prepare(ctx, plans) -> status and destroy(plans).
  builder.setInsertionPointAfter(function);
  auto prepare = builder.create<func::FuncOp>(
      loc, (function.getName() + "_int8_prepare").str(),
      builder.getFunctionType({ptrType, ptrType}, {i32}));
  auto destroy = builder.create<func::FuncOp>(
      loc, (function.getName() + "_int8_destroy").str(),
      builder.getFunctionType({ptrType}, {}));
  Block *prepareBlock = prepare.addEntryBlock();
  Block *destroyBlock = destroy.addEntryBlock();
  OpBuilder prepareBuilder = OpBuilder::atBlockEnd(prepareBlock);
  OpBuilder destroyBuilder = OpBuilder::atBlockEnd(destroyBlock);
  Value ctx = prepareBlock->getArgument(0);
  Value preparePlans = prepareBlock->getArgument(1);
  Value status = prepareBuilder.create<arith::ConstantOp>(
      loc, prepareBuilder.getI32IntegerAttr(0));
  Value nullPtr = prepareBuilder.create<LLVM::ZeroOp>(loc, ptrType);

  for (auto [index, op] : llvm::enumerate(linears)) {
    int64_t n = op.getWeight().getType().getDimSize(0);
    int64_t k = op.getWeight().getType().getDimSize(1);
    Location opLoc = op.getLoc();

    // Prepare: move (clone) the weight constants into the prepare function;
    // chain the calls so the first failure is returned and the rest skipped.
    IRMapping mapping;
    auto cloneConstant = [&](Value value) -> Value {
      if (!value)
        return nullPtr;
      Operation *clone = prepareBuilder.clone(*value.getDefiningOp(), mapping);
      return bufferPointer(prepareBuilder, opLoc, clone->getResult(0));
    };
    bool sparse = op.getBlockSparse().has_value();
    Value scales = cloneConstant(op.getWeightScale());
    Value bias = cloneConstant(op.getBias());
    Value slot = planSlot(prepareBuilder, opLoc, preparePlans, index);
    SmallVector<Value> prepareArgs{ctx};
    if (sparse) {
      // Only the nonzero 16 x 4 blocks and their mask go into the object.
      BlockGrid grid{n, k, kSparseInt8BlockRows, kSparseInt8BlockCols};
      PackedBlocks<int8_t> packed =
          packBlocks(getConstantInt8s(op.getWeight())->data(), grid);
      auto i8 = prepareBuilder.getI8Type();
      auto maskType =
          RankedTensorType::get({grid.blockRowCount(), grid.maskRowBytes()}, i8);
      auto blocksType = RankedTensorType::get(
          {packed.storedBlocks, grid.blockSize()}, i8);
      ArrayRef<int8_t> maskBytes(
          reinterpret_cast<const int8_t *>(packed.mask.data()),
          packed.mask.size());
      Value mask = prepareBuilder.create<arith::ConstantOp>(
          opLoc, DenseElementsAttr::get(maskType, maskBytes));
      Value blocks = prepareBuilder.create<arith::ConstantOp>(
          opLoc, DenseElementsAttr::get(blocksType,
                                        ArrayRef<int8_t>(packed.blocks)));
      prepareArgs.append(
          {bufferPointer(prepareBuilder, opLoc, mask),
           bufferPointer(prepareBuilder, opLoc, blocks),
           prepareBuilder.create<arith::ConstantOp>(
               opLoc, prepareBuilder.getI64IntegerAttr(packed.storedBlocks))});
    } else {
      prepareArgs.push_back(cloneConstant(op.getWeight()));
    }
    prepareArgs.append(
        {scales, bias,
         prepareBuilder.create<arith::ConstantOp>(
             opLoc, prepareBuilder.getI64IntegerAttr(n)),
         prepareBuilder.create<arith::ConstantOp>(
             opLoc, prepareBuilder.getI64IntegerAttr(k)),
         slot});
    Value ok = prepareBuilder.create<arith::CmpIOp>(
        opLoc, arith::CmpIPredicate::eq, status,
        prepareBuilder.create<arith::ConstantOp>(opLoc,
                                                 prepareBuilder.getI32IntegerAttr(0)));
    auto ifOk = prepareBuilder.create<scf::IfOp>(
        opLoc, ok,
        [&](OpBuilder &b, Location loc) {
          Value result = b.create<func::CallOp>(loc,
                                                sparse ? kSparsePrepare
                                                       : kPrepare,
                                                TypeRange{i32}, prepareArgs)
                             .getResult(0);
          b.create<scf::YieldOp>(loc, result);
        },
        [&](OpBuilder &b, Location loc) { b.create<scf::YieldOp>(loc, status); });
    status = ifOk.getResult(0);

    // Destroy: load the plan pointer and release it.
    Value destroySlot = planSlot(destroyBuilder, opLoc, destroyBlock->getArgument(0),
                                 index);
    Value plan = destroyBuilder.create<LLVM::LoadOp>(opLoc, ptrType, destroySlot);
    destroyBuilder.create<func::CallOp>(opLoc,
                                        sparse ? kSparseDestroy : kDestroy,
                                        TypeRange{}, ValueRange{plan});

    // Run: x [..., K] as a contiguous [M, K] buffer, y a new [M, N] buffer.
    OpBuilder b(op);
    Value input = collapseToMatrix(b, opLoc, op.getInput());
    OpFoldResult rows = tensor::getMixedSizes(b, opLoc, input)[0];
    Value rowsValue = getValueOrCreateConstantIndexOp(b, opLoc, rows);
    auto outType = MemRefType::get(
        {cast<RankedTensorType>(input.getType()).getDimSize(0), n}, f32);
    SmallVector<Value> dynamicRows;
    if (outType.isDynamicDim(0))
      dynamicRows.push_back(rowsValue);
    auto output = b.create<memref::AllocOp>(opLoc, outType, dynamicRows);
    Value runPlan = b.create<LLVM::LoadOp>(opLoc, ptrType,
                                           planSlot(b, opLoc, plans, index));
    Value rowCount = b.create<arith::IndexCastOp>(opLoc, i64, rowsValue);
    Value runStatus;
    if (Value rowScales = op.getInputScales()) {
      // Dynamic quantization: the rows' scales as one contiguous [M] buffer.
      auto scalesType = cast<RankedTensorType>(rowScales.getType());
      if (scalesType.getRank() > 1) {
        SmallVector<ReassociationIndices> all(1);
        for (int64_t d = 0; d < scalesType.getRank(); ++d)
          all.front().push_back(d);
        rowScales = b.create<tensor::CollapseShapeOp>(opLoc, rowScales, all);
      }
      runStatus = b.create<func::CallOp>(
                       opLoc, sparse ? kSparseRunRows : kRunRows,
                       TypeRange{i32},
                       ValueRange{runPlan, bufferPointer(b, opLoc, input),
                                  rowCount, bufferPointer(b, opLoc, rowScales),
                                  bufferPointer(b, opLoc, output.getResult())})
                      .getResult(0);
    } else {
      runStatus =
          b.create<func::CallOp>(
               opLoc, sparse ? kSparseRun : kRun, TypeRange{i32},
               ValueRange{runPlan, bufferPointer(b, opLoc, input), rowCount,
                          b.create<arith::ConstantOp>(opLoc,
                                                      op.getInputScaleAttr()),
                          b.create<arith::ConstantOp>(
                              opLoc, b.getI32IntegerAttr(static_cast<int32_t>(
                                         op.getInputZeroPoint()))),
                          bufferPointer(b, opLoc, output.getResult())})
              .getResult(0);
    }
    Value failedRun = b.create<arith::CmpIOp>(
        opLoc, arith::CmpIPredicate::ne, runStatus,
        b.create<arith::ConstantOp>(opLoc, b.getI32IntegerAttr(0)));
    b.create<scf::IfOp>(opLoc, failedRun, [&](OpBuilder &b, Location loc) {
      b.create<LLVM::StoreOp>(loc, runStatus, planSlot(b, loc, plans, count));
      b.create<scf::YieldOp>(loc);
    });
    Value result = b.create<bufferization::ToTensorOp>(
        opLoc, output, /*restrict=*/true, /*writable=*/true);
    result = expandFromMatrix(b, opLoc, result, op.getType(), op.getInput());
    Value weight = op.getWeight(), weightScale = op.getWeightScale(),
          biasValue = op.getBias();
    op.replaceAllUsesWith(result);
    op.erase();
    for (Value constant : {weight, weightScale, biasValue})
      if (constant && constant.use_empty())
        constant.getDefiningOp()->erase();
  }
  prepareBuilder.create<func::ReturnOp>(loc, status);
  destroyBuilder.create<func::ReturnOp>(loc);
  return success();
}

} // namespace
