// Once no qb op is left, convert-qb-to-linalg drops the qb module
// attributes, so upstream tools read the result; while qb ops remain (here
// an attention op for convert-qb-to-vector) they stay.
// RUN: quant-bert-opt %s -split-input-file -convert-qb-to-linalg | FileCheck %s

// CHECK-LABEL: module {
// CHECK-NOT: qb.model
// CHECK: func.func @all_lowered
module attributes {qb.model = #qb.model<num_labels = 2, vocab_size = 50, max_positions = 16, type_vocab_size = 2>, qb.sensitivity = [#qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.1 : f64}>]} {
func.func @all_lowered(%a: tensor<2x4xf32>, %b: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = qb.add %a, %b : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
}

// -----

// CHECK: module attributes {qb.model = #qb.model<num_labels = 2, vocab_size = 50, max_positions = 16, type_vocab_size = 2>}
// CHECK: qb.attention
module attributes {qb.model = #qb.model<num_labels = 2, vocab_size = 50, max_positions = 16, type_vocab_size = 2>} {
func.func @attention_left(%q: tensor<2x8x16xf32>, %k: tensor<2x8x16xf32>, %v: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) -> tensor<2x8x16xf32> {
  %0 = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  return %0 : tensor<2x8x16xf32>
}
}
