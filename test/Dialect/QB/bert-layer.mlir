// A complete BERT-base-shaped encoder layer (hidden 768, 12 heads, FFN 3072,
// any batch and sequence length) in SensiMix's mixed precision: 8-bit
// attention, 1-bit FFN. First as import + precision assignment leave it
// (annotated qb.linear, unfused attention), then as materialization leaves it
// (int8 and binary linears, fused f16 attention). Both must verify and
// round-trip.
// RUN: quant-bert-opt %s -split-input-file | quant-bert-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @mixed_precision_layer_annotated
func.func @mixed_precision_layer_annotated(
    %x: tensor<?x?x768xf32>, %mask: tensor<?x?xi32>,
    %wq: tensor<768x768xf32>, %bq: tensor<768xf32>,
    %wk: tensor<768x768xf32>, %bk: tensor<768xf32>,
    %wv: tensor<768x768xf32>, %bv: tensor<768xf32>,
    %wo: tensor<768x768xf32>, %bo: tensor<768xf32>,
    %g1: tensor<768xf32>, %b1: tensor<768xf32>,
    %wi: tensor<3072x768xf32>, %bi: tensor<3072xf32>,
    %wf: tensor<768x3072xf32>, %bf: tensor<768xf32>,
    %g2: tensor<768xf32>, %b2: tensor<768xf32>) -> tensor<?x?x768xf32> {
  // CHECK: qb.encoder_layer layer 11
  %out = qb.encoder_layer layer 11 (%x, %mask)
      : (tensor<?x?x768xf32>, tensor<?x?xi32>) -> tensor<?x?x768xf32>
  attention {
  ^bb0(%h: tensor<?x?x768xf32>, %m: tensor<?x?xi32>):
    // CHECK-COUNT-4: precision<i8> quantizer<symmetric_ema>
    %q = qb.linear %h, %wq bias(%bq) precision<i8> quantizer<symmetric_ema> role<query>
        : (tensor<?x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %k = qb.linear %h, %wk bias(%bk) precision<i8> quantizer<symmetric_ema> role<key>
        : (tensor<?x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %v = qb.linear %h, %wv bias(%bv) precision<i8> quantizer<symmetric_ema> role<value>
        : (tensor<?x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %qh = qb.split_heads %q {num_heads = 12} : tensor<?x?x768xf32> -> tensor<?x12x?x64xf32>
    %kh = qb.split_heads %k {num_heads = 12} : tensor<?x?x768xf32> -> tensor<?x12x?x64xf32>
    %vh = qb.split_heads %v {num_heads = 12} : tensor<?x?x768xf32> -> tensor<?x12x?x64xf32>
    %s = qb.batch_matmul %qh, %kh transpose_rhs
        : (tensor<?x12x?x64xf32>, tensor<?x12x?x64xf32>) -> tensor<?x12x?x?xf32>
    %ss = qb.scale %s by 0.125 : tensor<?x12x?x?xf32>
    %sm = qb.attention_mask %ss, %m : (tensor<?x12x?x?xf32>, tensor<?x?xi32>) -> tensor<?x12x?x?xf32>
    %p = qb.softmax %sm : tensor<?x12x?x?xf32>
    %c = qb.batch_matmul %p, %vh
        : (tensor<?x12x?x?xf32>, tensor<?x12x?x64xf32>) -> tensor<?x12x?x64xf32>
    %ctx = qb.merge_heads %c : tensor<?x12x?x64xf32> -> tensor<?x?x768xf32>
    %o = qb.linear %ctx, %wo bias(%bo) precision<i8> quantizer<symmetric_ema> role<attention_output>
        : (tensor<?x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %r = qb.add %o, %h : tensor<?x?x768xf32>
    %n = qb.layer_norm %r, %g1, %b1 : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>
    qb.yield %n : tensor<?x?x768xf32>
  } ffn {
  ^bb0(%a: tensor<?x?x768xf32>):
    // CHECK: precision<binary> quantizer<binary_sign> role<intermediate>
    %i = qb.linear %a, %wi bias(%bi) precision<binary> quantizer<binary_sign> role<intermediate>
        : (tensor<?x?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x?x3072xf32>
    %g = qb.gelu %i : tensor<?x?x3072xf32>
    // CHECK: precision<binary> quantizer<binary_sign> role<output>
    %f = qb.linear %g, %wf bias(%bf) precision<binary> quantizer<binary_sign> role<output>
        : (tensor<?x?x3072xf32>, tensor<768x3072xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %r = qb.add %f, %a : tensor<?x?x768xf32>
    %n = qb.layer_norm %r, %g2, %b2 : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>
    qb.yield %n : tensor<?x?x768xf32>
  }
  return %out : tensor<?x?x768xf32>
}

// -----

// CHECK-LABEL: func.func @mixed_precision_layer_materialized
func.func @mixed_precision_layer_materialized(
    %x: tensor<?x?x768xf32>, %mask: tensor<?x?xi32>,
    %wq: tensor<768x768xi8>, %sq: tensor<768xf32>, %bq: tensor<768xf32>,
    %wk: tensor<768x768xi8>, %sk: tensor<768xf32>, %bk: tensor<768xf32>,
    %wv: tensor<768x768xi8>, %sv: tensor<768xf32>, %bv: tensor<768xf32>,
    %wo: tensor<768x768xi8>, %so: tensor<768xf32>, %bo: tensor<768xf32>,
    %g1: tensor<768xf32>, %b1: tensor<768xf32>,
    %wi: tensor<3072x12xi64>, %si: tensor<3072xf32>, %bi: tensor<3072xf32>,
    %wf: tensor<768x48xi64>, %sf: tensor<768xf32>, %bf: tensor<768xf32>,
    %g2: tensor<768xf32>, %b2: tensor<768xf32>) -> tensor<?x?x768xf32> {
  // CHECK: qb.encoder_layer layer 11
  %out = qb.encoder_layer layer 11 (%x, %mask)
      : (tensor<?x?x768xf32>, tensor<?x?xi32>) -> tensor<?x?x768xf32>
  attention {
  ^bb0(%h: tensor<?x?x768xf32>, %m: tensor<?x?xi32>):
    // CHECK: %[[HQ:.*]] = qb.quantize %{{.*}} {scale = array<f32: 3.000000e-02>}
    %hq = qb.quantize %h {scale = array<f32: 0.03>} : tensor<?x?x768xf32> -> tensor<?x?x768xi8>
    // CHECK-COUNT-3: qb.int8_linear %[[HQ]]
    %q = qb.int8_linear %hq, %wq weight_scale(%sq) bias(%bq) {input_scale = 0.03 : f32}
        : (tensor<?x?x768xi8>, tensor<768x768xi8>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %k = qb.int8_linear %hq, %wk weight_scale(%sk) bias(%bk) {input_scale = 0.03 : f32}
        : (tensor<?x?x768xi8>, tensor<768x768xi8>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %v = qb.int8_linear %hq, %wv weight_scale(%sv) bias(%bv) {input_scale = 0.03 : f32}
        : (tensor<?x?x768xi8>, tensor<768x768xi8>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    // CHECK: qb.attention {{.*}} {num_heads = 12 : i64, scale = 1.250000e-01 : f32, storage_type = f16}
    %ctx = qb.attention %q, %k, %v mask(%m) {num_heads = 12, scale = 0.125 : f32, storage_type = f16}
        : (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?xi32>) -> tensor<?x?x768xf32>
    %cq = qb.quantize %ctx {scale = array<f32: 0.02>} : tensor<?x?x768xf32> -> tensor<?x?x768xi8>
    %o = qb.int8_linear %cq, %wo weight_scale(%so) bias(%bo) {input_scale = 0.02 : f32}
        : (tensor<?x?x768xi8>, tensor<768x768xi8>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %r = qb.add %o, %h : tensor<?x?x768xf32>
    %n = qb.layer_norm %r, %g1, %b1 : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>
    qb.yield %n : tensor<?x?x768xf32>
  } ffn {
  ^bb0(%a: tensor<?x?x768xf32>):
    // CHECK: qb.bitpack %{{.*}} : tensor<?x?x768xf32> -> tensor<?x?x12xi64>
    %ap = qb.bitpack %a : tensor<?x?x768xf32> -> tensor<?x?x12xi64>
    // CHECK: qb.binary_linear {{.*}} {in_features = 768 : i64} : (tensor<?x?x12xi64>, tensor<3072x12xi64>, tensor<3072xf32>, tensor<3072xf32>) -> tensor<?x?x3072xf32>
    %i = qb.binary_linear %ap, %wi scale(%si) bias(%bi) {in_features = 768}
        : (tensor<?x?x12xi64>, tensor<3072x12xi64>, tensor<3072xf32>, tensor<3072xf32>) -> tensor<?x?x3072xf32>
    // sign(gelu(x)) = sign(x): the FFN output linear packs %i directly.
    // CHECK: qb.bitpack %{{.*}} : tensor<?x?x3072xf32> -> tensor<?x?x48xi64>
    %ip = qb.bitpack %i : tensor<?x?x3072xf32> -> tensor<?x?x48xi64>
    // CHECK: qb.binary_linear {{.*}} {in_features = 3072 : i64} : (tensor<?x?x48xi64>, tensor<768x48xi64>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %f = qb.binary_linear %ip, %wf scale(%sf) bias(%bf) {in_features = 3072}
        : (tensor<?x?x48xi64>, tensor<768x48xi64>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
    %r = qb.add %f, %a : tensor<?x?x768xf32>
    %n = qb.layer_norm %r, %g2, %b2 : tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>
    qb.yield %n : tensor<?x?x768xf32>
  }
  return %out : tensor<?x?x768xf32>
}
