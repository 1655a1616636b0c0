// qb-merge-int8-linears: int8 linears reading the same quantized input
// become one over concatenated weights, the originals slices of it.
// RUN: quant-bert-opt %s -split-input-file -qb-merge-int8-linears | FileCheck %s

// Query, key and value: weights [2, 3], [1, 3], [2, 3] become [5, 3]; the
// missing bias of the second is zeros; results are column slices.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[X:.*]]: tensor<?x3xi8>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15]]> : tensor<5x3xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00]> : tensor<5xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[1.000000e-01, 2.000000e-01, 0.000000e+00, 4.000000e-01, 5.000000e-01]> : tensor<5xf32>
// CHECK: %[[Y:.*]] = qb.int8_linear %[[X]], %[[W]] weight_scale(%[[S]]) bias(%[[B]]) {input_scale = 5.000000e-01 : f32} : (tensor<?x3xi8>, tensor<5x3xi8>, tensor<5xf32>, tensor<5xf32>) -> tensor<?x5xf32>
// CHECK: %[[Q:.*]] = tensor.extract_slice %[[Y]][0, 0] [%{{.*}}, 2] [1, 1] : tensor<?x5xf32> to tensor<?x2xf32>
// CHECK: %[[K:.*]] = tensor.extract_slice %[[Y]][0, 2] [%{{.*}}, 1] [1, 1] : tensor<?x5xf32> to tensor<?x1xf32>
// CHECK: %[[V:.*]] = tensor.extract_slice %[[Y]][0, 3] [%{{.*}}, 2] [1, 1] : tensor<?x5xf32> to tensor<?x2xf32>
// CHECK-NOT: qb.int8_linear
// CHECK: return %[[Q]], %[[K]], %[[V]]
func.func @qkv(%x: tensor<?x3xi8>) -> (tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x2xf32>) {
  %wq = arith.constant dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi8>
  %sq = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %bq = arith.constant dense<[0.1, 0.2]> : tensor<2xf32>
  %wk = arith.constant dense<[[7, 8, 9]]> : tensor<1x3xi8>
  %sk = arith.constant dense<[3.0]> : tensor<1xf32>
  %wv = arith.constant dense<[[10, 11, 12], [13, 14, 15]]> : tensor<2x3xi8>
  %sv = arith.constant dense<[4.0, 5.0]> : tensor<2xf32>
  %bv = arith.constant dense<[0.4, 0.5]> : tensor<2xf32>
  %q = qb.int8_linear %x, %wq weight_scale(%sq) bias(%bq) {input_scale = 0.5 : f32}
      : (tensor<?x3xi8>, tensor<2x3xi8>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %k = qb.int8_linear %x, %wk weight_scale(%sk) {input_scale = 0.5 : f32}
      : (tensor<?x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<?x1xf32>
  %v = qb.int8_linear %x, %wv weight_scale(%sv) bias(%bv) {input_scale = 0.5 : f32}
      : (tensor<?x3xi8>, tensor<2x3xi8>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  return %q, %k, %v : tensor<?x2xf32>, tensor<?x1xf32>, tensor<?x2xf32>
}

// -----

// A different input scale (or zero point) means a different quantized
// input: nothing merges. A single linear stays as it is.
// CHECK-LABEL: func.func @different_scales
// CHECK-COUNT-2: qb.int8_linear
// CHECK-NOT: tensor.extract_slice
func.func @different_scales(%x: tensor<4x3xi8>) -> (tensor<4x1xf32>, tensor<4x1xf32>) {
  %w = arith.constant dense<[[1, 2, 3]]> : tensor<1x3xi8>
  %s = arith.constant dense<[1.0]> : tensor<1xf32>
  %a = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32}
      : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
  %b = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.25 : f32}
      : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
  return %a, %b : tensor<4x1xf32>, tensor<4x1xf32>
}

// -----

// A weight that is not a constant cannot be concatenated at compile time.
// CHECK-LABEL: func.func @weight_argument
// CHECK-COUNT-2: qb.int8_linear
func.func @weight_argument(%x: tensor<4x3xi8>, %w: tensor<1x3xi8>) -> (tensor<4x1xf32>, tensor<4x1xf32>) {
  %c = arith.constant dense<[[1, 2, 3]]> : tensor<1x3xi8>
  %s = arith.constant dense<[1.0]> : tensor<1xf32>
  %a = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32}
      : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
  %b = qb.int8_linear %x, %c weight_scale(%s) {input_scale = 0.5 : f32}
      : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
  return %a, %b : tensor<4x1xf32>, tensor<4x1xf32>
}

// -----

// Block-sparse linears merge only with each other, and only when every
// part but the last fills whole 16-channel blocks: %a, %b (16 and 1
// channels) merge into one block-sparse linear, the dense %c stays apart;
// %d and %e (1 channel, then 16) do not merge.
// CHECK-LABEL: func.func @block_sparse
// CHECK: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) {block_sparse = array<i64: 16, 4>, input_scale = 5.000000e-01 : f32} : (tensor<4x3xi8>, tensor<17x3xi8>, tensor<17xf32>) -> tensor<4x17xf32>
// CHECK: qb.int8_linear %{{.*}} {input_scale = 5.000000e-01 : f32} : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
// CHECK: qb.int8_linear %{{.*}} {block_sparse = array<i64: 16, 4>, input_scale = 2.500000e-01 : f32} : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
// CHECK: qb.int8_linear %{{.*}} {block_sparse = array<i64: 16, 4>, input_scale = 2.500000e-01 : f32} : (tensor<4x3xi8>, tensor<16x3xi8>, tensor<16xf32>) -> tensor<4x16xf32>
func.func @block_sparse(%x: tensor<4x3xi8>) -> (tensor<4x16xf32>, tensor<4x1xf32>, tensor<4x1xf32>, tensor<4x1xf32>, tensor<4x16xf32>) {
  %w16 = arith.constant dense<1> : tensor<16x3xi8>
  %s16 = arith.constant dense<1.0> : tensor<16xf32>
  %w1 = arith.constant dense<2> : tensor<1x3xi8>
  %s1 = arith.constant dense<1.0> : tensor<1xf32>
  %a = qb.int8_linear %x, %w16 weight_scale(%s16) {input_scale = 0.5 : f32, block_sparse = array<i64: 16, 4>}
      : (tensor<4x3xi8>, tensor<16x3xi8>, tensor<16xf32>) -> tensor<4x16xf32>
  %b = qb.int8_linear %x, %w1 weight_scale(%s1) {input_scale = 0.5 : f32, block_sparse = array<i64: 16, 4>}
      : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
  %c = qb.int8_linear %x, %w1 weight_scale(%s1) {input_scale = 0.5 : f32}
      : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
  %d = qb.int8_linear %x, %w1 weight_scale(%s1) {input_scale = 0.25 : f32, block_sparse = array<i64: 16, 4>}
      : (tensor<4x3xi8>, tensor<1x3xi8>, tensor<1xf32>) -> tensor<4x1xf32>
  %e = qb.int8_linear %x, %w16 weight_scale(%s16) {input_scale = 0.25 : f32, block_sparse = array<i64: 16, 4>}
      : (tensor<4x3xi8>, tensor<16x3xi8>, tensor<16xf32>) -> tensor<4x16xf32>
  return %a, %b, %c, %d, %e : tensor<4x16xf32>, tensor<4x1xf32>, tensor<4x1xf32>, tensor<4x1xf32>, tensor<4x16xf32>
}
