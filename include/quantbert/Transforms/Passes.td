//===- Passes.td - qb-to-qb transformation passes ----------*- tablegen -*-===//
//
// Declares the passes that rewrite qb IR into qb IR, with their options.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TRANSFORMS_PASSES
#define QUANTBERT_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def AssignPrecision : Pass<"qb-assign-precision", "mlir::ModuleOp"> {
  let summary = "Assigns a precision to every encoder linear from sensitivity data";
  let description = [{
    Sets `precision` (and a matching default `quantizer`) on every `qb.linear`
    inside a `qb.encoder_layer`. All linears of one module (a layer's attention
    or its FFN) get the same precision. Three policies:

    * `policy=sensimix mp-layers=K`: SensiMix's architecture. Attention is
      8-bit in every layer; the FFN is 1-bit in the top `K` layers (the "MP
      encoders") and 8-bit below them.
    * `policy=int8`: every encoder linear int8 (post-training quantization
      of a float model: weights per output channel; inputs at the linear's
      `input_scale` when it has one, else per row at run time).
    * `policy=budget budget=F`: minimise the total measured sensitivity (the
      task-loss increase when a module alone is quantized to a precision)
      subject to the model's size being at most `F` times its FP32 size. The
      solver is an exact dynamic program over modules: it keeps, after each
      module, every non-dominated (size, sensitivity) pair, so it never misses
      a feasible assignment with a lower total. Candidate precisions default
      to f32, i8, ternary and binary (`precisions=...` narrows them); a
      module can only take a precision it has a sensitivity for (f32 costs 0).

    In both policies the word and position embedding tables become int8
    per row (`embeddings=i8`, the default: `qb.embedding` gets
    `precision<i8>` and `qb-materialize-quant` quantizes its float tables,
    as SensiMix and Q8BERT store them and as the runtime looks them up);
    `embeddings=keep` leaves them as they are.

    Size counts every parameter the qb ops use (linear weights and biases,
    embedding tables, LayerNorm parameters) at its bit-width: 32 for f32, 16
    for f16/bf16, 8 for i8, 2 for ternary, 1 for binary, plus one f32 scale
    per output channel for quantized linears and per row for int8 embedding
    tables. A table or weight that already is a `qb.dequantize` of int8
    codes counts at 8 bits plus its scales. Other parameters outside encoder
    layers keep their current precision. These are bit-width sizes: the
    compiled model runs ternary weights on the int8 path and stores them in
    8 bits, so a ternary module saves bytes here but not in the object
    (`quant-bert-compile` prints the object's weight bytes); leave ternary
    out of `precisions` when the budget is the object's size.
    Pruned weights count what their storage keeps: when a linear's weight
    values are known (a float constant, or int8 codes whose zero point is
    0) and some of its aligned 16 x 4 blocks are all zero, its int8 or
    ternary codes count block-sparse, the nonzero blocks plus a one-bit
    mask per block (docs/formats.md), when that is smaller; binary signs
    and floats store every weight.

    Sensitivity data comes from a `sensitivity.json` file (`sensitivity=`
    option; docs/formats.md) or else from the module attribute
    `qb.sensitivity` (the importer copies a bundle's `sensitivity.json`
    there): an array of dictionaries `{layer = 0 : i64, module = "attention",
    sensitivity = {i8 = 1.0e-3 : f64, binary = 0.2 : f64}}`.

    Every module's choice is explained by a remark on its first linear
    (the chosen precision, its sensitivity and size, and the alternatives),
    and a summary remark on the module gives the total size and sensitivity.
  }];
  let options = [
    Option<"policy", "policy", "std::string", /*default=*/"\"budget\"",
           "Assignment policy: 'budget' (minimise sensitivity under a size "
           "budget), 'sensimix' (8-bit attention, 1-bit FFN in the top "
           "mp-layers layers) or 'int8' (every encoder linear 8-bit)">,
    Option<"budget", "budget", "double", /*default=*/"0.0",
           "Model size budget as a fraction of the FP32 size, in (0, 1]">,
    Option<"mpLayers", "mp-layers", "int64_t", /*default=*/"-1",
           "SensiMix policy: number of top layers whose FFN is 1-bit">,
    Option<"sensitivityFile", "sensitivity", "std::string", /*default=*/"",
           "sensitivity.json to read (default: the qb.sensitivity module "
           "attribute)">,
    ListOption<"precisions", "precisions", "std::string",
               "Candidate precisions for the budget policy "
               "(default: f32,i8,ternary,binary)">,
    Option<"embeddings", "embeddings", "std::string", /*default=*/"\"i8\"",
           "Word and position embedding tables: 'i8' (int8 per row, "
           "counted so in the size) or 'keep'">,
  ];
}

def MaterializeQuant : Pass<"qb-materialize-quant"> {
  let summary = "Rewrites annotated qb.linear into int8 and binary linears";
  let description = [{
    Turns every `qb.linear` whose precision is quantized into the ops that
    compute it, quantizing and packing its constant weights at compile time
    with the quantizer it names (the formulas in
    `quantbert/Support/WeightQuantizers.h`, shared with the training front
    end's export):

    * `i8` with `symmetric_ema` and `ternary` with `twn`:
      `qb.quantize` of the input (the linear's `input_scale`) feeding
      `qb.int8_linear` with int8 weight codes and per-channel scales; or,
      for a linear without `input_scale`, dynamic quantization:
      `qb.quantize_rows` (one scale per row, computed at run time) feeding
      the linear's `input_scales`. A float weight is quantized per output
      channel (`max|W[n, :]| / 127`). Ternary codes are {-1, 0, 1} with the
      TWN scale (per tensor), so ternary runs on the int8 path.
    * `binary` with `binary_sign` (scale 1) or `binary_mean_scale` (mean
      |W|): `qb.bitpack` of the input feeding `qb.binary_linear` with the
      weight's packed signs. An input that is a `qb.gelu` is packed from the
      GELU's input, since `gelu(x) > 0` exactly when `x > 0` (SensiMix's
      1-bit FFN output layer; the GELU goes unless something else reads
      it). The one f32 exception is the smallest denormal, `x = 2^-149`,
      whose GELU rounds to 0. A pruned weight, one with whole zero blocks
      of 32 output rows x 64 inputs, gets a `block_mask` marking the other
      blocks: those zeros stay zeros (a sign cannot be 0), the kernel skips
      them, and mean |W| is over the stored blocks.
    * `i8` with `asymmetric_index`: SensiMix's storage-only format. The
      weight becomes int8 codes behind a `qb.dequantize` (index form) and the
      linear computes in f32.

    A weight that is already `qb.dequantize` of constant codes (as import
    produces for exported bundles) keeps its codes and scales exactly when
    they fit the precision (int8 codes for `i8`, codes in {-1, 0, 1} for
    `ternary`); otherwise its dequantized values are quantized again, as a
    constant float weight is. Float precisions are left alone. A quantized
    linear whose weight is not constant or whose activations are not f32
    gets an error.

    A `qb.embedding` with `precision<i8>` gets its word and position tables
    as int8 codes behind a per-row `qb.dequantize` (symmetric,
    `max|row| / 127`), which the embedding lowering looks up without
    dequantizing the table; a table that already is a `qb.dequantize` of
    int8 codes stays as it is, and the token-type table (two rows) stays
    f32. A float table that is not a constant gets an error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def MergeInt8Linears : Pass<"qb-merge-int8-linears"> {
  let summary = "Merges int8 linears that read the same quantized input";
  let description = [{
    Groups the `qb.int8_linear` ops of a block that read the same input
    value with the same `input_scale` and `input_zero_point` (or the same
    per-row `input_scales`) and have
    constant weights, scales and biases (an attention layer's query, key
    and value projections, once CSE has made their `qb.quantize` one), and
    replaces each group by one `qb.int8_linear` over the weights, scales and
    biases concatenated along N, placed where the first was; each original
    result becomes a `tensor.extract_slice` of the merged columns. The
    runtime then makes one oneDNN call (and one thread-pool fork-join)
    where it made three, over a wider N. Results are unchanged bit for bit:
    every output element is the same integer sum, scaled the same way. A
    missing bias is zeros in the merged one.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def MarkBlockSparse : Pass<"qb-mark-block-sparse"> {
  let summary = "Sends int8 linears with mostly zero 16x4 weight blocks to "
                "the block-sparse kernel";
  let description = [{
    For each `qb.int8_linear` with a constant weight and no `block_sparse`
    attribute, counts the aligned blocks of 16 output channels x 4 inputs
    whose weights are all zero (edge blocks count their part inside the
    matrix) and, when they are at least `min-zero-blocks` of all blocks,
    sets `block_sparse = array<i64: 16, 4>`: the lowering then embeds only
    the other blocks and calls the runtime's block-sparse kernel. The
    default, one half, is where that kernel stops being slower than the
    dense oneDNN one (docs/results/kernels.md: 0.98-1.42x at 50% on
    BERT-base shapes, 2.1-2.4x at 80%). Gradual magnitude pruning
    (`quant-bert-train finetune --sparsity`) makes such weights; dense
    trained weights have practically no zero block. Results are unchanged.
  }];
  let options = [
    Option<"minZeroBlocks", "min-zero-blocks", "double", /*default=*/"0.5",
           "Least share of all-zero 16x4 blocks, in [0, 1], that makes a "
           "linear block-sparse">,
  ];
}

def FuseAttention : Pass<"qb-fuse-attention"> {
  let summary = "Fuses the unfused self-attention chain into qb.attention";
  let description = [{
    Recognises multi-head scaled dot-product attention as import writes it,

    ```
    merge_heads(batch_matmul(softmax(attention_mask(scale(
        batch_matmul(split_heads(Q), split_heads(K), transpose_rhs)),
        mask)), split_heads(V)))
    ```

    (the `scale` and `attention_mask` steps optional), and replaces it with
    one `qb.attention` whose Q, K and V are stored in `storage-type` (f16 by
    default) with f32 accumulation. The lowering of `qb.attention` keeps the
    scores of four query rows at a time, so no `seq x seq` score buffer
    exists.

    Every intermediate must have no other user: a chain whose attention
    probabilities are also returned (for distillation, say) is left unfused.
  }];
  let options = [
    Option<"storageType", "storage-type", "std::string", /*default=*/"\"f16\"",
           "Storage type of Q, K and V inside the fused op: f16, bf16 or f32">,
  ];
}

#endif // QUANTBERT_TRANSFORMS_PASSES
