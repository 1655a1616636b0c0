//===- Passes.td - qb conversion passes --------------------*- tablegen -*-===//
//
// Declares the passes that lower qb IR into upstream dialects, with their
// options.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_CONVERSION_PASSES
#define QUANTBERT_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def ConvertQBToLinalg : Pass<"convert-qb-to-linalg"> {
  let summary = "Lowers the float-level qb ops to linalg, tensor, arith and math";
  let description = [{
    Rewrites every qb op except `qb.bitpack`, `qb.binary_linear` and
    `qb.attention` (lowered by `convert-qb-to-vector`) and `qb.int8_linear`
    (lowered to runtime calls) into value-semantic upstream ops on tensors,
    so that one-shot bufferization and the standard linalg -> loops / vector
    -> LLVM path apply. Dynamic dimensions are supported everywhere.

    * `qb.encoder_layer` is inlined into its parent first: the attention
      region takes the layer operands, the FFN region the attention output.
    * `qb.embedding`: one `linalg.generic` over `[batch, seq, hidden]` that
      extracts the word, position and token-type rows.
    * `qb.layer_norm` (two-pass mean and biased variance), `qb.softmax`
      (max-subtracted) and `qb.gelu` (erf or tanh form): `linalg.generic`
      reductions and element-wise maps over the last dimension.
    * `qb.add`, `qb.scale`, `qb.attention_mask`: element-wise
      `linalg.generic`.
    * `qb.linear` (float precisions): `linalg.matmul_transpose_b` on the input
      collapsed to `[M, K]`, plus a broadcast bias.
    * `qb.batch_matmul`: `linalg.batch_matmul` (or `_transpose_b`) with the
      batch dimensions collapsed into one.
    * `qb.split_heads` / `qb.merge_heads`: `tensor.expand_shape` /
      `tensor.collapse_shape` and `linalg.transpose`.
    * `qb.quantize` / `qb.dequantize`: the affine int8 formula of
      `quantbert/Support/Quantization.h`, per tensor or per channel.

    Arithmetic is in f32: f16 and bf16 operands are extended on load and
    results truncated on store; matmuls accumulate in f32. A `qb.linear` that
    still carries a quantized precision (`i8`, `ternary`, `binary`) is an
    error: `qb-materialize-quant` must run first.

    Run on a module that then holds no qb op, the pass also removes the qb
    module attributes (`qb.model`, `qb.sensitivity`), so the result is
    upstream MLIR only.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def ConvertQBToVector : Pass<"convert-qb-to-vector"> {
  let summary = "Lowers the XNOR-popcount ops and fused attention to vector loops";
  let description = [{
    Rewrites `qb.bitpack`, `qb.binary_linear` and `qb.attention` into loops
    of `vector` ops on tensors. The outer loop of each is an `scf.forall`
    whose iterations write disjoint tiles of the result (rows, column
    panels, attention heads and query chunks), which
    `convert-parallel-loops-to-runtime` runs on the runtime's threads.

    * `qb.bitpack`: per row and 64-element word, `arith.cmpf ule` against
      zero (so 0 and NaN give -1) and a `vector.bitcast` of the
      `vector<64xi1>` to an `i64`, which x86 turns into a compare into a mask
      register and a mask move. The last word reads +1 beyond `K`, so its
      padding bits are zero.
    * `qb.binary_linear`: a GEMM vectorised over output channels. The weight
      is transposed to `[words, N]` (at compile time when constant); a tile
      of `tile-m` rows by `tile-n` vectors of 8 outputs keeps
      `tile-m * tile-n` `vector<8xi64>` accumulators, and each word adds
      `ctpop(broadcast(x) xor w)` to them (vpxorq, vpopcntq, vpaddq), so no
      horizontal reduction is needed. The epilogue is the op's formula,
      `sitofp(K - 2 * acc) * scale + bias`, bit for bit. Column panels are
      the parallel loop's iterations.
    * `qb.bitpack` of a `qb.binary_linear` that has no other use, N a
      multiple of 64 (the binary FFN's first linear, whose sign GELU keeps):
      one loop whose iterations are output words. Per word and block of
      `tile-m` rows, two halves of 4 vectors compute the outputs as above
      and compare them `ule 0` as `qb.bitpack` does; each vector's 8 bits
      go to their place in the row's word. The f32 outputs are never
      stored.
    * `qb.attention`: Q is re-laid per head in f32 (values rounded to the
      storage type), K transposed to `[batch, heads, d, seq]` and V re-laid
      in the storage type; per batch, head and chunk of 64 query rows, four
      rows at a time: scores against all keys (32 keys per step, one K load
      serving the four rows) into a `4 x seq` buffer with running maxima,
      then exponentials and sums in place, then the context as sums of V
      rows weighted by broadcast probabilities (see
      `lib/Conversion/QBToVector/LowerAttention.cpp`).
  }];
  let options = [
    Option<"tileM", "tile-m", "int64_t", /*default=*/"4",
           "Rows of activations per register tile">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"3",
           "Vectors of 8 output channels per register tile">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def ConvertQBToRuntime : Pass<"convert-qb-to-runtime", "mlir::ModuleOp"> {
  let summary = "Lowers qb.int8_linear to libquantbert_rt's oneDNN int8 kernel";
  let description = [{
    Each `qb.int8_linear` in a function becomes a call of
    `qbrt_int8_linear_run(plan, x, M, x_scale, x_zero_point, y)` on a plan
    that holds its weights in oneDNN's blocked layout with the scales fixed
    at primitive creation (the fast VNNI path). Plans are made once:

    * the function gains a last argument `!llvm.ptr` to an array of
      `qb.int8_plans` plan pointers followed by an `i32` status slot; a
      failing run stores its status there (the results are then undefined)
      and the caller checks it;
    * `@<function>_int8_prepare(%ctx, %plans) -> i32` calls
      `qbrt_int8_linear_prepare` for every linear with its weight codes,
      per-channel scales and bias (the constants move out of the function)
      and returns the first failing status;
    * `@<function>_int8_destroy(%plans)` releases them.

    A linear with `block_sparse = array<i64: 16, 4>` gets a block-sparse
    plan instead: the prepare function holds only its packed form (the mask
    of stored 16 x 4 blocks and those blocks, docs/formats.md) and calls
    `qbrt_sparse_int8_linear_prepare_packed`; its runs call
    `qbrt_sparse_int8_linear_run(_rows)`, same arguments and results.

    Activations are passed as pointers to contiguous row-major buffers
    (`bufferization.to_memref` plus the aligned pointer and offset), so the
    C ABI of `quantbert/runtime.h` is called directly.
  }];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def ConvertParallelLoopsToRuntime
    : Pass<"convert-parallel-loops-to-runtime", "mlir::ModuleOp"> {
  let summary = "Runs the outermost scf.parallel loops on libquantbert_rt's thread pool";
  let description = [{
    Runs after bufferization. Every outermost `scf.parallel` without
    reductions in a `func.func` becomes a call of

    ```c
    void qbrt_parallel_for(int64_t n, int64_t grain,
                           void (*body)(int64_t begin, int64_t end, void *captures),
                           void *captures);
    ```

    (`quantbert/runtime.h`) on a new function `@<function>_parallel_<k>` that
    runs the linearized iterations `[begin, end)` (innermost dimension
    fastest) of the loop's body. The values the body uses from above are
    stored in a struct on the caller's stack, as their LLVM types
    (`builtin.unrealized_conversion_cast`, resolved by
    `reconcile-unrealized-casts` at the end of the lowering); operand-free
    pure ops such as constants and `memref.get_global` are cloned into the
    body instead. Loops nested in the body stay sequential.

    `grain`, the fewest iterations a chunk gets, keeps a chunk's estimated
    work above `min-chunk-cost`: the estimate counts one unit per element
    of the widest vector an op reads or writes (1 for scalars), times the
    trip counts of the `scf.for` loops around it (64 when not constant).
    The runtime runs a loop inline when `n <= grain`, so short loops cost
    no synchronisation.
  }];
  let options = [
    Option<"minChunkCost", "min-chunk-cost", "int64_t", /*default=*/"65536",
           "Estimated work (vector elements) below which a chunk is not split off">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::scf::SCFDialect",
  ];
}

def DeallocAfterLastUse : Pass<"qb-dealloc-after-last-use"> {
  let summary = "Frees each buffer right after its last use";
  let description = [{
    Runs after the buffer deallocation pipeline, whose ownership-based
    deallocation frees a block's buffers right before its terminator: in a
    model's forward function that keeps every layer's activations alive to
    the end (1.1 GB for BERT-base at 8 x 384 tokens). Each `memref.dealloc`
    of a buffer allocated in the same block moves to right after the last
    op of the block that uses the buffer or a value derived from it: a view
    (any memref result), an address taken from it
    (`memref.extract_aligned_pointer_as_index` and the index, integer and
    pointer casts that carry it to a runtime call), or a use nested in an
    op's regions (a parallel loop's body). A dealloc with a use in another
    block stays where it is.
  }];
}

def ApproximateMath : Pass<"qb-approximate-math"> {
  let summary = "Expands exp, erf, tanh and friends into vectorisable polynomials";
  let description = [{
    Applies MLIR's polynomial approximations (`exp`, `expm1`, `log`, `erf`,
    `tanh`, ... on f32 scalars and vectors, and f16/bf16 through f32) so the
    softmax of fused attention and the GELU of the FFN run as vector
    arithmetic instead of one libm call per element. The approximations are
    accurate to a few ulp in f32 (see the attention execution test's
    tolerance). Run it before the math-to-LLVM conversion.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def VectorizeLinalg : Pass<"qb-vectorize-linalg", "::mlir::func::FuncOp"> {
  let summary = "Tiles linalg ops to rows and vectorizes them along the last dimension";
  let description = [{
    The ops `convert-qb-to-linalg` produces for LayerNorm, GELU, residual
    adds, quantize/dequantize, bias adds and the embedding gather work on
    rows of a static hidden (or intermediate) size. This pass tiles every
    linalg op whose innermost loop has a static extent to one row, last op
    first, in an `scf.forall` over the rows (an `scf.for` nest when a
    reduction crosses rows), and fuses into that loop the linalg producers
    whose every user is on the way to the op and whose tile is one row or
    one row reduction (upstream tile-and-fuse): residual add, mean,
    variance and normalization of a LayerNorm become one pass over each
    row. An element-wise row longer than 64 and a multiple of 64 is cut
    into 64-element pieces, which stay in registers, while a row reduced
    along its length stays whole. Each row is then vectorized with upstream
    `linalg::vectorize` (element-wise bodies become vector arithmetic,
    row reductions `vector.multi_reduction`), and drops the unit dimensions
    so the rest of the pipeline sees 1-D vectors. Ops it cannot vectorize
    are left as they are (they become scalar loops later). Reductions are
    reassociated (vector tree sums), so results differ from the scalar
    loops in the last bits.

    Example: a LayerNorm row sum over `tensor<?x?x768xf32>` becomes, per
    row, `vector.transfer_read ... : vector<768xf32>` and
    `vector.multi_reduction <add>`.
  }];
  let options = [
    Option<"maxVectorElements", "max-vector-elements", "int64_t", "4096",
           "Rows longer than this are left to the scalar loops">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // QUANTBERT_CONVERSION_PASSES
