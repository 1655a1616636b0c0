//===- QBBase.td - The qb dialect definition ---------------*- tablegen -*-===//
//
// The qb dialect represents mixed-precision BERT-family encoders. This file
// declares the dialect itself and the base classes its ops and attributes use.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_DIALECT_QB_BASE
#define QUANTBERT_DIALECT_QB_BASE

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def QB_Dialect : Dialect {
  let name = "qb";
  let cppNamespace = "::quantbert::qb";
  let summary = "Mixed-precision BERT encoders: float, int8, ternary and binary linears";
  let description = [{
    The `qb` dialect describes a BERT-family encoder at the level a compression
    toolkit reasons about it: embeddings, linear layers with a per-op numeric
    precision, multi-head self-attention, and the bit-level forms a linear takes
    once it is quantized (`qb.int8_linear`) or binarized (`qb.bitpack` +
    `qb.binary_linear`).

    Ops have value semantics on builtin `tensor` types so that upstream
    bufferization, linalg and vector apply after lowering. Bit-level facts (the
    precision, the quantizer, scales and zero points, the packing rule) live in
    attributes. Dimensions may be dynamic (`?`): a compiled model serves any
    batch size and sequence length up to `max_position_embeddings`.

    Encoder layers are grouped by `qb.encoder_layer`, whose `attention` and
    `ffn` regions tell every op inside which layer and which module it belongs
    to; passes that assign precision from per-module sensitivity data use that.

    Conventions used throughout:

    * Linear weights use the Hugging Face layout `[out_features, in_features]`
      (`y = x W^T + b`).
    * Binarization maps `x > 0` to +1 and everything else (0, negative, NaN)
      to -1, in training, in weight packing and in the kernels alike.
    * Packed sign bits: element `k` of a row goes to bit `k % 64` (least
      significant first) of 64-bit word `k / 64`; a set bit means -1. The last
      word is padded with zero bits (+1) in both operands, so padding never
      contributes to the XOR-popcount and the true `K` enters the output
      transform `K - 2 * popcount`.
    * Affine int8 quantization: `q = clamp(round_half_even((x - offset) / scale)
      + zero_point, -128, 127)` and `x = (q - zero_point) * scale + offset`,
      evaluated in f32. `offset` is zero except for SensiMix's asymmetric
      "index" storage format (`zero_point = -128`, `offset = min`).
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  // qb.model and qb.sensitivity on the module (QBAttrs.cpp).
  let hasOperationAttrVerify = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let extraClassDeclaration = [{
    /// Adds the qb attributes (defined in QBAttrs.cpp, next to their storage).
    void registerAttributes();
  }];
}

class QB_Op<string mnemonic, list<Trait> traits = []>
    : Op<QB_Dialect, mnemonic, traits>;

class QB_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QB_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // QUANTBERT_DIALECT_QB_BASE
