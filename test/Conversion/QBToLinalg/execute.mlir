// convert-qb-to-linalg, executed: each lowered op runs on constant inputs
// through the upstream bufferization and LLVM pipeline, and its output is
// checked against values computed by hand (and, for the transcendental ones,
// against the double-precision formula to the six digits printed). Inputs are
// cast to dynamic shapes so the dynamic-size paths run.
// RUN: quant-bert-opt %s -convert-qb-to-linalg \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries" \
// RUN:   -buffer-deallocation-pipeline -convert-linalg-to-loops \
// RUN:   -convert-vector-to-scf -convert-math-to-libm -convert-scf-to-cf \
// RUN:   -expand-strided-metadata -lower-affine -convert-vector-to-llvm \
// RUN:   -finalize-memref-to-llvm -convert-math-to-llvm -convert-arith-to-llvm \
// RUN:   -convert-cf-to-llvm -convert-func-to-llvm -reconcile-unrealized-casts \
// RUN: | mlir-cpu-runner -e main -entry-point-result=void \
// RUN:   -shared-libs=%mlir_c_runner_utils,%mlir_runner_utils \
// RUN: | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print(%t: tensor<?x?x?xf32>) {
  %u = tensor.cast %t : tensor<?x?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @print4(%t: tensor<?x?x?x?xf32>) {
  %u = tensor.cast %t : tensor<?x?x?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @printCodes(%q: tensor<?xi8>) {
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0 : i8
  %v = vector.transfer_read %q[%c0], %pad : tensor<?xi8>, vector<8xi8>
  vector.print %v : vector<8xi8>
  return
}

// Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25, so the normalised row is
// [-3, -1, 1, 3] / (2 sqrt(1.25 + 1e-5)); gamma doubles element 1 and beta
// shifts element 2. A constant row normalises to 0 (no division by zero).
// CHECK-LABEL: layer_norm
// CHECK: sizes = [1, 2, 4]
// CHECK-NEXT: {{\[\[\[}}-1.34164,   -0.894424,   0.947212,   1.34164],
// CHECK-NEXT: {{\[}}0,   0,   0.5,   0]]]
func.func @layer_norm() {
  %x = arith.constant dense<[[[1.0, 2.0, 3.0, 4.0], [7.0, 7.0, 7.0, 7.0]]]> : tensor<1x2x4xf32>
  %g = arith.constant dense<[1.0, 2.0, 1.0, 1.0]> : tensor<4xf32>
  %b = arith.constant dense<[0.0, 0.0, 0.5, 0.0]> : tensor<4xf32>
  %xd = tensor.cast %x : tensor<1x2x4xf32> to tensor<?x?x4xf32>
  %n = qb.layer_norm %xd, %g, %b {epsilon = 1.0e-5 : f64} : tensor<?x?x4xf32>, tensor<4xf32>, tensor<4xf32>
  %p = tensor.cast %n : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  call @print(%p) : (tensor<?x?x?xf32>) -> ()
  return
}

// 0.5 x (1 + erf(x / sqrt 2)) and the tanh form, at -3, -1, 0, 1, 2.
// CHECK-LABEL: gelu
// CHECK: sizes = [1, 1, 5]
// CHECK-NEXT: {{\[\[\[}}-0.004049{{[0-9]+}},   -0.15865{{[0-9]}},   0,   0.84134{{[0-9]}},   1.9545{{[0-9]?}}]]]
// CHECK: sizes = [1, 1, 5]
// CHECK-NEXT: {{\[\[\[}}-0.003637{{[0-9]+}},   -0.15880{{[0-9]}},   0,   0.84119{{[0-9]}},   1.9546{{[0-9]?}}]]]
func.func @gelu() {
  %x = arith.constant dense<[[[-3.0, -1.0, 0.0, 1.0, 2.0]]]> : tensor<1x1x5xf32>
  %xd = tensor.cast %x : tensor<1x1x5xf32> to tensor<?x?x?xf32>
  %e = qb.gelu %xd : tensor<?x?x?xf32>
  call @print(%e) : (tensor<?x?x?xf32>) -> ()
  %t = qb.gelu %xd approximation<tanh> : tensor<?x?x?xf32>
  call @print(%t) : (tensor<?x?x?xf32>) -> ()
  return
}

// Softmax of [1, 2, 3]; [1000, 1000.5] only works because the row maximum is
// subtracted first (exp(1000) is inf in f32); a constant row is uniform.
// CHECK-LABEL: softmax
// CHECK: sizes = [3, 1, 3]
// CHECK-NEXT: {{\[\[\[}}0.0900306,   0.244728,   0.665241]],
// CHECK-NEXT: {{\[\[}}0.377541,   0.622459,   0]],
// CHECK-NEXT: {{\[\[}}0.333333,   0.333333,   0.333333]]]
func.func @softmax() {
  %x = arith.constant dense<[[[1.0, 2.0, 3.0]], [[1000.0, 1000.5, -1.0e30]], [[5.0, 5.0, 5.0]]]> : tensor<3x1x3xf32>
  %xd = tensor.cast %x : tensor<3x1x3xf32> to tensor<?x?x?xf32>
  %s = qb.softmax %xd : tensor<?x?x?xf32>
  call @print(%s) : (tensor<?x?x?xf32>) -> ()
  return
}

// Residual add, then scale by 0.5.
// CHECK-LABEL: add_scale
// CHECK: sizes = [1, 1, 3]
// CHECK-NEXT: {{\[\[\[}}2,   3,   -0.25]]]
func.func @add_scale() {
  %a = arith.constant dense<[[[1.0, 2.0, -1.0]]]> : tensor<1x1x3xf32>
  %b = arith.constant dense<[[[3.0, 4.0, 0.5]]]> : tensor<1x1x3xf32>
  %ad = tensor.cast %a : tensor<1x1x3xf32> to tensor<?x?x?xf32>
  %bd = tensor.cast %b : tensor<1x1x3xf32> to tensor<?x?x?xf32>
  %s = qb.add %ad, %bd : tensor<?x?x?xf32>
  %r = qb.scale %s by 0.5 : tensor<?x?x?xf32>
  call @print(%r) : (tensor<?x?x?xf32>) -> ()
  return
}

// words[i] = [i, 10 i], positions[s] = [100 s, 0.5], token_types =
// [[0, 0], [1000, 2000]]:
//   (b0, s0) id 3 type 0: [3, 30.5]      (b0, s1) id 1 type 1: [1101, 2010.5]
//   (b1, s0) id 0 type 1: [1000, 2000.5] (b1, s1) id 4 type 0: [104, 40.5]
// The positions table has more rows (4) than the sequence (2).
// CHECK-LABEL: embedding
// CHECK: sizes = [2, 2, 2]
// CHECK-NEXT: {{\[\[\[}}3,   30.5],
// CHECK-NEXT: {{\[}}1101,   2010.5]],
// CHECK-NEXT: {{\[\[}}1000,   2000.5],
// CHECK-NEXT: {{\[}}104,   40.5]]]
func.func @embedding() {
  %ids = arith.constant dense<[[3, 1], [0, 4]]> : tensor<2x2xi32>
  %types = arith.constant dense<[[0, 1], [1, 0]]> : tensor<2x2xi32>
  %w = arith.constant dense<[[0.0, 0.0], [1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]]> : tensor<5x2xf32>
  %p = arith.constant dense<[[0.0, 0.5], [100.0, 0.5], [200.0, 0.5], [300.0, 0.5]]> : tensor<4x2xf32>
  %t = arith.constant dense<[[0.0, 0.0], [1000.0, 2000.0]]> : tensor<2x2xf32>
  %idsd = tensor.cast %ids : tensor<2x2xi32> to tensor<?x?xi32>
  %typesd = tensor.cast %types : tensor<2x2xi32> to tensor<?x?xi32>
  %e = qb.embedding %idsd, %typesd words(%w) positions(%p) token_types(%t)
      : (tensor<?x?xi32>, tensor<?x?xi32>, tensor<5x2xf32>, tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<?x?x2xf32>
  %ed = tensor.cast %e : tensor<?x?x2xf32> to tensor<?x?x?xf32>
  call @print(%ed) : (tensor<?x?x?xf32>) -> ()
  return
}

// y = x W^T + b with W = [[1, 0], [0, 1], [1, 1]] and b = [0.5, -1, 0].
// CHECK-LABEL: linear
// CHECK: sizes = [1, 2, 3]
// CHECK-NEXT: {{\[\[\[}}1.5,   1,   3],
// CHECK-NEXT: {{\[}}3.5,   3,   7]]]
func.func @linear() {
  %x = arith.constant dense<[[[1.0, 2.0], [3.0, 4.0]]]> : tensor<1x2x2xf32>
  %w = arith.constant dense<[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]> : tensor<3x2xf32>
  %b = arith.constant dense<[0.5, -1.0, 0.0]> : tensor<3xf32>
  %xd = tensor.cast %x : tensor<1x2x2xf32> to tensor<?x?x2xf32>
  %y = qb.linear %xd, %w bias(%b) : (tensor<?x?x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<?x?x3xf32>
  %yd = tensor.cast %y : tensor<?x?x3xf32> to tensor<?x?x?xf32>
  call @print(%yd) : (tensor<?x?x?xf32>) -> ()
  return
}

// [1, 2, 4] = [[0 1 2 3], [4 5 6 7]] in two heads of 2: head 0 holds columns
// 0-1, head 1 columns 2-3. Then per head S = Q K^T (Q = K = the head) and
// S V (V = the head):
//   head 0: [[0 1], [4 5]]  S = [[1 5], [5 41]]    S V = [[20 26], [164 210]]
//   head 1: [[2 3], [6 7]]  S = [[13 33], [33 85]] S V = [[224 270], [576 694]]
// and merge_heads gives the input back.
// CHECK-LABEL: heads
// CHECK: sizes = [1, 2, 2, 2]
// CHECK-NEXT: {{\[\[\[\[}}0,   1],
// CHECK-NEXT: {{\[}}4,   5]],
// CHECK-NEXT: {{\[\[}}2,   3],
// CHECK-NEXT: {{\[}}6,   7]]]]
// CHECK: sizes = [1, 2, 2, 2]
// CHECK-NEXT: {{\[\[\[\[}}1,   5],
// CHECK-NEXT: {{\[}}5,   41]],
// CHECK-NEXT: {{\[\[}}13,   33],
// CHECK-NEXT: {{\[}}33,   85]]]]
// CHECK: sizes = [1, 2, 2, 2]
// CHECK-NEXT: {{\[\[\[\[}}20,   26],
// CHECK-NEXT: {{\[}}164,   210]],
// CHECK-NEXT: {{\[\[}}224,   270],
// CHECK-NEXT: {{\[}}576,   694]]]]
// CHECK: sizes = [1, 2, 4]
// CHECK-NEXT: {{\[\[\[}}0,   1,   2,   3],
// CHECK-NEXT: {{\[}}4,   5,   6,   7]]]
func.func @heads() {
  %x = arith.constant dense<[[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]]> : tensor<1x2x4xf32>
  %xd = tensor.cast %x : tensor<1x2x4xf32> to tensor<?x?x4xf32>
  %h = qb.split_heads %xd {num_heads = 2 : i64} : tensor<?x?x4xf32> -> tensor<?x2x?x2xf32>
  %s = qb.batch_matmul %h, %h transpose_rhs : (tensor<?x2x?x2xf32>, tensor<?x2x?x2xf32>) -> tensor<?x2x?x?xf32>
  %c = qb.batch_matmul %s, %h : (tensor<?x2x?x?xf32>, tensor<?x2x?x2xf32>) -> tensor<?x2x?x2xf32>
  %m = qb.merge_heads %h : tensor<?x2x?x2xf32> -> tensor<?x?x4xf32>
  %hd = tensor.cast %h : tensor<?x2x?x2xf32> to tensor<?x?x?x?xf32>
  call @print4(%hd) : (tensor<?x?x?x?xf32>) -> ()
  %sd = tensor.cast %s : tensor<?x2x?x?xf32> to tensor<?x?x?x?xf32>
  call @print4(%sd) : (tensor<?x?x?x?xf32>) -> ()
  %cd = tensor.cast %c : tensor<?x2x?x2xf32> to tensor<?x?x?x?xf32>
  call @print4(%cd) : (tensor<?x?x?x?xf32>) -> ()
  %md = tensor.cast %m : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  call @print(%md) : (tensor<?x?x?xf32>) -> ()
  return
}

// Key 1 of batch 0 and key 0 of batch 1 are padding: -10000 is added to
// their scores, and softmax then gives them exactly zero weight.
// CHECK-LABEL: attention_mask
// CHECK: sizes = [2, 1, 1, 2]
// CHECK-NEXT: {{\[\[\[\[}}1,   -9998]]],
// CHECK-NEXT: {{\[\[\[}}-9997,   4]]]]
// CHECK: sizes = [2, 1, 1, 2]
// CHECK-NEXT: {{\[\[\[\[}}1,   0]]],
// CHECK-NEXT: {{\[\[\[}}0,   1]]]]
func.func @attention_mask() {
  %s = arith.constant dense<[[[[1.0, 2.0]]], [[[3.0, 4.0]]]]> : tensor<2x1x1x2xf32>
  %mask = arith.constant dense<[[1, 0], [0, 1]]> : tensor<2x2xi64>
  %sd = tensor.cast %s : tensor<2x1x1x2xf32> to tensor<?x?x?x?xf32>
  %maskd = tensor.cast %mask : tensor<2x2xi64> to tensor<?x?xi64>
  %m = qb.attention_mask %sd, %maskd : (tensor<?x?x?x?xf32>, tensor<?x?xi64>) -> tensor<?x?x?x?xf32>
  call @print4(%m) : (tensor<?x?x?x?xf32>) -> ()
  %p = qb.softmax %m : tensor<?x?x?x?xf32>
  call @print4(%p) : (tensor<?x?x?x?xf32>) -> ()
  return
}

// Scale 0.5, zero point 3: x / 0.5 = [0.5, 1.5, 2.5, -0.5, -1.5, 200, -200,
// NaN] rounds half to even to [0, 2, 2, -0, -2, 200, -200], plus 3 and
// clamped to [-128, 127]; NaN gives the zero point.
// CHECK-LABEL: quantize
// CHECK-NEXT: ( 3, 5, 5, 3, 1, 127, -128, 3 )
// Per channel (axis 1), scales [0.5, 0.25, 1], zero points [0, 3, -128]:
// rows [1, 1, 1] and [-0.25, 0.125, 300] (the last two codes are padding of
// the printed vector).
// CHECK-NEXT: ( 2, 7, -127, 0, 3, 127, 0, 0 )
func.func @quantize() {
  %x = arith.constant dense<[0.25, 0.75, 1.25, -0.25, -0.75, 100.0, -100.0, 0x7FC00000]> : tensor<8xf32>
  %xd = tensor.cast %x : tensor<8xf32> to tensor<?xf32>
  %q = qb.quantize %xd {scale = array<f32: 0.5>, zero_point = array<i32: 3>} : tensor<?xf32> -> tensor<?xi8>
  call @printCodes(%q) : (tensor<?xi8>) -> ()
  %y = arith.constant dense<[[1.0, 1.0, 1.0], [-0.25, 0.125, 300.0]]> : tensor<2x3xf32>
  %yd = tensor.cast %y : tensor<2x3xf32> to tensor<?x3xf32>
  %qc = qb.quantize %yd {scale = array<f32: 0.5, 0.25, 1.0>, zero_point = array<i32: 0, 3, -128>, axis = 1}
      : tensor<?x3xf32> -> tensor<?x3xi8>
  %flat = tensor.collapse_shape %qc [[0, 1]] : tensor<?x3xi8> into tensor<?xi8>
  call @printCodes(%flat) : (tensor<?xi8>) -> ()
  return
}

// SensiMix's index format (zero point -128, offset -0.25, scale 0.5):
// (q + 128) * 0.5 - 0.25. Then symmetric per-row scales [0.1, 2].
// CHECK-LABEL: dequantize
// CHECK: sizes = [1, 1, 4]
// CHECK-NEXT: {{\[\[\[}}-0.25,   63.25,   63.75,   127.25]]]
// CHECK: sizes = [1, 2, 2]
// CHECK-NEXT: {{\[\[\[}}-12.8,   12.7],
// CHECK-NEXT: {{\[}}-2,   6]]]
func.func @dequantize() {
  %q = arith.constant dense<[[[-128, -1, 0, 127]]]> : tensor<1x1x4xi8>
  %qd = tensor.cast %q : tensor<1x1x4xi8> to tensor<?x?x?xi8>
  %x = qb.dequantize %qd {scale = array<f32: 0.5>, zero_point = array<i32: -128>, offset = -0.25 : f32}
      : tensor<?x?x?xi8> -> tensor<?x?x?xf32>
  call @print(%x) : (tensor<?x?x?xf32>) -> ()
  %w = arith.constant dense<[[[-128, 127], [-1, 3]]]> : tensor<1x2x2xi8>
  %wx = qb.dequantize %w {scale = array<f32: 0.1, 2.0>, axis = 1} : tensor<1x2x2xi8> -> tensor<1x2x2xf32>
  %wxd = tensor.cast %wx : tensor<1x2x2xf32> to tensor<?x?x?xf32>
  call @print(%wxd) : (tensor<?x?x?xf32>) -> ()
  return
}

func.func @main() {
  vector.print str "layer_norm\n"
  call @layer_norm() : () -> ()
  vector.print str "gelu\n"
  call @gelu() : () -> ()
  vector.print str "softmax\n"
  call @softmax() : () -> ()
  vector.print str "add_scale\n"
  call @add_scale() : () -> ()
  vector.print str "embedding\n"
  call @embedding() : () -> ()
  vector.print str "linear\n"
  call @linear() : () -> ()
  vector.print str "heads\n"
  call @heads() : () -> ()
  vector.print str "attention_mask\n"
  call @attention_mask() : () -> ()
  vector.print str "quantize\n"
  call @quantize() : () -> ()
  vector.print str "dequantize\n"
  call @dequantize() : () -> ()
  return
}
