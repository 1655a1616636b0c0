// qb-vectorize-linalg: linalg ops on tensors with a static innermost extent
// become one vector per row inside an scf.forall over the other dimensions
// (an scf.for nest when a reduction crosses rows); element-wise rows longer
// than 64 are cut into 64-wide pieces by an scf.for; float row sums become
// reassociable reductions; ops whose innermost extent is dynamic or too
// long stay as they are.
// RUN: quant-bert-opt %s -split-input-file -convert-qb-to-linalg -qb-vectorize-linalg | FileCheck %s
// RUN: quant-bert-opt %s -split-input-file -convert-qb-to-linalg \
// RUN:   -qb-vectorize-linalg=max-vector-elements=8 | FileCheck %s --check-prefix=SHORT

#id3 = affine_map<(b, s, h) -> (b, s, h)>

// An element-wise op (a residual add) on [?, ?, 16]: a parallel loop over
// the rows, each writing its [1, 1, 16] slice.
// CHECK-LABEL: func.func @elementwise
// CHECK: scf.forall (%[[B:.*]], %[[S:.*]]) in (%{{.*}}, %{{.*}}) shared_outs(%[[OUT:.*]] = %{{.*}})
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x16xf32>, vector<16xf32>
// CHECK: vector.transfer_read {{.*}} : tensor<1x1x16xf32>, vector<16xf32>
// CHECK: arith.addf {{.*}} : vector<16xf32>
// CHECK: %[[ROW:.*]] = vector.transfer_write {{.*}} : vector<16xf32>, tensor<1x1x16xf32>
// CHECK: tensor.parallel_insert_slice %[[ROW]] into %[[OUT]][%[[B]], %[[S]], 0] [1, 1, 16] [1, 1, 1]
// CHECK-NOT: linalg.generic
// SHORT-LABEL: func.func @elementwise
// SHORT: linalg.generic
// SHORT-NOT: vector.
func.func @elementwise(%a: tensor<?x?x16xf32>, %b: tensor<?x?x16xf32>,
                       %init: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %r = linalg.generic {indexing_maps = [#id3, #id3, #id3],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%a, %b : tensor<?x?x16xf32>, tensor<?x?x16xf32>)
      outs(%init : tensor<?x?x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<?x?x16xf32>
  return %r : tensor<?x?x16xf32>
}

// -----

// A row sum (LayerNorm's mean): the reduction is over the vectorized row
// and may be reassociated; rows are independent.
// CHECK-LABEL: func.func @row_sum
// SHORT-LABEL: func.func @row_sum
// CHECK: scf.forall
// CHECK: vector.transfer_read {{.*}} vector<32xf32>
// CHECK: vector.reduction <add>, {{.*}} fastmath<reassoc> : vector<32xf32> into f32
// CHECK-NOT: linalg.generic
func.func @row_sum(%x: tensor<?x32xf32>, %init: tensor<?xf32>) -> tensor<?xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x32xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %v, %acc : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}

// -----

// A 128-wide element-wise row: rows in parallel, two 64-wide pieces each.
// CHECK-LABEL: func.func @long_row
// CHECK: scf.forall (%{{.*}}) in (%{{.*}})
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64
// CHECK: arith.mulf {{.*}} : vector<64xf32>
// CHECK: tensor.parallel_insert_slice {{.*}} [1, 128] [1, 1] : tensor<1x128xf32> into tensor<?x128xf32>
func.func @long_row(%a: tensor<?x128xf32>, %init: tensor<?x128xf32>) -> tensor<?x128xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<?x128xf32>) outs(%init : tensor<?x128xf32>) {
  ^bb0(%x: f32, %out: f32):
    %m = arith.mulf %x, %x : f32
    linalg.yield %m : f32
  } -> tensor<?x128xf32>
  return %r : tensor<?x128xf32>
}

// -----

// A sum over rows (a reduction on the outer dimension) cannot split its
// rows among threads: a sequential scf.for over them.
// CHECK-LABEL: func.func @column_sum
// CHECK-NOT: scf.forall
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (tensor<16xf32>)
// CHECK-NOT: scf.forall
func.func @column_sum(%x: tensor<?x16xf32>, %init: tensor<16xf32>) -> tensor<16xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (j)>],
                       iterator_types = ["reduction", "parallel"]}
      ins(%x : tensor<?x16xf32>) outs(%init : tensor<16xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %v, %acc : f32
    linalg.yield %s : f32
  } -> tensor<16xf32>
  return %r : tensor<16xf32>
}

// -----

// A residual add and a LayerNorm (convert-qb-to-linalg's mean, variance and
// normalize generics): one parallel loop over the rows does all of it, the
// row statistics staying in registers.
// CHECK-LABEL: func.func @add_layer_norm
// CHECK: scf.forall
// CHECK: arith.addf {{.*}} : vector<32xf32>
// CHECK: vector.reduction <add>
// CHECK: vector.reduction <add>
// CHECK: math.sqrt
// CHECK: tensor.parallel_insert_slice
// CHECK-NOT: scf.forall
// CHECK-NOT: linalg.generic
func.func @add_layer_norm(%x: tensor<?x?x32xf32>, %y: tensor<?x?x32xf32>,
                          %g: tensor<32xf32>, %b: tensor<32xf32>) -> tensor<?x?x32xf32> {
  %s = qb.add %x, %y : tensor<?x?x32xf32>
  %n = qb.layer_norm %s, %g, %b {epsilon = 1.0e-12 : f64}
      : tensor<?x?x32xf32>, tensor<32xf32>, tensor<32xf32>
  return %n : tensor<?x?x32xf32>
}

// -----

// A producer with a user outside the chain (the residual sum, returned too)
// stays a loop of its own rather than being computed twice.
// CHECK-LABEL: func.func @shared_producer
// CHECK: %[[SUM:.*]] = scf.forall
// CHECK: scf.forall
// CHECK: return %{{.*}}, %[[SUM]]
func.func @shared_producer(%x: tensor<?x?x32xf32>, %y: tensor<?x?x32xf32>,
                           %g: tensor<32xf32>, %b: tensor<32xf32>)
    -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  %s = qb.add %x, %y : tensor<?x?x32xf32>
  %n = qb.layer_norm %s, %g, %b {epsilon = 1.0e-12 : f64}
      : tensor<?x?x32xf32>, tensor<32xf32>, tensor<32xf32>
  return %n, %s : tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// -----

// A linear's matmul feeding an element-wise op: each row of the tanh needs
// a whole row of the matmul (columns and K), so the matmul is not fused.
// CHECK-LABEL: func.func @matmul_then_tanh
// CHECK: scf.forall
// CHECK: vector.reduction <add>
// CHECK: scf.forall
// CHECK: math.tanh
func.func @matmul_then_tanh(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = tensor.dim %x, %c0 : tensor<?x16xf32>
  %e = tensor.empty(%m) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.matmul_transpose_b ins(%x, %w : tensor<?x16xf32>, tensor<8x16xf32>)
      outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e2 = tensor.empty(%m) : tensor<?x8xf32>
  %t = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<?x8xf32>) outs(%e2 : tensor<?x8xf32>) {
  ^bb0(%v: f32, %out: f32):
    %h = math.tanh %v : f32
    linalg.yield %h : f32
  } -> tensor<?x8xf32>
  return %t : tensor<?x8xf32>
}

// -----

// A dynamic innermost extent is left to the scalar loops.
// CHECK-LABEL: func.func @dynamic_row
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @dynamic_row(%a: tensor<4x?xf32>, %init: tensor<4x?xf32>) -> tensor<4x?xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x?xf32>) outs(%init : tensor<4x?xf32>) {
  ^bb0(%x: f32, %out: f32):
    %m = arith.mulf %x, %x : f32
    linalg.yield %m : f32
  } -> tensor<4x?xf32>
  return %r : tensor<4x?xf32>
}
