//===- QBOps.td - qb dialect operations --------------------*- tablegen -*-===//
//
// The operations of the qb dialect, in the order data flows through BERT:
// embeddings, the encoder layer grouping, linears (float, int8, binary),
// attention (unfused parts and the fused op), normalisation, activations and
// the quantization ops that connect precisions.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_DIALECT_QB_OPS
#define QUANTBERT_DIALECT_QB_OPS

include "QBBase.td"
include "QBAttrs.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def QB_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def QB_IdTensor : RankedTensorOf<[I32, I64]>;
def QB_I8Tensor : RankedTensorOf<[I8]>;
def QB_PackedTensor : RankedTensorOf<[I64]>;
def QB_F32Tensor : RankedTensorOf<[F32]>;
def QB_MaskTensor : RankedTensorOf<[I1]>;

def QB_StorageType : TypeAttrBase<"::mlir::FloatType",
    "f32, f16 or bf16 type attribute",
    CPred<"::llvm::isa<::mlir::Float32Type, ::mlir::Float16Type, "
          "::mlir::BFloat16Type>($_self)">> {
  let constBuilderCall = "::mlir::TypeAttr::get($0)";
}

//===----------------------------------------------------------------------===//
// Embeddings
//===----------------------------------------------------------------------===//

def QB_EmbeddingOp : QB_Op<"embedding", [Pure]> {
  let summary = "BERT input embeddings: word + position + token type";
  let description = [{
    Sums the three BERT embedding lookups for every token, in Hugging Face's
    order (it matters for rounding):
    `result[b, s] = (words[input_ids[b, s]] +
    token_types[token_type_ids[b, s]]) + positions[s]`. The LayerNorm that Hugging Face's
    `BertEmbeddings` applies afterwards is a separate `qb.layer_norm`.

    `input_ids` and `token_type_ids` are `[batch, seq]`; the tables are
    `[vocab, hidden]`, `[max_positions, hidden]` and `[type_vocab, hidden]`;
    the result is `[batch, seq, hidden]`. A static `seq` must not exceed
    `max_positions`. Ids outside a table are undefined behaviour here: the
    generated entry points check them before the model runs.

    `precision` is the storage assigned to the word and position tables:
    `i8` (int8 per row, as SensiMix and Q8BERT store embeddings) asks
    `qb-materialize-quant` to quantize whichever of them is still float;
    `f32`, the default, leaves the tables as they are (either may still be
    a `qb.dequantize` of imported int8 codes). Import sets `i8` when both
    tables come as int8 codes.

    No folds: a lookup of constant ids in constant tables could be folded
    exactly, but never occurs in a model.

    Example:

    ```mlir
    %e = qb.embedding %ids, %types words(%w) positions(%p) token_types(%t)
        : (tensor<?x?xi32>, tensor<?x?xi32>, tensor<30522x768xf32>,
           tensor<512x768xf32>, tensor<2x768xf32>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins QB_IdTensor:$input_ids, QB_IdTensor:$token_type_ids,
                       QB_FloatTensor:$words, QB_FloatTensor:$positions,
                       QB_FloatTensor:$token_types,
                       DefaultValuedAttr<QB_PrecisionAttr,
                                         "::quantbert::qb::Precision::f32">:$precision);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = [{
    $input_ids `,` $token_type_ids `words` `(` $words `)`
    `positions` `(` $positions `)` `token_types` `(` $token_types `)`
    (`precision` `` $precision^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Encoder layer grouping
//===----------------------------------------------------------------------===//

def QB_EncoderLayerOp : QB_Op<"encoder_layer", [RecursiveMemoryEffects]> {
  let summary = "One transformer encoder layer: an attention and an FFN region";
  let description = [{
    Groups the ops of encoder layer number `layer` (0-based, counted from the
    embeddings) into its two sub-layers, so that any op can ask which layer and
    which module it belongs to (`quantbert::qb::getLayerPosition`).

    The `attention` region receives the layer input `[batch, seq, hidden]` and
    the attention mask `[batch, seq]` as block arguments and yields the output
    of the attention sub-layer (after its residual add and LayerNorm). The
    `ffn` region receives that value and yields the layer output. Both regions
    have one block ending in `qb.yield`.

    The regions are not isolated from above: weights may be defined outside
    the layer (function arguments, constants) or inside it.

    In a weight-shared model (ALBERT-style groups) each layer carries the
    discardable attribute `qb.layer_group`, the stored layer whose weights
    it runs: its weight constants are the group's (one attribute each, so
    stored once), and `qb-assign-precision` treats the group's linears in
    all its layers as one unit with the group's sensitivity.

    Example:

    ```mlir
    %out = qb.encoder_layer layer 3 (%h, %mask)
        : (tensor<?x?x768xf32>, tensor<?x?xi32>) -> tensor<?x?x768xf32>
    attention {
    ^bb0(%x: tensor<?x?x768xf32>, %m: tensor<?x?xi32>):
      ...
      qb.yield %attn_out : tensor<?x?x768xf32>
    } ffn {
    ^bb0(%a: tensor<?x?x768xf32>):
      ...
      qb.yield %ffn_out : tensor<?x?x768xf32>
    }
    ```
  }];
  let arguments = (ins QB_FloatTensor:$hidden, QB_IdTensor:$mask,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$layer);
  let results = (outs QB_FloatTensor:$result);
  let regions = (region SizedRegion<1>:$attention, SizedRegion<1>:$ffn);
  let assemblyFormat = [{
    `layer` $layer ` ` `(` $hidden `,` $mask `)` attr-dict `:`
    functional-type(operands, results) `attention` $attention `ffn` $ffn
  }];
  let hasRegionVerifier = 1;
}

def QB_YieldOp : QB_Op<"yield", [
    Pure, Terminator, ReturnLike, HasParent<"EncoderLayerOp">]> {
  let summary = "Terminates a region of qb.encoder_layer";
  let description = [{
    Yields the value a sub-layer region of `qb.encoder_layer` produces: the
    attention sub-layer output from `attention`, the layer output from `ffn`.

    ```mlir
    qb.yield %v : tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

//===----------------------------------------------------------------------===//
// Linears
//===----------------------------------------------------------------------===//

def QB_LinearOp : QB_Op<"linear", [Pure]> {
  let summary = "Float-level linear layer annotated with its target precision";
  let description = [{
    `result = input * weight^T + bias` over the last dimension of `input`:
    `input` is `[..., in_features]`, `weight` is `[out_features, in_features]`
    (Hugging Face layout), `bias` (optional) is `[out_features]`, and the
    result is `[..., out_features]`. All operands share one float element type.

    This is the form import produces. The weights are the latent (float)
    weights; `precision` says how the op is meant to compute once compressed
    and `quantizer` which quantizer maps the weights (it must agree with the
    precision: `symmetric_ema`/`asymmetric_index` need `i8`, `twn` needs
    `ternary`, `binary_sign`/`binary_mean_scale` need `binary`; float
    precisions take no quantizer). `qb-assign-precision` sets them and
    `qb-materialize-quant` rewrites the op into `qb.int8_linear` or
    `qb.bitpack` + `qb.binary_linear`. `role` names the Hugging Face module
    the linear corresponds to. `input_scale` is the static activation scale
    learned by quantization-aware training (Q8BERT's EMA range divided by
    127); an 8-bit linear needs it to quantize its input.

    No folds: nothing about a linear is numerically exact to fold away.

    Example:

    ```mlir
    %q = qb.linear %x, %wq bias(%bq) precision<i8> quantizer<symmetric_ema>
        role<query> : (tensor<?x?x768xf32>, tensor<768x768xf32>,
                       tensor<768xf32>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input, QB_FloatTensor:$weight,
                       Optional<QB_FloatTensor>:$bias,
                       DefaultValuedAttr<QB_PrecisionAttr,
                                         "::quantbert::qb::Precision::f32">:$precision,
                       OptionalAttr<QB_QuantizerAttr>:$quantizer,
                       OptionalAttr<QB_LinearRoleAttr>:$role,
                       OptionalAttr<F32Attr>:$input_scale);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `)`)?
    (`precision` `` $precision^)? (`quantizer` `` $quantizer^)?
    (`role` `` $role^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The module (attention or FFN) implied by `role`, if it names one.
    std::optional<::quantbert::qb::LayerModule> getRoleModule();
  }];
}

def QB_Int8LinearOp : QB_Op<"int8_linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "Linear on int8 inputs and int8 per-channel-scaled weights";
  let description = [{
    `result[..., n] = input_scale * weight_scale[n] *
    sum_k (input[..., k] - input_zero_point) * weight[n, k] + bias[n]`,
    accumulated exactly in 32-bit integers and scaled in f32.

    `input` is `[..., K]` int8, `weight` is `[N, K]` int8 with symmetric
    per-output-channel scales `weight_scale` (`[N]`, f32), `bias` (optional)
    is `[N]` f32 and the result `[..., N]` f32. The input's scale is either

    * static, the attribute `input_scale` (with `input_zero_point`): the
      input comes from `qb.quantize` with that scale (Q8BERT's EMA range,
      or a post-training calibration), so the runtime kernel can fix its
      output scales when it creates the oneDNN primitive; or
    * dynamic, the operand `input_scales` (`[...]` f32, one per row, no
      zero point): the input comes from `qb.quantize_rows`, and
      `result[..., n] = (weight_scale[n] * sum_k input[..., k] *
      weight[n, k]) * input_scales[...] + bias[n]`, in that order.

    Exactly one of the two is given.

    `block_sparse = array<i64: 16, 4>` marks a linear whose weight is
    pruned in aligned blocks of 16 output channels x 4 inputs (the block of
    the runtime's block-sparse int8 kernel, the only one accepted): the
    lowering then stores only the blocks with a nonzero weight (the packed
    form of docs/formats.md) and calls the block-sparse kernel, which skips
    the rest. The result is the same formula bit for bit; any weights are
    valid (zeros outside whole blocks are ordinary weights).
    `qb-mark-block-sparse` sets it where enough blocks are zero. No folds.

    Example:

    ```mlir
    %y = qb.int8_linear %xq, %wq weight_scale(%ws) bias(%b)
        {input_scale = 0.0235 : f32}
        : (tensor<?x?x768xi8>, tensor<3072x768xi8>, tensor<3072xf32>,
           tensor<3072xf32>) -> tensor<?x?x3072xf32>
    %q, %s = qb.quantize_rows %x
        : tensor<?x?x768xf32> -> tensor<?x?x768xi8>, tensor<?x?xf32>
    %z = qb.int8_linear %q, %wq weight_scale(%ws) input_scales(%s) bias(%b)
        : (tensor<?x?x768xi8>, tensor<3072x768xi8>, tensor<3072xf32>,
           tensor<?x?xf32>, tensor<3072xf32>) -> tensor<?x?x3072xf32>
    ```
  }];
  let arguments = (ins QB_I8Tensor:$input, QB_I8Tensor:$weight,
                       QB_F32Tensor:$weight_scale,
                       Optional<QB_F32Tensor>:$input_scales,
                       Optional<QB_F32Tensor>:$bias,
                       OptionalAttr<F32Attr>:$input_scale,
                       DefaultValuedAttr<I32Attr, "0">:$input_zero_point,
                       OptionalAttr<DenseI64ArrayAttr>:$block_sparse);
  let results = (outs QB_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `weight_scale` `(` $weight_scale `)`
    (`input_scales` `(` $input_scales^ `)`)?
    (`bias` `(` $bias^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QB_QuantizeRowsOp : QB_Op<"quantize_rows", [Pure]> {
  let summary = "Dynamic symmetric int8 quantization, one scale per row";
  let description = [{
    Per row (the last dimension), `scale = max|x| / 127` (1 when the row is
    all zeros) and `result = clamp(round_half_even(x / scale), -127, 127)`,
    evaluated in f32 as `qb.quantize` does; `scales` holds each row's scale.
    This is dynamic quantization as ONNX Runtime's `quantize_dynamic` does
    it, but per row (one scale per token) and symmetric, for
    `qb.int8_linear`'s `input_scales`. NaN maps to 0. No folds.

    ```mlir
    %q, %s = qb.quantize_rows %x
        : tensor<?x?x768xf32> -> tensor<?x?x768xi8>, tensor<?x?xf32>
    ```
  }];
  let arguments = (ins QB_F32Tensor:$input);
  let results = (outs QB_I8Tensor:$result, QB_F32Tensor:$scales);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($result) `,` type($scales)
  }];
  let hasVerifier = 1;
}

def QB_BitpackOp : QB_Op<"bitpack", [Pure]> {
  let summary = "Packs signs into 64-bit words along the last dimension";
  let description = [{
    Binarizes `input` (`x > 0` is +1, anything else -1) and packs the signs of
    each row along the last dimension `K` into `ceil(K / 64)` 64-bit words:
    element `k` goes to bit `k % 64` of word `k / 64`, a set bit meaning -1.
    Padding bits in the last word are zero. The result is
    `[..., ceil(K / 64)]` i64.

    Folds: a constant input folds to its packed constant, computed with the
    same rule (packing is exact).

    Example:

    ```mlir
    %p = qb.bitpack %x : tensor<?x?x3072xf32> -> tensor<?x?x48xi64>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input);
  let results = (outs QB_PackedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QB_BinaryLinearOp : QB_Op<"binary_linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "Linear on packed sign bits: XNOR-popcount with output transform";
  let description = [{
    `result[..., n] = (K - 2 * popcount(input[..., :] xor weight[n, :]))
    * scale[n] + bias[n]`, where `K = in_features` and both operands are packed
    by the `qb.bitpack` rule (`[..., ceil(K / 64)]` and `[N, ceil(K / 64)]`
    i64). `K - 2 * popcount` is the exact dot product of the two +-1 vectors
    because padding bits are zero in both. `scale` (`[N]` f32) is the weight
    scale (ones for SensiMix's unscaled sign, mean |W| for BWN) and `bias`
    (optional, `[N]` f32) the float bias; the result is `[..., N]` f32.

    `block_mask` (optional, `[ceil(N / 32), ceil(K / 64)]` i1) makes the
    weight block-sparse: a block is 32 output rows by one packed word (64
    inputs), the granule of the XNOR-popcount kernel, and a block whose mask
    element is false holds zeros, so its words add nothing:
    `result[..., n] = (sum over words w with block_mask[n / 32, w] of
    bits(w) - 2 * popcount(input[..., w] xor weight[n, w])) * scale[n] +
    bias[n]`, `bits(w)` being the inputs word `w` holds (64, fewer in the
    last word). The weight's words in false blocks are ignored. The
    lowering stores only the true blocks and skips the rest; it needs the
    weight and the mask constant. `qb-materialize-quant` sets the mask where
    a binary weight has whole zero blocks (a pruned 1-bit linear).

    No folds.

    Example:

    ```mlir
    %y = qb.binary_linear %xp, %wp scale(%s) bias(%b) {in_features = 3072}
        : (tensor<?x?x48xi64>, tensor<768x48xi64>, tensor<768xf32>,
           tensor<768xf32>) -> tensor<?x?x768xf32>
    %z = qb.binary_linear %xp, %wp scale(%s) block_mask(%m)
        {in_features = 3072}
        : (tensor<?x?x48xi64>, tensor<768x48xi64>, tensor<768xf32>,
           tensor<24x48xi1>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins QB_PackedTensor:$input, QB_PackedTensor:$weight,
                       QB_F32Tensor:$scale, Optional<QB_F32Tensor>:$bias,
                       Optional<QB_MaskTensor>:$block_mask,
                       ConfinedAttr<I64Attr, [IntPositive]>:$in_features);
  let results = (outs QB_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `scale` `(` $scale `)` (`bias` `(` $bias^ `)`)?
    (`block_mask` `(` $block_mask^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def QB_SplitHeadsOp : QB_Op<"split_heads", [Pure]> {
  let summary = "Reshapes [batch, seq, hidden] into [batch, heads, seq, head_dim]";
  let description = [{
    `result[b, h, s, d] = input[b, s, h * head_dim + d]` with
    `head_dim = hidden / num_heads` (Hugging Face's `transpose_for_scores`).

    Folds: `split_heads(merge_heads(x))` is `x` when the head counts agree
    (pure data movement, exact).

    ```mlir
    %qh = qb.split_heads %q {num_heads = 12 : i64}
        : tensor<?x?x768xf32> -> tensor<?x12x?x64xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QB_MergeHeadsOp : QB_Op<"merge_heads", [Pure]> {
  let summary = "Reshapes [batch, heads, seq, head_dim] into [batch, seq, hidden]";
  let description = [{
    The inverse of `qb.split_heads`:
    `result[b, s, h * head_dim + d] = input[b, h, s, d]`.

    Folds: `merge_heads(split_heads(x))` is `x` (exact).

    ```mlir
    %ctx = qb.merge_heads %c : tensor<?x12x?x64xf32> -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QB_BatchMatmulOp : QB_Op<"batch_matmul", [Pure]> {
  let summary = "Matrix product over the last two dimensions, batched over the rest";
  let description = [{
    `result[..., m, n] = sum_k lhs[..., m, k] * rhs[..., k, n]`, or with
    `transpose_rhs`, `sum_k lhs[..., m, k] * rhs[..., n, k]` (as in `Q K^T`).
    The leading (batch) dimensions of both operands and the result agree, and
    all three share one float element type; accumulation is in f32.

    ```mlir
    %s = qb.batch_matmul %qh, %kh transpose_rhs
        : (tensor<?x12x?x64xf32>, tensor<?x12x?x64xf32>) -> tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$lhs, QB_FloatTensor:$rhs,
                       UnitAttr:$transpose_rhs);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`transpose_rhs` $transpose_rhs^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QB_ScaleOp : QB_Op<"scale", [Pure, SameOperandsAndResultType]> {
  let summary = "Multiplies every element by a constant factor";
  let description = [{
    `result = input * factor` (the `1 / sqrt(head_dim)` of attention scores).

    Folds: a factor of exactly 1 folds to the input (x * 1 is exact in IEEE
    arithmetic, NaN included up to payload).

    ```mlir
    %s = qb.scale %scores by 0.125 : tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input, F32Attr:$factor);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = "$input `by` $factor attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QB_AttentionMaskOp : QB_Op<"attention_mask", [Pure]> {
  let summary = "Adds a large negative value to the scores of padded keys";
  let description = [{
    `result[b, h, i, j] = scores[b, h, i, j] + (mask[b, j] == 0 ? fill : 0)`
    for scores `[batch, heads, query_seq, key_seq]` and an integer mask
    `[batch, key_seq]` (1 = real token, 0 = padding), as Hugging Face BERT's
    extended attention mask does. `fill` defaults to -10000, which makes the
    masked probabilities exactly zero in f32 after softmax.

    ```mlir
    %m = qb.attention_mask %s, %mask
        : (tensor<?x12x?x?xf32>, tensor<?x?xi32>) -> tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$scores, QB_IdTensor:$mask,
                       DefaultValuedAttr<F32Attr, "-10000.0f">:$fill);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = [{
    $scores `,` $mask attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QB_AttentionOp : QB_Op<"attention", [Pure]> {
  let summary = "Fused multi-head self-attention";
  let description = [{
    Multi-head scaled dot-product attention on `[batch, seq, hidden]`
    projections: per head `h`, `softmax(Q_h K_h^T * scale + mask_fill) V_h`,
    heads merged back into `[batch, seq, hidden]`. It is exactly the chain
    `split_heads` -> `batch_matmul transpose_rhs` -> `scale` ->
    `attention_mask` -> `softmax` -> `batch_matmul` -> `merge_heads`, which
    `qb-fuse-attention` replaces by this op.

    `storage_type` (f32, f16 or bf16; f32 when absent) is the type Q, K and V
    are stored in while attention runs; products and sums always accumulate
    in f32. The lowering computes the scores of four query rows at a time
    against all keys in a small buffer, so no `seq x seq` buffer is
    materialised. `mask` (optional, `[batch, seq]`,
    0 = padding) adds `mask_fill` to the scores of padded keys, like
    `qb.attention_mask`.

    No folds.

    ```mlir
    %ctx = qb.attention %q, %k, %v mask(%mask)
        {num_heads = 12 : i64, scale = 0.125 : f32, storage_type = f16}
        : (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>,
           tensor<?x?xi32>) -> tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$query, QB_FloatTensor:$key,
                       QB_FloatTensor:$value, Optional<QB_IdTensor>:$mask,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       F32Attr:$scale,
                       DefaultValuedAttr<F32Attr, "-10000.0f">:$mask_fill,
                       OptionalAttr<QB_StorageType>:$storage_type);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The type Q, K and V are stored in: `storage_type`, f32 when absent.
    ::mlir::FloatType getStorageElementType();
  }];
}

//===----------------------------------------------------------------------===//
// Normalisation and activations
//===----------------------------------------------------------------------===//

def QB_LayerNormOp : QB_Op<"layer_norm", [
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Layer normalisation over the last dimension";
  let description = [{
    `result = (input - mean) / sqrt(var + epsilon) * gamma + beta` with the
    mean and (biased) variance of each row along the last dimension, computed
    in f32. `gamma` and `beta` are `[hidden]`, of the input's element type.

    No folds.

    ```mlir
    %n = qb.layer_norm %x, %gamma, %beta {epsilon = 1.0e-12 : f64}
        : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input, QB_FloatTensor:$gamma,
                       QB_FloatTensor:$beta,
                       DefaultValuedAttr<F64Attr, "1e-12">:$epsilon);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta attr-dict `:` type($input) `,` type($gamma)
    `,` type($beta)
  }];
  let hasVerifier = 1;
}

def QB_GeluOp : QB_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    Element-wise `0.5 * x * (1 + erf(x / sqrt(2)))` (`approximation = erf`, the
    default and BERT's) or `0.5 * x * (1 + tanh(sqrt(2 / pi) *
    (x + 0.044715 x^3)))` (`tanh`).

    No folds. (`sign(gelu(x)) = sign(x)` lets a binarized consumer skip the
    GELU: `qb-materialize-quant` packs a binary linear's input from before
    its GELU.)

    ```mlir
    %g = qb.gelu %x : tensor<?x?x3072xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input,
                       DefaultValuedAttr<QB_GeluApproximationAttr,
                                         "::quantbert::qb::GeluApproximation::erf">:$approximation);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`approximation` `` $approximation^)? attr-dict `:` type($input)
  }];
}

def QB_SoftmaxOp : QB_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "Softmax over the last dimension";
  let description = [{
    `result[..., i] = exp(x[..., i] - m) / sum_j exp(x[..., j] - m)` with
    `m = max_j x[..., j]`, computed in f32.

    ```mlir
    %p = qb.softmax %s : tensor<?x12x?x?xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$input);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def QB_AddOp : QB_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "Element-wise addition (residual connections)";
  let description = [{
    `result = lhs + rhs` for two tensors of the same type; used for the
    residual connections of the attention and FFN sub-layers.

    No folds: adding a zero tensor is not the identity for `-0.0`.

    ```mlir
    %r = qb.add %x, %y : tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins QB_FloatTensor:$lhs, QB_FloatTensor:$rhs);
  let results = (outs QB_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

class QB_QuantParamsOp<string mnemonic, list<Trait> traits = []>
    : QB_Op<mnemonic, !listconcat(traits, [Pure])> {
  dag quantParams = (ins DenseF32ArrayAttr:$scale,
                         OptionalAttr<DenseI32ArrayAttr>:$zero_point,
                         DefaultValuedAttr<F32Attr, "0.0f">:$offset,
                         OptionalAttr<ConfinedAttr<I64Attr, [IntNonNegative]>>:$axis);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// The quantization parameters of this op, one entry per channel (a single
    /// entry when quantizing per tensor).
    ::quantbert::qb::QuantParams getQuantParams();
  }];
}

def QB_QuantizeOp : QB_QuantParamsOp<"quantize"> {
  let summary = "Affine quantization of a float tensor to int8";
  let description = [{
    `result = clamp(round_half_even((input - offset) / scale) + zero_point,
    -128, 127)`, evaluated in f32; NaN maps to `zero_point`. `scale` holds one
    entry (per tensor) or one per index of dimension `axis` (per channel);
    `zero_point` (default 0: symmetric) has as many entries as `scale`.
    `offset` (default 0) is only used by SensiMix's asymmetric index format.

    Folds: (1) a constant input folds to its int8 constant, computed with the
    formula above: this is exactly what the kernel computes, so compile-time
    weight quantization is legal. (2) `quantize(dequantize(q))` with identical
    parameters, `offset = 0` and an f32 intermediate folds to `q`:
    `(q - z) * s / s` in f32 is within two ulps of `q - z`, far below the 0.5
    that could change the rounding, for every int8 `q`. With a nonzero offset
    the subtraction can cancel catastrophically, and a bf16 intermediate
    (8 significant bits) cannot hold every `(q - z) * s` closely enough, so
    those pairs are not folded. The reverse pair,
    `dequantize(quantize(x))`, is never folded: it is the quantization error.

    ```mlir
    %q = qb.quantize %x {scale = array<f32: 0.0235>}
        : tensor<?x?x768xf32> -> tensor<?x?x768xi8>
    ```
  }];
  let arguments = !con((ins QB_FloatTensor:$input), quantParams);
  let results = (outs QB_I8Tensor:$result);
}

def QB_DequantizeOp : QB_QuantParamsOp<"dequantize"> {
  let summary = "Maps int8 codes back to floats";
  let description = [{
    `result = (input - zero_point) * scale + offset`, evaluated in f32, with
    the parameters as in `qb.quantize` (per tensor or per `axis`).

    Folds: a splat constant input folds to its float splat (exact: it is the
    same f32 expression). Dense constants are legal to fold but are not
    folded, because that would store quantized weights as floats again.
    `dequantize(quantize(x))` is never folded.

    ```mlir
    %w = qb.dequantize %codes {scale = array<f32: 0.0031>,
                               zero_point = array<i32: -128>, offset = -0.41 : f32}
        : tensor<768x768xi8> -> tensor<768x768xf32>
    ```
  }];
  let arguments = !con((ins QB_I8Tensor:$input), quantParams);
  let results = (outs QB_FloatTensor:$result);
}

#endif // QUANTBERT_DIALECT_QB_OPS
