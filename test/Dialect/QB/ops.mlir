// Round trip of every qb op: parse, print, parse the printed form again, and
// check it; the generic form must round-trip too.
// RUN: quant-bert-opt %s | quant-bert-opt | FileCheck %s
// RUN: quant-bert-opt %s --mlir-print-op-generic | quant-bert-opt | FileCheck %s

// CHECK-LABEL: func.func @embedding
func.func @embedding(%ids: tensor<?x?xi32>, %types: tensor<?x?xi32>,
                     %w: tensor<30522x64xf32>, %p: tensor<512x64xf32>,
                     %t: tensor<2x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  // CHECK: qb.embedding %{{.*}}, %{{.*}} words(%{{.*}}) positions(%{{.*}}) token_types(%{{.*}}) : (tensor<?x?xi32>, tensor<?x?xi32>, tensor<30522x64xf32>, tensor<512x64xf32>, tensor<2x64xf32>) -> tensor<?x?x64xf32>
  %0 = qb.embedding %ids, %types words(%w) positions(%p) token_types(%t)
      : (tensor<?x?xi32>, tensor<?x?xi32>, tensor<30522x64xf32>, tensor<512x64xf32>, tensor<2x64xf32>) -> tensor<?x?x64xf32>
  // CHECK: qb.embedding {{.*}} precision<i8> :
  %1 = qb.embedding %ids, %types words(%w) positions(%p) token_types(%t) precision<i8>
      : (tensor<?x?xi32>, tensor<?x?xi32>, tensor<30522x64xf32>, tensor<512x64xf32>, tensor<2x64xf32>) -> tensor<?x?x64xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// CHECK-LABEL: func.func @encoder_layer
func.func @encoder_layer(%x: tensor<2x8x64xf32>, %mask: tensor<2x8xi32>) -> tensor<2x8x64xf32> {
  // CHECK: qb.encoder_layer layer 7 (%{{.*}}, %{{.*}}) : (tensor<2x8x64xf32>, tensor<2x8xi32>) -> tensor<2x8x64xf32> attention {
  // CHECK-NEXT: ^bb0(%[[H:.*]]: tensor<2x8x64xf32>, %{{.*}}: tensor<2x8xi32>):
  // CHECK-NEXT:   qb.yield %[[H]] : tensor<2x8x64xf32>
  // CHECK-NEXT: } ffn {
  // CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<2x8x64xf32>):
  // CHECK-NEXT:   %[[G:.*]] = qb.gelu %[[A]]
  // CHECK-NEXT:   qb.yield %[[G]] : tensor<2x8x64xf32>
  %0 = qb.encoder_layer layer 7 (%x, %mask) : (tensor<2x8x64xf32>, tensor<2x8xi32>) -> tensor<2x8x64xf32>
  attention {
  ^bb0(%h: tensor<2x8x64xf32>, %m: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x64xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x64xf32>):
    %g = qb.gelu %a : tensor<2x8x64xf32>
    qb.yield %g : tensor<2x8x64xf32>
  }
  return %0 : tensor<2x8x64xf32>
}

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>, %b: tensor<128xf32>,
                  %xh: tensor<4x64xf16>, %wh: tensor<128x64xf16>)
    -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<4x128xf16>) {
  // CHECK: qb.linear %{{.*}}, %{{.*}} bias(%{{.*}}) : (tensor<?x?x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  %0 = qb.linear %x, %w bias(%b) : (tensor<?x?x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  // CHECK: qb.linear %{{.*}}, %{{.*}} bias(%{{.*}}) precision<i8> quantizer<symmetric_ema> role<query> {input_scale = 2.000000e-02 : f32} :
  %1 = qb.linear %x, %w bias(%b) precision<i8> quantizer<symmetric_ema> role<query> {input_scale = 0.02 : f32}
      : (tensor<?x?x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  // CHECK: qb.linear %{{.*}}, %{{.*}} precision<binary> quantizer<binary_sign> role<intermediate> : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  %2 = qb.linear %x, %w precision<binary> quantizer<binary_sign> role<intermediate>
      : (tensor<?x?x64xf32>, tensor<128x64xf32>) -> tensor<?x?x128xf32>
  // CHECK: qb.linear {{.*}} precision<ternary> quantizer<twn> role<output> :
  %3 = qb.linear %x, %w bias(%b) precision<ternary> quantizer<twn> role<output>
      : (tensor<?x?x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  // CHECK: qb.linear {{.*}} precision<f16> role<classifier> : (tensor<4x64xf16>, tensor<128x64xf16>) -> tensor<4x128xf16>
  %4 = qb.linear %xh, %wh precision<f16> role<classifier> : (tensor<4x64xf16>, tensor<128x64xf16>) -> tensor<4x128xf16>
  return %0, %1, %2, %3, %4 : tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<4x128xf16>
}

// CHECK-LABEL: func.func @int8_linear
func.func @int8_linear(%xq: tensor<?x?x64xi8>, %wq: tensor<128x64xi8>, %ws: tensor<128xf32>,
                       %b: tensor<128xf32>) -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>) {
  // CHECK: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) bias(%{{.*}}) {input_scale = 5.000000e-01 : f32} : (tensor<?x?x64xi8>, tensor<128x64xi8>, tensor<128xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  %0 = qb.int8_linear %xq, %wq weight_scale(%ws) bias(%b) {input_scale = 0.5 : f32}
      : (tensor<?x?x64xi8>, tensor<128x64xi8>, tensor<128xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  // CHECK: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) {input_scale = 2.500000e-01 : f32, input_zero_point = 3 : i32} : (tensor<?x?x64xi8>, tensor<128x64xi8>, tensor<128xf32>) -> tensor<?x?x128xf32>
  %1 = qb.int8_linear %xq, %wq weight_scale(%ws) {input_scale = 0.25 : f32, input_zero_point = 3 : i32}
      : (tensor<?x?x64xi8>, tensor<128x64xi8>, tensor<128xf32>) -> tensor<?x?x128xf32>
  return %0, %1 : tensor<?x?x128xf32>, tensor<?x?x128xf32>
}

// Dynamic int8: per-row scales from qb.quantize_rows.
// CHECK-LABEL: func.func @quantize_rows_int8_linear
func.func @quantize_rows_int8_linear(%x: tensor<?x?x64xf32>, %wq: tensor<128x64xi8>,
                                     %ws: tensor<128xf32>, %b: tensor<128xf32>)
    -> tensor<?x?x128xf32> {
  // CHECK: %[[Q:.*]], %[[S:.*]] = qb.quantize_rows %{{.*}} : tensor<?x?x64xf32> -> tensor<?x?x64xi8>, tensor<?x?xf32>
  %q, %s = qb.quantize_rows %x : tensor<?x?x64xf32> -> tensor<?x?x64xi8>, tensor<?x?xf32>
  // CHECK: qb.int8_linear %[[Q]], %{{.*}} weight_scale(%{{.*}}) input_scales(%[[S]]) bias(%{{.*}}) : (tensor<?x?x64xi8>, tensor<128x64xi8>, tensor<128xf32>, tensor<?x?xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  %y = qb.int8_linear %q, %wq weight_scale(%ws) input_scales(%s) bias(%b)
      : (tensor<?x?x64xi8>, tensor<128x64xi8>, tensor<128xf32>, tensor<?x?xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
  return %y : tensor<?x?x128xf32>
}

// CHECK-LABEL: func.func @bitpack_binary_linear
func.func @bitpack_binary_linear(%x: tensor<?x?x100xf32>, %w: tensor<32x2xi64>,
                                 %s: tensor<32xf32>, %b: tensor<32xf32>)
    -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  // CHECK: %[[P:.*]] = qb.bitpack %{{.*}} : tensor<?x?x100xf32> -> tensor<?x?x2xi64>
  %p = qb.bitpack %x : tensor<?x?x100xf32> -> tensor<?x?x2xi64>
  // CHECK: qb.binary_linear %[[P]], %{{.*}} scale(%{{.*}}) bias(%{{.*}}) {in_features = 100 : i64} : (tensor<?x?x2xi64>, tensor<32x2xi64>, tensor<32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  %0 = qb.binary_linear %p, %w scale(%s) bias(%b) {in_features = 100}
      : (tensor<?x?x2xi64>, tensor<32x2xi64>, tensor<32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  // CHECK: qb.binary_linear %[[P]], %{{.*}} scale(%{{.*}}) {in_features = 100 : i64} : (tensor<?x?x2xi64>, tensor<32x2xi64>, tensor<32xf32>) -> tensor<?x?x32xf32>
  %1 = qb.binary_linear %p, %w scale(%s) {in_features = 100}
      : (tensor<?x?x2xi64>, tensor<32x2xi64>, tensor<32xf32>) -> tensor<?x?x32xf32>
  return %0, %1 : tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// CHECK-LABEL: func.func @block_sparse_binary_linear
func.func @block_sparse_binary_linear(%p: tensor<?x?x2xi64>, %w: tensor<40x2xi64>,
                                      %s: tensor<40xf32>, %b: tensor<40xf32>,
                                      %m: tensor<2x2xi1>)
    -> (tensor<?x?x40xf32>, tensor<?x?x40xf32>) {
  // CHECK: qb.binary_linear %{{.*}}, %{{.*}} scale(%{{.*}}) bias(%{{.*}}) block_mask(%{{.*}}) {in_features = 100 : i64} : (tensor<?x?x2xi64>, tensor<40x2xi64>, tensor<40xf32>, tensor<40xf32>, tensor<2x2xi1>) -> tensor<?x?x40xf32>
  %0 = qb.binary_linear %p, %w scale(%s) bias(%b) block_mask(%m) {in_features = 100}
      : (tensor<?x?x2xi64>, tensor<40x2xi64>, tensor<40xf32>, tensor<40xf32>, tensor<2x2xi1>) -> tensor<?x?x40xf32>
  // CHECK: qb.binary_linear %{{.*}}, %{{.*}} scale(%{{.*}}) block_mask(%{{.*}}) {in_features = 100 : i64} : (tensor<?x?x2xi64>, tensor<40x2xi64>, tensor<40xf32>, tensor<2x2xi1>) -> tensor<?x?x40xf32>
  %1 = qb.binary_linear %p, %w scale(%s) block_mask(%m) {in_features = 100}
      : (tensor<?x?x2xi64>, tensor<40x2xi64>, tensor<40xf32>, tensor<2x2xi1>) -> tensor<?x?x40xf32>
  return %0, %1 : tensor<?x?x40xf32>, tensor<?x?x40xf32>
}

// CHECK-LABEL: func.func @unfused_attention
func.func @unfused_attention(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>,
                             %v: tensor<?x?x64xf32>, %mask: tensor<?x?xi32>) -> tensor<?x?x64xf32> {
  // CHECK: qb.split_heads %{{.*}} {num_heads = 4 : i64} : tensor<?x?x64xf32> -> tensor<?x4x?x16xf32>
  %qh = qb.split_heads %q {num_heads = 4} : tensor<?x?x64xf32> -> tensor<?x4x?x16xf32>
  %kh = qb.split_heads %k {num_heads = 4} : tensor<?x?x64xf32> -> tensor<?x4x?x16xf32>
  %vh = qb.split_heads %v {num_heads = 4} : tensor<?x?x64xf32> -> tensor<?x4x?x16xf32>
  // CHECK: qb.batch_matmul %{{.*}}, %{{.*}} transpose_rhs : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x?xf32>
  %s = qb.batch_matmul %qh, %kh transpose_rhs : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x?xf32>
  // CHECK: qb.scale %{{.*}} by 2.500000e-01 : tensor<?x4x?x?xf32>
  %sc = qb.scale %s by 0.25 : tensor<?x4x?x?xf32>
  // CHECK: qb.attention_mask %{{.*}}, %{{.*}} : (tensor<?x4x?x?xf32>, tensor<?x?xi32>) -> tensor<?x4x?x?xf32>
  %m = qb.attention_mask %sc, %mask : (tensor<?x4x?x?xf32>, tensor<?x?xi32>) -> tensor<?x4x?x?xf32>
  // CHECK: qb.attention_mask {{.*}} {fill = -1.000000e+09 : f32}
  %m2 = qb.attention_mask %m, %mask {fill = -1.0e9 : f32} : (tensor<?x4x?x?xf32>, tensor<?x?xi32>) -> tensor<?x4x?x?xf32>
  // CHECK: qb.softmax %{{.*}} : tensor<?x4x?x?xf32>
  %p = qb.softmax %m2 : tensor<?x4x?x?xf32>
  // CHECK: qb.batch_matmul %{{.*}}, %{{.*}} : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %c = qb.batch_matmul %p, %vh : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  // CHECK: qb.merge_heads %{{.*}} : tensor<?x4x?x16xf32> -> tensor<?x?x64xf32>
  %ctx = qb.merge_heads %c : tensor<?x4x?x16xf32> -> tensor<?x?x64xf32>
  return %ctx : tensor<?x?x64xf32>
}

// CHECK-LABEL: func.func @fused_attention
func.func @fused_attention(%q: tensor<2x16x64xf32>, %k: tensor<2x16x64xf32>,
                           %v: tensor<2x16x64xf32>, %mask: tensor<2x16xi32>)
    -> (tensor<2x16x64xf32>, tensor<2x16x64xf32>) {
  // CHECK: qb.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) {num_heads = 4 : i64, scale = 2.500000e-01 : f32, storage_type = f16} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16xi32>) -> tensor<2x16x64xf32>
  %0 = qb.attention %q, %k, %v mask(%mask) {num_heads = 4, scale = 0.25 : f32, storage_type = f16}
      : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16xi32>) -> tensor<2x16x64xf32>
  // CHECK: qb.attention %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 2 : i64, scale = 1.250000e-01 : f32} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  %1 = qb.attention %q, %k, %v {num_heads = 2, scale = 0.125 : f32}
      : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  return %0, %1 : tensor<2x16x64xf32>, tensor<2x16x64xf32>
}

// CHECK-LABEL: func.func @norm_and_activations
func.func @norm_and_activations(%x: tensor<?x?x64xbf16>, %g: tensor<64xbf16>, %b: tensor<64xbf16>)
    -> (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>) {
  // CHECK: qb.layer_norm %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x64xbf16>, tensor<64xbf16>, tensor<64xbf16>
  %0 = qb.layer_norm %x, %g, %b : tensor<?x?x64xbf16>, tensor<64xbf16>, tensor<64xbf16>
  // CHECK: qb.layer_norm {{.*}} {epsilon = 1.000000e-05 : f64} :
  %1 = qb.layer_norm %x, %g, %b {epsilon = 1.0e-5 : f64} : tensor<?x?x64xbf16>, tensor<64xbf16>, tensor<64xbf16>
  // CHECK: qb.gelu %{{.*}} : tensor<?x?x64xbf16>
  %2 = qb.gelu %x : tensor<?x?x64xbf16>
  // CHECK: qb.gelu %{{.*}} approximation<tanh> : tensor<?x?x64xbf16>
  %3 = qb.gelu %x approximation<tanh> : tensor<?x?x64xbf16>
  // CHECK: qb.add %{{.*}}, %{{.*}} : tensor<?x?x64xbf16>
  %4 = qb.add %2, %3 : tensor<?x?x64xbf16>
  return %0, %1, %2, %3, %4 : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
}

// CHECK-LABEL: func.func @quantization
func.func @quantization(%x: tensor<?x?x64xf32>, %w: tensor<128x64xf32>)
    -> (tensor<?x?x64xf16>, tensor<128x64xf32>) {
  // CHECK: qb.quantize %{{.*}} {scale = array<f32: 5.000000e-01>} : tensor<?x?x64xf32> -> tensor<?x?x64xi8>
  %q = qb.quantize %x {scale = array<f32: 0.5>} : tensor<?x?x64xf32> -> tensor<?x?x64xi8>
  // CHECK: qb.dequantize %{{.*}} {offset = -4.000000e-01 : f32, scale = array<f32: 5.000000e-01>, zero_point = array<i32: -128>} : tensor<?x?x64xi8> -> tensor<?x?x64xf16>
  %d = qb.dequantize %q {scale = array<f32: 0.5>, zero_point = array<i32: -128>, offset = -0.4 : f32}
      : tensor<?x?x64xi8> -> tensor<?x?x64xf16>
  // CHECK: qb.quantize %{{.*}} {axis = 0 : i64, scale = array<f32: 1.000000e-01, 2.000000e-01>} : tensor<2x64xf32> -> tensor<2x64xi8>
  %w2 = tensor.extract_slice %w[0, 0] [2, 64] [1, 1] : tensor<128x64xf32> to tensor<2x64xf32>
  %wq = qb.quantize %w2 {scale = array<f32: 0.1, 0.2>, axis = 0} : tensor<2x64xf32> -> tensor<2x64xi8>
  // CHECK: qb.dequantize %{{.*}} {axis = 0 : i64, scale = array<f32: 1.000000e-01, 2.000000e-01>, zero_point = array<i32: 1, -1>}
  %wd = qb.dequantize %wq {scale = array<f32: 0.1, 0.2>, zero_point = array<i32: 1, -1>, axis = 0}
      : tensor<2x64xi8> -> tensor<2x64xf32>
  %full = tensor.insert_slice %wd into %w[0, 0] [2, 64] [1, 1] : tensor<2x64xf32> into tensor<128x64xf32>
  return %d, %full : tensor<?x?x64xf16>, tensor<128x64xf32>
}

// The module attributes import sets round-trip in their own syntax.
// CHECK-LABEL: module attributes {qb.model = #qb.model<num_labels = 2, vocab_size = 50, max_positions = 16, type_vocab_size = 2, labels = ["neg", "pos"]>, qb.sensitivity = [#qb.sensitivity<layer = 0, module = attention, losses = {binary = 5.000000e-01 : f64, i8 = 1.000000e-02 : f64}>, #qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 2.000000e-02 : f64}>]}
module attributes {qb.model = #qb.model<num_labels = 2, vocab_size = 50, max_positions = 16, type_vocab_size = 2, labels = ["neg", "pos"]>, qb.sensitivity = [#qb.sensitivity<layer = 0, module = attention, losses = {i8 = 0.01 : f64, binary = 0.5 : f64}>, #qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.02 : f64}>]} {
}
