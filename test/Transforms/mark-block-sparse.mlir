// qb-mark-block-sparse: int8 linears whose constant weights have at least
// min-zero-blocks of their 16 x 4 blocks all zero get block_sparse = [16, 4].
// RUN: quant-bert-opt %s -split-input-file -qb-mark-block-sparse | FileCheck %s --check-prefixes=CHECK,HALF
// RUN: quant-bert-opt %s -split-input-file -qb-mark-block-sparse="min-zero-blocks=0.75" | FileCheck %s --check-prefixes=CHECK,THREE-QUARTERS
// RUN: not quant-bert-opt %s -split-input-file -qb-mark-block-sparse="min-zero-blocks=1.5" 2>&1 | FileCheck %s --check-prefix=BAD

// A 17 x 5 weight is 2 x 2 blocks, the edge ones partial: %w1 has one
// nonzero block (3 of 4 zero), %w2 two (2 of 4 zero), %w3 none zero.
// CHECK-LABEL: func.func @shares
// CHECK: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) {block_sparse = array<i64: 16, 4>, input_scale = 5.000000e-01 : f32}
// HALF: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) {block_sparse = array<i64: 16, 4>, input_scale = 5.000000e-01 : f32}
// THREE-QUARTERS: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) {input_scale = 5.000000e-01 : f32}
// CHECK: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) {input_scale = 5.000000e-01 : f32}
// BAD: error: qb-mark-block-sparse: min-zero-blocks must be in [0, 1], got 1.500000e+00
func.func @shares(%x: tensor<?x5xi8>) -> (tensor<?x17xf32>, tensor<?x17xf32>, tensor<?x17xf32>) {
  %w1 = arith.constant dense<[[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 7]]> : tensor<17x5xi8>
  %w2 = arith.constant dense<[[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, -5, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 7]]> : tensor<17x5xi8>
  %w3 = arith.constant dense<1> : tensor<17x5xi8>
  %s = arith.constant dense<1.0> : tensor<17xf32>
  %y1 = qb.int8_linear %x, %w1 weight_scale(%s) {input_scale = 0.5 : f32}
      : (tensor<?x5xi8>, tensor<17x5xi8>, tensor<17xf32>) -> tensor<?x17xf32>
  %y2 = qb.int8_linear %x, %w2 weight_scale(%s) {input_scale = 0.5 : f32}
      : (tensor<?x5xi8>, tensor<17x5xi8>, tensor<17xf32>) -> tensor<?x17xf32>
  %y3 = qb.int8_linear %x, %w3 weight_scale(%s) {input_scale = 0.5 : f32}
      : (tensor<?x5xi8>, tensor<17x5xi8>, tensor<17xf32>) -> tensor<?x17xf32>
  return %y1, %y2, %y3 : tensor<?x17xf32>, tensor<?x17xf32>, tensor<?x17xf32>
}

// -----

// Weights that are not constants are left alone, whatever they hold.
// CHECK-LABEL: func.func @argument_weights
// CHECK: qb.int8_linear %{{.*}}, %{{.*}} weight_scale(%{{.*}}) {input_scale = 5.000000e-01 : f32}
func.func @argument_weights(%x: tensor<?x5xi8>, %w: tensor<17x5xi8>) -> tensor<?x17xf32> {
  %s = arith.constant dense<1.0> : tensor<17xf32>
  %y = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32}
      : (tensor<?x5xi8>, tensor<17x5xi8>, tensor<17xf32>) -> tensor<?x17xf32>
  return %y : tensor<?x17xf32>
}
