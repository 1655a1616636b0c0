// The qb folders: each legal (numerically exact) fold, and the look-alikes
// that must not fold.
// RUN: quant-bert-opt %s -split-input-file -canonicalize | FileCheck %s

// Signs of [0.5, 0, -2, NaN-free...] packed LSB first; a set bit is -1.
// Row 0: +, -, -, + -> bits 1 and 2 -> 6. Row 1: all negative -> 15.
// CHECK-LABEL: func.func @bitpack_constant
// CHECK: %[[C:.*]] = arith.constant dense<[
// CHECK-SAME: [6], [15]]> : tensor<2x1xi64>
// CHECK-NOT: qb.bitpack
// CHECK: return %[[C]]
func.func @bitpack_constant() -> tensor<2x1xi64> {
  %w = arith.constant dense<[[0.5, 0.0, -2.0, 3.0], [-1.0, -1.0, 0.0, -0.0]]> : tensor<2x4xf32>
  %p = qb.bitpack %w : tensor<2x4xf32> -> tensor<2x1xi64>
  return %p : tensor<2x1xi64>
}

// -----

// 65 elements: the 65th (index 64) lands in bit 0 of the second word.
// CHECK-LABEL: func.func @bitpack_constant_two_words
// CHECK: arith.constant dense<[
// CHECK-SAME: [-1, 1]]> : tensor<1x2xi64>
func.func @bitpack_constant_two_words() -> tensor<1x2xi64> {
  %w = arith.constant dense<-1.0> : tensor<1x65xf32>
  %p = qb.bitpack %w : tensor<1x65xf32> -> tensor<1x2xi64>
  return %p : tensor<1x2xi64>
}

// -----

// Half-to-even rounding and clamping: 0.25/0.5 = 0.5 -> 0, 0.75/0.5 = 1.5 -> 2,
// 1.25/0.5 = 2.5 -> 2, 100/0.5 -> clamp 127, -100/0.5 -> clamp -128.
// CHECK-LABEL: func.func @quantize_constant
// CHECK: arith.constant dense<[0, 2, 2, 127, -128]> : tensor<5xi8>
// CHECK-NOT: qb.quantize
func.func @quantize_constant() -> tensor<5xi8> {
  %x = arith.constant dense<[0.25, 0.75, 1.25, 100.0, -100.0]> : tensor<5xf32>
  %q = qb.quantize %x {scale = array<f32: 0.5>} : tensor<5xf32> -> tensor<5xi8>
  return %q : tensor<5xi8>
}

// -----

// Per-channel along axis 0: row 0 scale 1, row 1 scale 0.5 and zero point 10.
// CHECK-LABEL: func.func @quantize_constant_per_channel
// CHECK: arith.constant dense<{{\[}}[1, 2], [12, 14]]> : tensor<2x2xi8>
func.func @quantize_constant_per_channel() -> tensor<2x2xi8> {
  %x = arith.constant dense<[[1.0, 2.0], [1.0, 2.0]]> : tensor<2x2xf32>
  %q = qb.quantize %x {scale = array<f32: 1.0, 0.5>, zero_point = array<i32: 0, 10>, axis = 0}
      : tensor<2x2xf32> -> tensor<2x2xi8>
  return %q : tensor<2x2xi8>
}

// -----

// Per-channel along the last axis: column scales 1 and 0.25.
// CHECK-LABEL: func.func @quantize_constant_last_axis
// CHECK: arith.constant dense<{{\[}}[1, 8], [3, 16]]> : tensor<2x2xi8>
func.func @quantize_constant_last_axis() -> tensor<2x2xi8> {
  %x = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %q = qb.quantize %x {scale = array<f32: 1.0, 0.25>, axis = 1}
      : tensor<2x2xf32> -> tensor<2x2xi8>
  return %q : tensor<2x2xi8>
}

// -----

// A splat folds: (q + 128) * 0.5 + (-1) with q = 0 is 63.
// CHECK-LABEL: func.func @dequantize_splat
// CHECK: arith.constant dense<6.300000e+01> : tensor<3xf32>
// CHECK-NOT: qb.dequantize
func.func @dequantize_splat() -> tensor<3xf32> {
  %q = arith.constant dense<0> : tensor<3xi8>
  %x = qb.dequantize %q {scale = array<f32: 0.5>, zero_point = array<i32: -128>, offset = -1.0 : f32}
      : tensor<3xi8> -> tensor<3xf32>
  return %x : tensor<3xf32>
}

// -----

// CHECK-LABEL: func.func @dequantize_splat_f16
// CHECK: arith.constant dense<-6.400000e+01> : tensor<2xf16>
func.func @dequantize_splat_f16() -> tensor<2xf16> {
  %q = arith.constant dense<-128> : tensor<2xi8>
  %x = qb.dequantize %q {scale = array<f32: 0.5>} : tensor<2xi8> -> tensor<2xf16>
  return %x : tensor<2xf16>
}

// -----

// Dense codes stay codes: folding would undo the compression.
// CHECK-LABEL: func.func @dequantize_dense_not_folded
// CHECK: qb.dequantize
func.func @dequantize_dense_not_folded() -> tensor<3xf32> {
  %q = arith.constant dense<[-128, 0, -1]> : tensor<3xi8>
  %x = qb.dequantize %q {scale = array<f32: 0.5>} : tensor<3xi8> -> tensor<3xf32>
  return %x : tensor<3xf32>
}

// -----

// CHECK-LABEL: func.func @quantize_of_dequantize
// CHECK-SAME: (%[[Q:.*]]: tensor<?xi8>)
// CHECK-NEXT: return %[[Q]]
func.func @quantize_of_dequantize(%q: tensor<?xi8>) -> tensor<?xi8> {
  %x = qb.dequantize %q {scale = array<f32: 0.037>, zero_point = array<i32: 5>} : tensor<?xi8> -> tensor<?xf32>
  %r = qb.quantize %x {scale = array<f32: 0.037>, zero_point = array<i32: 5>} : tensor<?xf32> -> tensor<?xi8>
  return %r : tensor<?xi8>
}

// -----

// Different parameters: not the identity.
// CHECK-LABEL: func.func @quantize_of_dequantize_other_scale
// CHECK: qb.dequantize
// CHECK: qb.quantize
func.func @quantize_of_dequantize_other_scale(%q: tensor<?xi8>) -> tensor<?xi8> {
  %x = qb.dequantize %q {scale = array<f32: 0.037>} : tensor<?xi8> -> tensor<?xf32>
  %r = qb.quantize %x {scale = array<f32: 0.05>} : tensor<?xf32> -> tensor<?xi8>
  return %r : tensor<?xi8>
}

// -----

// A nonzero offset can cancel catastrophically: not folded.
// CHECK-LABEL: func.func @quantize_of_dequantize_with_offset
// CHECK: qb.dequantize
// CHECK: qb.quantize
func.func @quantize_of_dequantize_with_offset(%q: tensor<?xi8>) -> tensor<?xi8> {
  %x = qb.dequantize %q {scale = array<f32: 0.001>, zero_point = array<i32: -128>, offset = 1.0e6 : f32} : tensor<?xi8> -> tensor<?xf32>
  %r = qb.quantize %x {scale = array<f32: 0.001>, zero_point = array<i32: -128>, offset = 1.0e6 : f32} : tensor<?xf32> -> tensor<?xi8>
  return %r : tensor<?xi8>
}

// -----

// A bf16 intermediate loses codes: not folded.
// CHECK-LABEL: func.func @quantize_of_dequantize_bf16
// CHECK: qb.dequantize
// CHECK: qb.quantize
func.func @quantize_of_dequantize_bf16(%q: tensor<?xi8>) -> tensor<?xi8> {
  %x = qb.dequantize %q {scale = array<f32: 0.037>} : tensor<?xi8> -> tensor<?xbf16>
  %r = qb.quantize %x {scale = array<f32: 0.037>} : tensor<?xbf16> -> tensor<?xi8>
  return %r : tensor<?xi8>
}

// -----

// dequantize(quantize(x)) is the quantization error, never the identity.
// CHECK-LABEL: func.func @dequantize_of_quantize
// CHECK: qb.quantize
// CHECK: qb.dequantize
func.func @dequantize_of_quantize(%x: tensor<?xf32>) -> tensor<?xf32> {
  %q = qb.quantize %x {scale = array<f32: 0.5>} : tensor<?xf32> -> tensor<?xi8>
  %r = qb.dequantize %q {scale = array<f32: 0.5>} : tensor<?xi8> -> tensor<?xf32>
  return %r : tensor<?xf32>
}

// -----

// CHECK-LABEL: func.func @scale_by_one
// CHECK-SAME: (%[[X:.*]]: tensor<?xf32>)
// CHECK-NEXT: %[[S:.*]] = qb.scale %[[X]] by 5.000000e-01
// CHECK-NEXT: return %[[X]], %[[S]]
func.func @scale_by_one(%x: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
  %a = qb.scale %x by 1.0 : tensor<?xf32>
  %b = qb.scale %x by 0.5 : tensor<?xf32>
  return %a, %b : tensor<?xf32>, tensor<?xf32>
}

// -----

// CHECK-LABEL: func.func @merge_of_split
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x64xf32>)
// CHECK-NEXT: return %[[X]]
func.func @merge_of_split(%x: tensor<2x8x64xf32>) -> tensor<2x8x64xf32> {
  %s = qb.split_heads %x {num_heads = 4} : tensor<2x8x64xf32> -> tensor<2x4x8x16xf32>
  %m = qb.merge_heads %s : tensor<2x4x8x16xf32> -> tensor<2x8x64xf32>
  return %m : tensor<2x8x64xf32>
}

// -----

// CHECK-LABEL: func.func @split_of_merge
// CHECK-SAME: (%[[X:.*]]: tensor<2x4x8x16xf32>)
// CHECK-NEXT: return %[[X]]
func.func @split_of_merge(%x: tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32> {
  %m = qb.merge_heads %x : tensor<2x4x8x16xf32> -> tensor<2x8x64xf32>
  %s = qb.split_heads %m {num_heads = 4} : tensor<2x8x64xf32> -> tensor<2x4x8x16xf32>
  return %s : tensor<2x4x8x16xf32>
}

// -----

// Regrouping into a different head count is a real reshape: kept.
// CHECK-LABEL: func.func @split_of_merge_other_heads
// CHECK: qb.merge_heads
// CHECK: qb.split_heads
func.func @split_of_merge_other_heads(%x: tensor<2x4x8x16xf32>) -> tensor<2x8x8x8xf32> {
  %m = qb.merge_heads %x : tensor<2x4x8x16xf32> -> tensor<2x8x64xf32>
  %s = qb.split_heads %m {num_heads = 8} : tensor<2x8x64xf32> -> tensor<2x8x8x8xf32>
  return %s : tensor<2x8x8x8xf32>
}
