// qb-fuse-attention: the unfused chain as import writes it becomes one
// qb.attention with f16 (or the requested) storage; chains it must not fuse
// are left alone.
// RUN: quant-bert-opt %s -split-input-file -qb-fuse-attention | FileCheck %s
// RUN: quant-bert-opt %s -split-input-file -qb-fuse-attention="storage-type=bf16" | FileCheck %s --check-prefix=BF16
// RUN: not quant-bert-opt %s -split-input-file -qb-fuse-attention="storage-type=i8" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: error: qb-fuse-attention: storage-type must be f16, bf16 or f32, got 'i8'

// CHECK-LABEL: func.func @full_chain
// CHECK-SAME: (%[[Q:.*]]: tensor<?x?x64xf32>, %[[K:.*]]: tensor<?x?x64xf32>, %[[V:.*]]: tensor<?x?x64xf32>, %[[M:.*]]: tensor<?x?xi32>)
// CHECK-NEXT: %[[A:.*]] = qb.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]]) {mask_fill = -1.000000e+09 : f32, num_heads = 4 : i64, scale = 2.500000e-01 : f32, storage_type = f16} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?xi32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[A]]
// BF16-LABEL: func.func @full_chain
// BF16: storage_type = bf16
func.func @full_chain(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>,
                      %mask: tensor<?x?xi32>) -> tensor<?x?x64xf32> {
  %qh = qb.split_heads %q {num_heads = 4} : tensor<?x?x64xf32> -> tensor<?x4x?x16xf32>
  %kh = qb.split_heads %k {num_heads = 4} : tensor<?x?x64xf32> -> tensor<?x4x?x16xf32>
  %vh = qb.split_heads %v {num_heads = 4} : tensor<?x?x64xf32> -> tensor<?x4x?x16xf32>
  %s = qb.batch_matmul %qh, %kh transpose_rhs : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x?xf32>
  %sc = qb.scale %s by 0.25 : tensor<?x4x?x?xf32>
  %m = qb.attention_mask %sc, %mask {fill = -1.0e9 : f32} : (tensor<?x4x?x?xf32>, tensor<?x?xi32>) -> tensor<?x4x?x?xf32>
  %p = qb.softmax %m : tensor<?x4x?x?xf32>
  %c = qb.batch_matmul %p, %vh : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %ctx = qb.merge_heads %c : tensor<?x4x?x16xf32> -> tensor<?x?x64xf32>
  return %ctx : tensor<?x?x64xf32>
}

// -----

// No mask and no scale (scale 1): still attention.
// CHECK-LABEL: func.func @no_mask_no_scale
// CHECK-NEXT: qb.attention %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 2 : i64, scale = 1.000000e+00 : f32, storage_type = f16} : (tensor<1x8x32xf32>, tensor<1x8x32xf32>, tensor<1x8x32xf32>) -> tensor<1x8x32xf32>
// CHECK-NEXT: return
func.func @no_mask_no_scale(%q: tensor<1x8x32xf32>, %k: tensor<1x8x32xf32>, %v: tensor<1x8x32xf32>) -> tensor<1x8x32xf32> {
  %qh = qb.split_heads %q {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x2x8x16xf32>
  %kh = qb.split_heads %k {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x2x8x16xf32>
  %vh = qb.split_heads %v {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x2x8x16xf32>
  %s = qb.batch_matmul %qh, %kh transpose_rhs : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x8xf32>
  %p = qb.softmax %s : tensor<1x2x8x8xf32>
  %c = qb.batch_matmul %p, %vh : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  %ctx = qb.merge_heads %c : tensor<1x2x8x16xf32> -> tensor<1x8x32xf32>
  return %ctx : tensor<1x8x32xf32>
}

// -----

// Fusion inside an encoder layer, with the linears around it untouched.
// CHECK-LABEL: func.func @inside_layer
// CHECK: qb.linear
// CHECK: qb.attention {{.*}} mask(%{{.*}}) {num_heads = 2 : i64, scale = 2.500000e-01 : f32, storage_type = f16}
// CHECK-NOT: qb.softmax
// CHECK: qb.yield
func.func @inside_layer(%x: tensor<2x8x32xf32>, %mask: tensor<2x8xi32>, %w: tensor<32x32xf32>) -> tensor<2x8x32xf32> {
  %0 = qb.encoder_layer layer 0 (%x, %mask) : (tensor<2x8x32xf32>, tensor<2x8xi32>) -> tensor<2x8x32xf32>
  attention {
  ^bb0(%h: tensor<2x8x32xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %h, %w role<query> : (tensor<2x8x32xf32>, tensor<32x32xf32>) -> tensor<2x8x32xf32>
    %qh = qb.split_heads %q {num_heads = 2} : tensor<2x8x32xf32> -> tensor<2x2x8x16xf32>
    %kh = qb.split_heads %h {num_heads = 2} : tensor<2x8x32xf32> -> tensor<2x2x8x16xf32>
    %vh = qb.split_heads %h {num_heads = 2} : tensor<2x8x32xf32> -> tensor<2x2x8x16xf32>
    %s = qb.batch_matmul %qh, %kh transpose_rhs : (tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>) -> tensor<2x2x8x8xf32>
    %sc = qb.scale %s by 0.25 : tensor<2x2x8x8xf32>
    %sm = qb.attention_mask %sc, %m : (tensor<2x2x8x8xf32>, tensor<2x8xi32>) -> tensor<2x2x8x8xf32>
    %p = qb.softmax %sm : tensor<2x2x8x8xf32>
    %c = qb.batch_matmul %p, %vh : (tensor<2x2x8x8xf32>, tensor<2x2x8x16xf32>) -> tensor<2x2x8x16xf32>
    %ctx = qb.merge_heads %c : tensor<2x2x8x16xf32> -> tensor<2x8x32xf32>
    qb.yield %ctx : tensor<2x8x32xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x32xf32>):
    qb.yield %a : tensor<2x8x32xf32>
  }
  return %0 : tensor<2x8x32xf32>
}

// -----

// The probabilities are also returned (attention-map distillation): fusing
// would recompute them, so the chain stays.
// CHECK-LABEL: func.func @probs_escape
// CHECK-NOT: qb.attention
// CHECK: qb.softmax
// CHECK: qb.merge_heads
func.func @probs_escape(%q: tensor<1x8x32xf32>, %k: tensor<1x8x32xf32>, %v: tensor<1x8x32xf32>)
    -> (tensor<1x8x32xf32>, tensor<1x2x8x8xf32>) {
  %qh = qb.split_heads %q {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x2x8x16xf32>
  %kh = qb.split_heads %k {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x2x8x16xf32>
  %vh = qb.split_heads %v {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x2x8x16xf32>
  %s = qb.batch_matmul %qh, %kh transpose_rhs : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x8xf32>
  %p = qb.softmax %s : tensor<1x2x8x8xf32>
  %c = qb.batch_matmul %p, %vh : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  %ctx = qb.merge_heads %c : tensor<1x2x8x16xf32> -> tensor<1x8x32xf32>
  return %ctx, %p : tensor<1x8x32xf32>, tensor<1x2x8x8xf32>
}

// -----

// Q and K split into different head counts (only dynamic head dimensions
// let such IR verify): not attention as defined.
// CHECK-LABEL: func.func @mismatched_heads
// CHECK-NOT: qb.attention
func.func @mismatched_heads(%q: tensor<1x8x32xf32>, %k: tensor<1x8x32xf32>, %v: tensor<1x8x32xf32>) -> tensor<1x8x32xf32> {
  %qh = qb.split_heads %q {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x?x8x?xf32>
  %kh = qb.split_heads %k {num_heads = 4} : tensor<1x8x32xf32> -> tensor<1x?x8x?xf32>
  %vh = qb.split_heads %v {num_heads = 2} : tensor<1x8x32xf32> -> tensor<1x?x8x?xf32>
  %s = qb.batch_matmul %qh, %kh transpose_rhs : (tensor<1x?x8x?xf32>, tensor<1x?x8x?xf32>) -> tensor<1x?x8x8xf32>
  %p = qb.softmax %s : tensor<1x?x8x8xf32>
  %c = qb.batch_matmul %p, %vh : (tensor<1x?x8x8xf32>, tensor<1x?x8x?xf32>) -> tensor<1x?x8x?xf32>
  %ctx = qb.merge_heads %c : tensor<1x?x8x?xf32> -> tensor<1x8x32xf32>
  return %ctx : tensor<1x8x32xf32>
}

// -----

// P K instead of P V (no transpose on the second product is required, but
// the first must be Q K^T): not fused.
// CHECK-LABEL: func.func @no_transpose
// CHECK-NOT: qb.attention
func.func @no_transpose(%q: tensor<1x16x16xf32>, %k: tensor<1x16x16xf32>, %v: tensor<1x16x16xf32>) -> tensor<1x16x16xf32> {
  %qh = qb.split_heads %q {num_heads = 1} : tensor<1x16x16xf32> -> tensor<1x1x16x16xf32>
  %kh = qb.split_heads %k {num_heads = 1} : tensor<1x16x16xf32> -> tensor<1x1x16x16xf32>
  %vh = qb.split_heads %v {num_heads = 1} : tensor<1x16x16xf32> -> tensor<1x1x16x16xf32>
  %s = qb.batch_matmul %qh, %kh : (tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>) -> tensor<1x1x16x16xf32>
  %p = qb.softmax %s : tensor<1x1x16x16xf32>
  %c = qb.batch_matmul %p, %vh : (tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>) -> tensor<1x1x16x16xf32>
  %ctx = qb.merge_heads %c : tensor<1x1x16x16xf32> -> tensor<1x16x16xf32>
  return %ctx : tensor<1x16x16xf32>
}
