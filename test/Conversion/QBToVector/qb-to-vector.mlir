// convert-qb-to-vector: the structure of the vectorised bitpack,
// XNOR-popcount GEMM and fused attention. Numerics are checked by executing
// the kernels against the scalar references (test/Execution).
// RUN: quant-bert-opt %s -split-input-file -convert-qb-to-vector -verify-diagnostics | FileCheck %s
// RUN: quant-bert-opt %s -split-input-file -convert-qb-to-vector="tile-m=2 tile-n=1" -verify-diagnostics | FileCheck %s --check-prefix=TILE

// K = 100: one full 64-lane word and one partial word read with +1 padding
// (not in bounds), so its padding bits come out 0. Rows are the iterations
// of a parallel loop, each writing its [1, 2] slice of the result.
// CHECK-LABEL: func.func @bitpack
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<64xf32>
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[ROWS:.*]] = tensor.dim %{{.*}}, %[[C0]] : tensor<?x100xf32>
// CHECK: scf.forall (%[[ROW:[a-z0-9_]+]]) in (%[[ROWS]]) shared_outs(%[[OUT:[a-z0-9_]+]] = %{{.*}}) -> (tensor<?x2xi64>)
// CHECK: %[[SLICE:.*]] = tensor.extract_slice %[[OUT]][%[[ROW]], 0] [1, 2] [1, 1] : tensor<?x2xi64> to tensor<1x2xi64>
// CHECK: %[[L0:.*]] = vector.transfer_read %{{.*}}[%[[ROW]], %[[C0]]], %[[ONE]] {in_bounds = [true]} : tensor<?x100xf32>, vector<64xf32>
// CHECK: %[[N0:.*]] = arith.cmpf ule, %[[L0]], %[[ZERO]] : vector<64xf32>
// CHECK: %[[B0:.*]] = vector.bitcast %[[N0]] : vector<64xi1> to vector<1xi64>
// CHECK: %[[W0:.*]] = vector.transfer_write %[[B0]], %[[SLICE]][%[[C0]], %[[C0]]] {in_bounds = [true]} : vector<1xi64>, tensor<1x2xi64>
// CHECK: %[[L1:.*]] = vector.transfer_read %{{.*}}[%[[ROW]], %{{.*}}], %[[ONE]] : tensor<?x100xf32>, vector<64xf32>
// CHECK: arith.cmpf ule, %[[L1]], %[[ZERO]]
// CHECK: %[[W1:.*]] = vector.transfer_write %{{.*}}, %[[W0]][%[[C0]], %[[C1]]]
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[W1]] into %[[OUT]][%[[ROW]], 0] [1, 2] [1, 1] : tensor<1x2xi64> into tensor<?x2xi64>
// CHECK-NOT: qb.bitpack
func.func @bitpack(%x: tensor<?x100xf32>) -> tensor<?x2xi64> {
  %p = qb.bitpack %x : tensor<?x100xf32> -> tensor<?x2xi64>
  return %p : tensor<?x2xi64>
}

// -----

// A rank-3 input is packed as a matrix and reshaped back.
// CHECK-LABEL: func.func @bitpack_rank3
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<2x?x64xf32> into tensor<?x64xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [2, %{{.*}}, 1] : tensor<?x1xi64> into tensor<2x?x1xi64>
func.func @bitpack_rank3(%x: tensor<2x?x64xf32>) -> tensor<2x?x1xi64> {
  %p = qb.bitpack %x : tensor<2x?x64xf32> -> tensor<2x?x1xi64>
  return %p : tensor<2x?x1xi64>
}

// -----

// N = 20 with the default 4 x 3 tile: no full 24-wide panel, two whole
// 8-wide vectors (a parallel loop over the two panels), then a 4-wide
// vector written straight into the result. The constant weight [20, 1] is
// transposed to [1, 20] at compile time.
// CHECK-LABEL: func.func @binary_linear
// CHECK-DAG: %[[WT:.*]] = arith.constant dense<{{\[\[}}1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]]> : tensor<1x20xi64>
// CHECK-DAG: %[[K8:.*]] = arith.constant dense<60> : vector<8xi64>
// CHECK-DAG: %[[K4:.*]] = arith.constant dense<60> : vector<4xi64>
// CHECK: %[[PANELS:.*]] = scf.forall (%[[P:[a-z0-9_]+]]) in (2) shared_outs(%[[OUT:[a-z0-9_]+]] = %{{.*}}) -> (tensor<?x20xf32>)
// CHECK: %[[COL:.*]] = arith.muli %[[P]], %{{.*}} : index
// CHECK: tensor.extract_slice %[[OUT]][0, %[[COL]]] [%{{.*}}, 8] [1, 1] : tensor<?x20xf32> to tensor<?x8xf32>
// CHECK: scf.for
// CHECK: scf.for %[[WORD:[a-z0-9_]+]] = {{.*}} -> (vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>)
// CHECK: %[[W:.*]] = vector.transfer_read %[[WT]][%[[WORD]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x20xi64>, vector<8xi64>
// CHECK: %[[X:.*]] = tensor.extract %{{.*}}[%{{.*}}, %[[WORD]]] : tensor<?x1xi64>
// CHECK: %[[XB:.*]] = vector.broadcast %[[X]] : i64 to vector<8xi64>
// CHECK: %[[XOR:.*]] = arith.xori %[[XB]], %[[W]] : vector<8xi64>
// CHECK: %[[POP:.*]] = math.ctpop %[[XOR]] : vector<8xi64>
// CHECK: arith.addi %{{.*}}, %[[POP]] : vector<8xi64>
// CHECK: %[[TWICE:.*]] = arith.shli %{{.*}}, %{{.*}} : vector<8xi64>
// CHECK: %[[DOT:.*]] = arith.subi %[[K8]], %[[TWICE]] : vector<8xi64>
// CHECK: %[[F:.*]] = arith.sitofp %[[DOT]] : vector<8xi64> to vector<8xf32>
// CHECK: %[[SCALED:.*]] = arith.mulf %[[F]], %{{.*}} : vector<8xf32>
// CHECK: %[[Y:.*]] = arith.addf %[[SCALED]], %{{.*}} : vector<8xf32>
// CHECK: vector.transfer_write %[[Y]]
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][0, %[[COL]]] [%{{.*}}, 8] [1, 1] : tensor<?x8xf32> into tensor<?x20xf32>
// CHECK-NOT: scf.forall
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[PANELS]])
// CHECK: math.ctpop %{{.*}} : vector<4xi64>
// CHECK: arith.subi %[[K4]], %{{.*}} : vector<4xi64>
// CHECK-NOT: qb.binary_linear
// TILE-LABEL: func.func @binary_linear
// TILE: scf.for %{{.*}} -> (vector<8xi64>, vector<8xi64>)
func.func @binary_linear(%x: tensor<?x1xi64>, %s: tensor<20xf32>, %b: tensor<20xf32>) -> tensor<?x20xf32> {
  %w = arith.constant dense<[[1],[2],[3],[4],[5],[6],[7],[8],[9],[10],[11],[12],[13],[14],[15],[16],[17],[18],[19],[20]]> : tensor<20x1xi64>
  %y = qb.binary_linear %x, %w scale(%s) bias(%b) {in_features = 60} : (tensor<?x1xi64>, tensor<20x1xi64>, tensor<20xf32>, tensor<20xf32>) -> tensor<?x20xf32>
  return %y : tensor<?x20xf32>
}

// -----

// A weight that is not constant is transposed at run time.
// CHECK-LABEL: func.func @binary_linear_weight_argument
// CHECK: linalg.transpose ins(%{{.*}} : tensor<16x2xi64>) outs(%{{.*}} : tensor<2x16xi64>) permutation = [1, 0]
// CHECK-NOT: arith.addf
func.func @binary_linear_weight_argument(%x: tensor<3x2xi64>, %w: tensor<16x2xi64>, %s: tensor<16xf32>) -> tensor<3x16xf32> {
  %y = qb.binary_linear %x, %w scale(%s) {in_features = 100} : (tensor<3x2xi64>, tensor<16x2xi64>, tensor<16xf32>) -> tensor<3x16xf32>
  return %y : tensor<3x16xf32>
}

// -----

// A binary linear whose only use is a bitpack lowers with it into one loop
// over output words (N = 128: 2 words), never storing the f32 outputs: per
// word two halves of 4 vectors, each output compared ule 0 as qb.bitpack
// does, its 8 bits shifted to their place in the word.
// CHECK-LABEL: func.func @binary_linear_signs
// CHECK-NOT: tensor<?x128xf32>
// CHECK: %[[EMPTY:.*]] = tensor.empty(%{{.*}}) : tensor<?x2xi64>
// CHECK: scf.forall (%[[WORD:[a-z0-9_]+]]) in (2) shared_outs(%[[OUT:[a-z0-9_]+]] = %[[EMPTY]]) -> (tensor<?x2xi64>)
// CHECK: tensor.extract_slice %[[OUT]][0, %[[WORD]]] [%{{.*}}, 1] [1, 1] : tensor<?x2xi64> to tensor<?x1xi64>
// CHECK: scf.for %{{.*}} -> (vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>)
// CHECK: math.ctpop
// CHECK: %[[Y:.*]] = arith.addf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: %[[NEG:.*]] = arith.cmpf ule, %[[Y]], %{{.*}} : vector<8xf32>
// CHECK: %[[BYTE:.*]] = vector.bitcast %[[NEG]] : vector<8xi1> to vector<1xi8>
// CHECK: %[[B:.*]] = vector.extract %[[BYTE]][0] : i8 from vector<1xi8>
// CHECK: %[[WIDE:.*]] = arith.extui %[[B]] : i8 to i64
// CHECK: %[[SHIFTED:.*]] = arith.shli %{{.*}}, %{{.*}} : i64
// CHECK: arith.ori %[[WIDE]], %[[SHIFTED]] : i64
// CHECK: tensor.insert %{{.*}} into %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x1xi64>
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][0, %[[WORD]]] [%{{.*}}, 1] [1, 1] : tensor<?x1xi64> into tensor<?x2xi64>
// CHECK-NOT: qb.bitpack
// CHECK-NOT: qb.binary_linear
func.func @binary_linear_signs(%x: tensor<?x1xi64>, %w: tensor<128x1xi64>, %s: tensor<128xf32>, %b: tensor<128xf32>) -> tensor<?x2xi64> {
  %y = qb.binary_linear %x, %w scale(%s) bias(%b) {in_features = 64} : (tensor<?x1xi64>, tensor<128x1xi64>, tensor<128xf32>, tensor<128xf32>) -> tensor<?x128xf32>
  %p = qb.bitpack %y : tensor<?x128xf32> -> tensor<?x2xi64>
  return %p : tensor<?x2xi64>
}

// -----

// Not fused: the outputs have another use, or N = 96 is not whole words.
// CHECK-LABEL: func.func @binary_linear_signs_not_fused
// CHECK: tensor.empty(%{{.*}}) : tensor<?x128xf32>
// CHECK: tensor.empty(%{{.*}}) : tensor<?x96xf32>
// CHECK-NOT: vector<8xi1> to vector<1xi8>
// CHECK: return
func.func @binary_linear_signs_not_fused(%x: tensor<?x1xi64>, %w: tensor<128x1xi64>, %w2: tensor<96x1xi64>, %s: tensor<128xf32>, %s2: tensor<96xf32>) -> (tensor<?x2xi64>, tensor<?x128xf32>, tensor<?x2xi64>) {
  %y = qb.binary_linear %x, %w scale(%s) {in_features = 64} : (tensor<?x1xi64>, tensor<128x1xi64>, tensor<128xf32>) -> tensor<?x128xf32>
  %p = qb.bitpack %y : tensor<?x128xf32> -> tensor<?x2xi64>
  %y2 = qb.binary_linear %x, %w2 scale(%s2) {in_features = 64} : (tensor<?x1xi64>, tensor<96x1xi64>, tensor<96xf32>) -> tensor<?x96xf32>
  %p2 = qb.bitpack %y2 : tensor<?x96xf32> -> tensor<?x2xi64>
  return %p, %y, %p2 : tensor<?x2xi64>, tensor<?x128xf32>, tensor<?x2xi64>
}

// -----

// qb.attention, 2 heads of 16 in f16: Q re-laid in f32, K transposed by a
// parallel loop over (batch, head, 16 keys) with lane shuffles, then a
// parallel loop over (batch, head, 64-query chunk) whose row blocks of 4
// compute scores 32 keys at a time (8 accumulators), exponentials, and the
// context as FMAs of V rows.
// CHECK-LABEL: func.func @attention
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2x?x16xf32>)
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, 2, %{{.*}}) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x2x16x?xf16>)
// CHECK: vector.shuffle
// CHECK: arith.truncf {{.*}} : vector<16xf32> to vector<16xf16>
// CHECK: tensor.parallel_insert_slice {{.*}} : tensor<1x1x16x?xf16> into tensor<?x2x16x?xf16>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2x?x16xf16>)
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}}, 2, %{{.*}}) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x?x32xf32>)
// CHECK: tensor.empty(%{{.*}}) : tensor<4x?xf32>
// CHECK: scf.for {{.*}} step %c4 iter_args({{.*}}) -> (tensor<1x?x16xf32>, tensor<4x?xf32>)
// CHECK: scf.for {{.*}} step %c32
// CHECK-COUNT-8: vector.fma
// CHECK: vector.reduction <maximumf>
// CHECK: math.exp
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: tensor.parallel_insert_slice {{.*}} : tensor<1x?x16xf32> into tensor<?x?x32xf32>
func.func @attention(%q: tensor<?x?x32xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %m: tensor<?x?xi32>) -> tensor<?x?x32xf32> {
  %a = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.25 : f32, storage_type = f16}
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?xi32>) -> tensor<?x?x32xf32>
  return %a : tensor<?x?x32xf32>
}

// -----

func.func @dynamic_packed_dimension(%x: tensor<4x?xf32>) -> tensor<4x?xi64> {
  // expected-error @+1 {{'qb.bitpack' op could not be lowered to vector loops: it needs static packed, weight and hidden dimensions}}
  %p = qb.bitpack %x : tensor<4x?xf32> -> tensor<4x?xi64>
  return %p : tensor<4x?xi64>
}

// -----

// Block-sparse (block_mask, 32 outputs x 64 inputs a block): N = 72 is two
// whole panels of 32 and a partial one. Only the 4 stored blocks are kept,
// in panel order: panel p's are [starts[p], starts[p + 1]) = [0, 1), [1, 2),
// [2, 4) of the block list, each naming its input word (0, 1, 0, 1) and
// holding its 32 rows' words (zeros past N). Each output counts the inputs
// of its panel's blocks (64, 36 = K % 64, 100) in place of K. Every panel
// is 4 vectors, whatever tile-n says (TILE runs the same lowering); the
// partial panel's writes past N are masked (not in bounds). The tables'
// values are checked by running the kernel (test/Execution).
// CHECK-LABEL: func.func @binary_linear_block_sparse
// CHECK-DAG: %[[STARTS:.*]] = arith.constant dense<[0, 1, 2, 4]> : tensor<4xi64>
// CHECK-DAG: %[[WORDS:.*]] = arith.constant dense<[0, 1, 0, 1]> : tensor<4xi64>
// CHECK-DAG: %[[BLOCKS:.*]] = arith.constant dense<{{.*}}> : tensor<4x32xi64>
// CHECK-DAG: %[[COUNTED:.*]] = arith.constant dense<{{.*}}> : tensor<96xi64>
// CHECK: scf.forall (%{{.*}}) in (2) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<?x72xf32>)
// CHECK: %[[BEGIN:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK: %[[END:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK: scf.for %[[B:[a-z0-9_]+]] = %[[BEGIN]] to %[[END]] step %{{.*}} iter_args({{.*}}) -> (vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, {{.*}})
// CHECK: %[[W:.*]] = tensor.extract %[[WORDS]][%[[B]]] : tensor<4xi64>
// CHECK: %[[WORD:.*]] = arith.index_cast %[[W]] : i64 to index
// CHECK: vector.transfer_read %[[BLOCKS]][%[[B]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<4x32xi64>, vector<8xi64>
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %[[WORD]]] : tensor<?x2xi64>
// CHECK: math.ctpop
// CHECK: vector.transfer_read %[[COUNTED]]
// CHECK: scf.forall.in_parallel
// CHECK: vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] {in_bounds = [true]} : vector<8xf32>, tensor<?x72xf32>
// CHECK: vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : vector<8xf32>, tensor<?x72xf32>
// CHECK-NOT: qb.binary_linear
// TILE-LABEL: func.func @binary_linear_block_sparse
// TILE: scf.for %{{.*}} -> (vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>, vector<8xi64>)
func.func @binary_linear_block_sparse(%xp: tensor<?x2xi64>, %s: tensor<72xf32>) -> tensor<?x72xf32> {
  %w = arith.constant dense<7> : tensor<72x2xi64>
  %m = arith.constant dense<[[true, false], [false, true], [true, true]]> : tensor<3x2xi1>
  %y = qb.binary_linear %xp, %w scale(%s) block_mask(%m) {in_features = 100}
      : (tensor<?x2xi64>, tensor<72x2xi64>, tensor<72xf32>, tensor<3x2xi1>) -> tensor<?x72xf32>
  return %y : tensor<?x72xf32>
}

// -----

func.func @block_mask_not_constant(%xp: tensor<?x2xi64>, %s: tensor<40xf32>, %m: tensor<2x2xi1>) -> tensor<?x40xf32> {
  %w = arith.constant dense<7> : tensor<40x2xi64>
  // expected-error @+1 {{'qb.binary_linear' op could not be lowered to vector loops: it needs static packed, weight and hidden dimensions, and a constant weight and block_mask}}
  %y = qb.binary_linear %xp, %w scale(%s) block_mask(%m) {in_features = 100}
      : (tensor<?x2xi64>, tensor<40x2xi64>, tensor<40xf32>, tensor<2x2xi1>) -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}
