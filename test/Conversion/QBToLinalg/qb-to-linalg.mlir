// convert-qb-to-linalg: every float-level qb op becomes linalg, tensor,
// arith and math on tensors; encoder layers are inlined; the ops other
// conversions own are left alone; quantized linears are rejected.
// RUN: quant-bert-opt %s -split-input-file -convert-qb-to-linalg -verify-diagnostics | FileCheck %s

// CHECK-DAG: #[[$TOKEN:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$ID3:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[IDS:.*]]: tensor<?x?xi32>, %[[TYPES:.*]]: tensor<?x?xi32>, %[[W:.*]]: tensor<10x4xf32>, %[[P:.*]]: tensor<8x4xf32>, %[[T:.*]]: tensor<2x4xf32>)
// CHECK-DAG: %[[B:.*]] = tensor.dim %[[IDS]], %c0
// CHECK-DAG: %[[S:.*]] = tensor.dim %[[IDS]], %c1
// CHECK: %[[INIT:.*]] = tensor.empty(%[[B]], %[[S]]) : tensor<?x?x4xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$TOKEN]], #[[$TOKEN]], #[[$ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[IDS]], %[[TYPES]] : tensor<?x?xi32>, tensor<?x?xi32>) outs(%[[INIT]] : tensor<?x?x4xf32>)
// CHECK: ^bb0(%[[ID:.*]]: i32, %[[TYPE:.*]]: i32, %{{.*}}: f32):
// CHECK-DAG: %[[POS:.*]] = linalg.index 1 : index
// CHECK-DAG: %[[H:.*]] = linalg.index 2 : index
// CHECK-DAG: %[[ROW:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK-DAG: %[[TROW:.*]] = arith.index_cast %[[TYPE]] : i32 to index
// CHECK-DAG: %[[WV:.*]] = tensor.extract %[[W]][%[[ROW]], %[[H]]]
// CHECK-DAG: %[[TV:.*]] = tensor.extract %[[T]][%[[TROW]], %[[H]]]
// CHECK: %[[SUM:.*]] = arith.addf %[[WV]], %[[TV]] : f32
// CHECK: %[[PV:.*]] = tensor.extract %[[P]][%[[POS]], %[[H]]]
// CHECK: %[[SUM2:.*]] = arith.addf %[[SUM]], %[[PV]] : f32
// CHECK: linalg.yield %[[SUM2]]
// CHECK-NOT: qb.
func.func @embedding(%ids: tensor<?x?xi32>, %types: tensor<?x?xi32>, %w: tensor<10x4xf32>,
                     %p: tensor<8x4xf32>, %t: tensor<2x4xf32>) -> tensor<?x?x4xf32> {
  %e = qb.embedding %ids, %types words(%w) positions(%p) token_types(%t)
      : (tensor<?x?xi32>, tensor<?x?xi32>, tensor<10x4xf32>, tensor<8x4xf32>, tensor<2x4xf32>) -> tensor<?x?x4xf32>
  return %e : tensor<?x?x4xf32>
}

// -----

// Two-pass LayerNorm in f32 on f16 data: row sum, mean, sum of squared
// deviations, then the normalisation with gamma and beta broadcast along the
// last dimension.
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ROWS:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$HID:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4xf16>, %[[G:.*]]: tensor<4xf16>, %[[BETA:.*]]: tensor<4xf16>)
// CHECK: %[[N:.*]] = arith.uitofp %{{.*}} : i64 to f32
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROWS]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<?x?x4xf16>)
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: arith.addf
// CHECK: } -> tensor<?x?xf32>
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<?x?xf32>)
// CHECK: arith.divf %{{.*}}, %[[N]] : f32
// CHECK: %[[SQ:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROWS]], #[[$ROWS]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[MEAN]] : tensor<?x?x4xf16>, tensor<?x?xf32>)
// CHECK: %[[D:.*]] = arith.subf
// CHECK: %[[D2:.*]] = arith.mulf %[[D]], %[[D]] : f32
// CHECK: arith.addf %{{.*}}, %[[D2]] : f32
// CHECK: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ROWS]], #[[$ROWS]], #[[$HID]], #[[$HID]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[MEAN]], %[[SQ]], %[[G]], %[[BETA]] :
// CHECK: %[[VAR:.*]] = arith.divf %{{.*}}, %[[N]] : f32
// CHECK: %[[VE:.*]] = arith.addf %[[VAR]], %[[EPS]] : f32
// CHECK: %[[STD:.*]] = math.sqrt %[[VE]] : f32
// CHECK: arith.subf
// CHECK: arith.divf %{{.*}}, %[[STD]] : f32
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[OUT:.*]] = arith.truncf %{{.*}} : f32 to f16
// CHECK: linalg.yield %[[OUT]] : f16
func.func @layer_norm(%x: tensor<?x?x4xf16>, %g: tensor<4xf16>, %b: tensor<4xf16>) -> tensor<?x?x4xf16> {
  %n = qb.layer_norm %x, %g, %b {epsilon = 1.0e-5 : f64} : tensor<?x?x4xf16>, tensor<4xf16>, tensor<4xf16>
  return %n : tensor<?x?x4xf16>
}

// -----

// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$ROWS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @softmax
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[MAXINIT:.*]] = linalg.fill ins(%[[NEGINF]] : f32) outs(%{{.*}} : tensor<?x2x?xf32>)
// CHECK: %[[MAX:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROWS]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} {{.*}} outs(%[[MAXINIT]] : tensor<?x2x?xf32>)
// CHECK: arith.maximumf
// CHECK: %[[EXP:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROWS]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%{{.*}}, %[[MAX]] :
// CHECK: %[[SUB:.*]] = arith.subf
// CHECK: math.exp %[[SUB]] : f32
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROWS]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[EXP]] :
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ROWS]], #[[$ID]]], {{.*}} ins(%[[EXP]], %[[SUM]] :
// CHECK: arith.divf
func.func @softmax(%x: tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32> {
  %p = qb.softmax %x : tensor<?x2x?x?xf32>
  return %p : tensor<?x2x?x?xf32>
}

// -----

// CHECK-LABEL: func.func @gelu_erf
// CHECK-DAG: %[[C_HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[C_ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[C_RSQRT2:.*]] = arith.constant 0.707106769 : f32
// CHECK: linalg.generic
// CHECK: ^bb0(%[[IN:.*]]: bf16, %{{.*}}: bf16):
// CHECK: %[[X:.*]] = arith.extf %[[IN]] : bf16 to f32
// CHECK: %[[HALF:.*]] = arith.mulf %[[X]], %[[C_HALF]] : f32
// CHECK: %[[ARG:.*]] = arith.mulf %[[X]], %[[C_RSQRT2]] : f32
// CHECK: %[[ERF:.*]] = math.erf %[[ARG]] : f32
// CHECK: %[[ONEPLUS:.*]] = arith.addf %[[C_ONE]], %[[ERF]] : f32
// CHECK: %[[Y:.*]] = arith.mulf %[[HALF]], %[[ONEPLUS]] : f32
// CHECK: %[[T:.*]] = arith.truncf %[[Y]] : f32 to bf16
// CHECK: linalg.yield %[[T]]
func.func @gelu_erf(%x: tensor<?x8xbf16>) -> tensor<?x8xbf16> {
  %g = qb.gelu %x : tensor<?x8xbf16>
  return %g : tensor<?x8xbf16>
}

// -----

// CHECK-LABEL: func.func @gelu_tanh
// CHECK-DAG: %[[C_CUBE:.*]] = arith.constant 4.471500e-02 : f32
// CHECK-DAG: %[[C_SCALE:.*]] = arith.constant 0.797884583 : f32
// CHECK: linalg.generic
// CHECK: ^bb0(%[[X:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[X2:.*]] = arith.mulf %[[X]], %[[X]] : f32
// CHECK: %[[X3:.*]] = arith.mulf %[[X2]], %[[X]] : f32
// CHECK: %[[T:.*]] = arith.mulf %[[C_CUBE]], %[[X3]] : f32
// CHECK: %[[INNER:.*]] = arith.addf %[[X]], %[[T]] : f32
// CHECK: %[[ARG:.*]] = arith.mulf %[[C_SCALE]], %[[INNER]] : f32
// CHECK: math.tanh %[[ARG]] : f32
// CHECK-NOT: math.erf
func.func @gelu_tanh(%x: tensor<?xf32>) -> tensor<?xf32> {
  %g = qb.gelu %x approximation<tanh> : tensor<?xf32>
  return %g : tensor<?xf32>
}

// -----

// CHECK-LABEL: func.func @add_and_scale
// CHECK-SAME: (%[[A:.*]]: tensor<?x?x8xf32>, %[[B:.*]]: tensor<?x?x8xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[A]], %[[B]] : tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK: arith.addf
// CHECK: %[[F:.*]] = arith.constant 1.250000e-01 : f32
// CHECK: linalg.generic {{.*}} ins(%[[SUM]] : tensor<?x?x8xf32>)
// CHECK: arith.mulf %{{.*}}, %[[F]] : f32
func.func @add_and_scale(%a: tensor<?x?x8xf32>, %b: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  %s = qb.add %a, %b : tensor<?x?x8xf32>
  %r = qb.scale %s by 0.125 : tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

// -----

// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$KEYS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3)>
// CHECK-LABEL: func.func @attention_mask
// CHECK-SAME: (%[[S:.*]]: tensor<?x2x?x?xf32>, %[[M:.*]]: tensor<?x?xi64>)
// CHECK-DAG: %[[FILL:.*]] = arith.constant -1.000000e+09 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[Z:.*]] = arith.constant 0 : i64
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$KEYS]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[S]], %[[M]] :
// CHECK: ^bb0(%[[SC:.*]]: f32, %[[MV:.*]]: i64, %{{.*}}: f32):
// CHECK: %[[PAD:.*]] = arith.cmpi eq, %[[MV]], %[[Z]] : i64
// CHECK: %[[BIAS:.*]] = arith.select %[[PAD]], %[[FILL]], %[[ZERO]] : f32
// CHECK: arith.addf %[[SC]], %[[BIAS]] : f32
func.func @attention_mask(%s: tensor<?x2x?x?xf32>, %m: tensor<?x?xi64>) -> tensor<?x2x?x?xf32> {
  %r = qb.attention_mask %s, %m {fill = -1.0e9 : f32} : (tensor<?x2x?x?xf32>, tensor<?x?xi64>) -> tensor<?x2x?x?xf32>
  return %r : tensor<?x2x?x?xf32>
}

// -----

// [B, S, K] -> [B*S, K] x W^T into a zeroed f32 [M, N], bias broadcast along
// rows, back to [B, S, N]: with tensor.reshape, since MLIR 19 cannot
// bufferize an expand_shape group with two dynamic sizes.
// CHECK-DAG: #[[$ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$COLS:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4xf32>, %[[W:.*]]: tensor<3x4xf32>, %[[BIAS:.*]]: tensor<3xf32>)
// CHECK-DAG: %[[B:.*]] = tensor.dim %[[X]], %c0
// CHECK-DAG: %[[S:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<?x?x4xf32> into tensor<?x4xf32>
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[ACC:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.*}} : tensor<?x3xf32>)
// CHECK: %[[MM:.*]] = linalg.matmul_transpose_b ins(%[[X2]], %[[W]] : tensor<?x4xf32>, tensor<3x4xf32>) outs(%[[ACC]] : tensor<?x3xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[$ID2]], #[[$COLS]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[MM]], %[[BIAS]] : tensor<?x3xf32>, tensor<3xf32>)
// CHECK: arith.addf
// CHECK: %[[N:.*]] = arith.constant 3 : index
// CHECK: %[[SHAPE:.*]] = tensor.from_elements %[[B]], %[[S]], %[[N]] : tensor<3xindex>
// CHECK: %[[R:.*]] = tensor.reshape %[[Y]](%[[SHAPE]]) : (tensor<?x3xf32>, tensor<3xindex>) -> tensor<?x?x3xf32>
// CHECK: return %[[R]]
func.func @linear(%x: tensor<?x?x4xf32>, %w: tensor<3x4xf32>, %b: tensor<3xf32>) -> tensor<?x?x3xf32> {
  %y = qb.linear %x, %w bias(%b) : (tensor<?x?x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<?x?x3xf32>
  return %y : tensor<?x?x3xf32>
}

// -----

// One dynamic size per group: tensor.expand_shape.
// CHECK-LABEL: func.func @linear_static_batch
// CHECK-SAME: (%[[X:.*]]: tensor<4x?x4xf32>,
// CHECK: %[[S:.*]] = tensor.dim %[[X]], %c1
// CHECK: linalg.matmul_transpose_b
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [4, %[[S]], 3] : tensor<?x3xf32> into tensor<4x?x3xf32>
func.func @linear_static_batch(%x: tensor<4x?x4xf32>, %w: tensor<3x4xf32>) -> tensor<4x?x3xf32> {
  %y = qb.linear %x, %w : (tensor<4x?x4xf32>, tensor<3x4xf32>) -> tensor<4x?x3xf32>
  return %y : tensor<4x?x3xf32>
}

// -----

// f16 operands accumulate in f32 and the result is truncated; a float
// precision annotation (f16) lowers like f32.
// CHECK-LABEL: func.func @linear_f16_no_bias
// CHECK: %[[MM:.*]] = linalg.matmul_transpose_b ins(%{{.*}}, %{{.*}} : tensor<8x4xf16>, tensor<3x4xf16>) outs(%{{.*}} : tensor<8x3xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[MM]] : tensor<8x3xf32>) outs(%{{.*}} : tensor<8x3xf16>)
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [2, 4, 3] : tensor<8x3xf16> into tensor<2x4x3xf16>
func.func @linear_f16_no_bias(%x: tensor<2x4x4xf16>, %w: tensor<3x4xf16>) -> tensor<2x4x3xf16> {
  %y = qb.linear %x, %w precision<f16> : (tensor<2x4x4xf16>, tensor<3x4xf16>) -> tensor<2x4x3xf16>
  return %y : tensor<2x4x3xf16>
}

// -----

// A 1-D input is a single row; a result type more static than the input is
// reached with a tensor.cast.
// CHECK-LABEL: func.func @linear_vector
// CHECK: %[[ROW:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
// CHECK: linalg.matmul_transpose_b ins(%[[ROW]], %{{.*}} : tensor<1x4xf32>, tensor<3x4xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<1x3xf32> into tensor<3xf32>
// CHECK-LABEL: func.func @linear_refined_result
// CHECK: %[[IN:.*]] = tensor.cast %{{.*}} : tensor<?x4xf32> to tensor<2x4xf32>
// CHECK: linalg.matmul_transpose_b ins(%{{.*}}, %{{.*}} : tensor<2x4xf32>, tensor<3x4xf32>)
func.func @linear_vector(%x: tensor<4xf32>, %w: tensor<3x4xf32>) -> tensor<3xf32> {
  %y = qb.linear %x, %w : (tensor<4xf32>, tensor<3x4xf32>) -> tensor<3xf32>
  return %y : tensor<3xf32>
}
func.func @linear_refined_result(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>) -> tensor<2x3xf32> {
  %y = qb.linear %x, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @split_heads
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8xf32>)
// CHECK-DAG: %[[B:.*]] = tensor.dim %[[X]], %c0
// CHECK-DAG: %[[S:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[E:.*]] = tensor.expand_shape %[[X]] {{\[\[}}0], [1], [2, 3]] output_shape [%[[B]], %[[S]], 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
// CHECK: %[[INIT:.*]] = tensor.empty(%[[B]], %[[S]]) : tensor<?x2x?x4xf32>
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[E]] : tensor<?x?x2x4xf32>) outs(%[[INIT]] : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
// CHECK: return %[[T]]
func.func @split_heads(%x: tensor<?x?x8xf32>) -> tensor<?x2x?x4xf32> {
  %y = qb.split_heads %x {num_heads = 2 : i64} : tensor<?x?x8xf32> -> tensor<?x2x?x4xf32>
  return %y : tensor<?x2x?x4xf32>
}

// -----

// A dynamic hidden size divides at run time.
// CHECK-LABEL: func.func @split_heads_dynamic_hidden
// CHECK: %[[H:.*]] = tensor.dim %{{.*}}, %c2
// CHECK: %[[D:.*]] = arith.divui %[[H]], %{{.*}} : index
// CHECK: tensor.expand_shape {{.*}} output_shape [%{{.*}}, %{{.*}}, 2, %[[D]]] : tensor<?x?x?xf32> into tensor<?x?x2x?xf32>
// CHECK: linalg.transpose
func.func @split_heads_dynamic_hidden(%x: tensor<?x?x?xf32>) -> tensor<?x2x?x?xf32> {
  %y = qb.split_heads %x {num_heads = 2 : i64} : tensor<?x?x?xf32> -> tensor<?x2x?x?xf32>
  return %y : tensor<?x2x?x?xf32>
}

// -----

// CHECK-LABEL: func.func @merge_heads
// CHECK-SAME: (%[[X:.*]]: tensor<?x2x?x4xf32>)
// CHECK: %[[INIT:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x2x4xf32>
// CHECK: %[[T:.*]] = linalg.transpose ins(%[[X]] : tensor<?x2x?x4xf32>) outs(%[[INIT]] : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[T]] {{\[\[}}0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
// CHECK: return %[[C]]
func.func @merge_heads(%x: tensor<?x2x?x4xf32>) -> tensor<?x?x8xf32> {
  %y = qb.merge_heads %x : tensor<?x2x?x4xf32> -> tensor<?x?x8xf32>
  return %y : tensor<?x?x8xf32>
}

// -----

// Q K^T over [batch, heads]: batch dims collapse into one and expand back.
// CHECK-LABEL: func.func @batch_matmul_transposed
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x?x4xf32>, %[[K:.*]]: tensor<?x2x?x4xf32>)
// CHECK-DAG: %[[B:.*]] = tensor.dim %[[Q]], %c0
// CHECK-DAG: %[[M:.*]] = tensor.dim %[[Q]], %c2
// CHECK-DAG: %[[N:.*]] = tensor.dim %[[K]], %c2
// CHECK: %[[QC:.*]] = tensor.collapse_shape %[[Q]] {{\[\[}}0, 1], [2], [3]] : tensor<?x2x?x4xf32> into tensor<?x?x4xf32>
// CHECK: %[[KC:.*]] = tensor.collapse_shape %[[K]] {{\[\[}}0, 1], [2], [3]] : tensor<?x2x?x4xf32> into tensor<?x?x4xf32>
// CHECK: %[[ACC:.*]] = linalg.fill
// CHECK: %[[S:.*]] = linalg.batch_matmul_transpose_b ins(%[[QC]], %[[KC]] : tensor<?x?x4xf32>, tensor<?x?x4xf32>) outs(%[[ACC]] : tensor<?x?x?xf32>)
// CHECK: %[[E:.*]] = tensor.expand_shape %[[S]] {{\[\[}}0, 1], [2], [3]] output_shape [%[[B]], 2, %[[M]], %[[N]]] : tensor<?x?x?xf32> into tensor<?x2x?x?xf32>
// CHECK: return %[[E]]
func.func @batch_matmul_transposed(%q: tensor<?x2x?x4xf32>, %k: tensor<?x2x?x4xf32>) -> tensor<?x2x?x?xf32> {
  %s = qb.batch_matmul %q, %k transpose_rhs : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x?xf32>
  return %s : tensor<?x2x?x?xf32>
}

// -----

// Rank 3 needs no reshape; rank 2 is a plain matmul.
// CHECK-LABEL: func.func @batch_matmul_rank3
// CHECK-NOT: tensor.collapse_shape
// CHECK: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<?x3x4xf32>, tensor<?x4x5xf32>) outs(%{{.*}} : tensor<?x3x5xf32>)
// CHECK-NOT: tensor.expand_shape
// CHECK-LABEL: func.func @matmul_f16
// CHECK: %[[MM:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<3x4xf16>, tensor<4x5xf16>) outs(%{{.*}} : tensor<3x5xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[MM]] : tensor<3x5xf32>) outs(%{{.*}} : tensor<3x5xf16>)
// CHECK: arith.truncf
func.func @batch_matmul_rank3(%a: tensor<?x3x4xf32>, %b: tensor<?x4x5xf32>) -> tensor<?x3x5xf32> {
  %c = qb.batch_matmul %a, %b : (tensor<?x3x4xf32>, tensor<?x4x5xf32>) -> tensor<?x3x5xf32>
  return %c : tensor<?x3x5xf32>
}
func.func @matmul_f16(%a: tensor<3x4xf16>, %b: tensor<4x5xf16>) -> tensor<3x5xf16> {
  %c = qb.batch_matmul %a, %b : (tensor<3x4xf16>, tensor<4x5xf16>) -> tensor<3x5xf16>
  return %c : tensor<3x5xf16>
}

// -----

// Per tensor: the scale is a scalar constant; round half to even, clamp in
// float, NaN -> zero point (0 here).
// CHECK-LABEL: func.func @quantize_per_tensor
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 2.500000e-01 : f32
// CHECK-DAG: %[[LO:.*]] = arith.constant -1.280000e+02 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 1.270000e+02 : f32
// CHECK-DAG: %[[ZP:.*]] = arith.constant 0 : i8
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x?x8xf32>) outs(%{{.*}} : tensor<?x?x8xi8>)
// CHECK: ^bb0(%[[X:.*]]: f32, %{{.*}}: i8):
// CHECK-NEXT: %[[SCALED:.*]] = arith.divf %[[X]], %[[SCALE]] : f32
// CHECK-NEXT: %[[R:.*]] = math.roundeven %[[SCALED]] : f32
// CHECK-NEXT: %[[C1:.*]] = arith.maximumf %[[R]], %[[LO]] : f32
// CHECK-NEXT: %[[C2:.*]] = arith.minimumf %[[C1]], %[[HI]] : f32
// CHECK-NEXT: %[[Q:.*]] = arith.fptosi %[[C2]] : f32 to i8
// CHECK-NEXT: %[[NAN:.*]] = arith.cmpf uno, %[[SCALED]], %[[SCALED]] : f32
// CHECK: %[[OUT:.*]] = arith.select %[[NAN]], %[[ZP]], %[[Q]] : i8
// CHECK: linalg.yield %[[OUT]] : i8
func.func @quantize_per_tensor(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xi8> {
  %q = qb.quantize %x {scale = array<f32: 0.25>} : tensor<?x?x8xf32> -> tensor<?x?x8xi8>
  return %q : tensor<?x?x8xi8>
}

// -----

// Per channel along axis 1, with zero points and an offset: the parameter
// tensors are constants read through (d0, d1) -> (d1).
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$CH:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @quantize_per_channel
// CHECK-DAG: %[[OFF:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[SCALES:.*]] = arith.constant dense<[5.000000e-01, 2.500000e-01, 1.000000e+00]> : tensor<3xf32>
// CHECK-DAG: %[[ZPS:.*]] = arith.constant dense<[0, 3, -128]> : tensor<3xi32>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$CH]], #[[$CH]], #[[$ID]]], iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %[[SCALES]], %[[ZPS]] : tensor<?x3xf16>, tensor<3xf32>, tensor<3xi32>)
// CHECK: ^bb0(%[[X:.*]]: f16, %[[S:.*]]: f32, %[[Z:.*]]: i32, %{{.*}}: i8):
// CHECK: %[[XF:.*]] = arith.extf %[[X]] : f16 to f32
// CHECK: %[[XS:.*]] = arith.subf %[[XF]], %[[OFF]] : f32
// CHECK: %[[SCALED:.*]] = arith.divf %[[XS]], %[[S]] : f32
// CHECK: %[[R:.*]] = math.roundeven %[[SCALED]] : f32
// CHECK: %[[ZF:.*]] = arith.sitofp %[[Z]] : i32 to f32
// CHECK: arith.addf %[[R]], %[[ZF]] : f32
// CHECK: arith.fptosi
// CHECK: %[[ZI8:.*]] = arith.trunci %[[Z]] : i32 to i8
// CHECK: arith.select %{{.*}}, %[[ZI8]], %{{.*}} : i8
func.func @quantize_per_channel(%x: tensor<?x3xf16>) -> tensor<?x3xi8> {
  %q = qb.quantize %x {scale = array<f32: 0.5, 0.25, 1.0>, zero_point = array<i32: 0, 3, -128>, offset = 1.0 : f32, axis = 1}
      : tensor<?x3xf16> -> tensor<?x3xi8>
  return %q : tensor<?x3xi8>
}

// -----

// SensiMix's index format: integer subtraction of the zero point first, then
// scale and offset in f32, truncated to bf16.
// CHECK-LABEL: func.func @dequantize_index
// CHECK-DAG: %[[OFF:.*]] = arith.constant -2.500000e-01 : f32
// CHECK-DAG: %[[S:.*]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[Z:.*]] = arith.constant -128 : i32
// CHECK: ^bb0(%[[Q:.*]]: i8, %{{.*}}: bf16):
// CHECK: %[[W:.*]] = arith.extsi %[[Q]] : i8 to i32
// CHECK: %[[D:.*]] = arith.subi %[[W]], %[[Z]] : i32
// CHECK: %[[F:.*]] = arith.sitofp %[[D]] : i32 to f32
// CHECK: %[[M:.*]] = arith.mulf %[[F]], %[[S]] : f32
// CHECK: %[[A:.*]] = arith.addf %[[M]], %[[OFF]] : f32
// CHECK: %[[T:.*]] = arith.truncf %[[A]] : f32 to bf16
// CHECK: linalg.yield %[[T]] : bf16
func.func @dequantize_index(%q: tensor<4x?xi8>) -> tensor<4x?xbf16> {
  %x = qb.dequantize %q {scale = array<f32: 0.5>, zero_point = array<i32: -128>, offset = -0.25 : f32}
      : tensor<4x?xi8> -> tensor<4x?xbf16>
  return %x : tensor<4x?xbf16>
}

// -----

// Symmetric per-channel weights along axis 0: no zero-point subtraction and
// no offset.
// CHECK-DAG: #[[$ROWCH:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @dequantize_per_channel
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[$ROWCH]], #{{.*}}], {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x3xi8>, tensor<2xf32>)
// CHECK: ^bb0(%[[Q:.*]]: i8, %[[S:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[W:.*]] = arith.extsi %[[Q]] : i8 to i32
// CHECK-NEXT: %[[F:.*]] = arith.sitofp %[[W]] : i32 to f32
// CHECK-NEXT: %[[M:.*]] = arith.mulf %[[F]], %[[S]] : f32
// CHECK-NEXT: linalg.yield %[[M]] : f32
func.func @dequantize_per_channel(%q: tensor<2x3xi8>) -> tensor<2x3xf32> {
  %x = qb.dequantize %q {scale = array<f32: 0.1, 0.2>, axis = 0} : tensor<2x3xi8> -> tensor<2x3xf32>
  return %x : tensor<2x3xf32>
}

// -----

// The layer is inlined: the attention region reads the layer operands, the
// FFN region the attention output, and the function returns the FFN output.
// CHECK-LABEL: func.func @encoder_layer
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4xf32>, %[[MASK:.*]]: tensor<?x?xi32>, %[[W:.*]]: tensor<4x4xf32>)
// CHECK-NOT: qb.
// CHECK: tensor.collapse_shape %[[X]]
// CHECK: %[[ATTN:.*]] = linalg.generic {{.*}} ins(%[[X]], %{{.*}} : tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK: arith.addf
// CHECK: %[[FFN:.*]] = linalg.generic {{.*}} ins(%[[ATTN]] : tensor<?x?x4xf32>)
// CHECK: math.erf
// CHECK: return %[[FFN]]
func.func @encoder_layer(%x: tensor<?x?x4xf32>, %mask: tensor<?x?xi32>, %w: tensor<4x4xf32>) -> tensor<?x?x4xf32> {
  %0 = qb.encoder_layer layer 0 (%x, %mask) : (tensor<?x?x4xf32>, tensor<?x?xi32>) -> tensor<?x?x4xf32>
  attention {
  ^bb0(%h: tensor<?x?x4xf32>, %m: tensor<?x?xi32>):
    %v = qb.linear %h, %w role<value> : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32>
    %r = qb.add %h, %v : tensor<?x?x4xf32>
    qb.yield %r : tensor<?x?x4xf32>
  } ffn {
  ^bb0(%a: tensor<?x?x4xf32>):
    %g = qb.gelu %a : tensor<?x?x4xf32>
    qb.yield %g : tensor<?x?x4xf32>
  }
  return %0 : tensor<?x?x4xf32>
}

// -----

// Regions that pass their argument straight through.
// CHECK-LABEL: func.func @encoder_layer_identity
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>, %{{.*}}: tensor<2x3xi32>)
// CHECK-NEXT: return %[[X]]
func.func @encoder_layer_identity(%x: tensor<2x3x4xf32>, %mask: tensor<2x3xi32>) -> tensor<2x3x4xf32> {
  %0 = qb.encoder_layer layer 1 (%x, %mask) : (tensor<2x3x4xf32>, tensor<2x3xi32>) -> tensor<2x3x4xf32>
  attention {
  ^bb0(%h: tensor<2x3x4xf32>, %m: tensor<2x3xi32>):
    qb.yield %h : tensor<2x3x4xf32>
  } ffn {
  ^bb0(%a: tensor<2x3x4xf32>):
    qb.yield %a : tensor<2x3x4xf32>
  }
  return %0 : tensor<2x3x4xf32>
}

// -----

// The ops other conversions own stay, their float-level neighbours lower.
// CHECK-LABEL: func.func @not_owned
// CHECK: %[[XQ:.*]] = linalg.generic
// CHECK: math.roundeven
// CHECK: %[[Y:.*]] = qb.int8_linear %[[XQ]], %{{.*}} weight_scale(%{{.*}}) {input_scale = 5.000000e-01 : f32}
// CHECK: %[[P:.*]] = qb.bitpack %[[Y]] : tensor<?x2xf32> -> tensor<?x1xi64>
// CHECK: %[[B:.*]] = qb.binary_linear %[[P]], %{{.*}} scale(%{{.*}}) {in_features = 2 : i64}
// CHECK: %[[A:.*]] = qb.attention %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 2 : i64, scale = 1.250000e-01 : f32}
// CHECK: return %[[B]], %[[A]]
func.func @not_owned(%x: tensor<?x4xf32>, %w: tensor<2x4xi8>, %ws: tensor<2xf32>, %wp: tensor<3x1xi64>,
                     %s: tensor<3xf32>, %q: tensor<1x8x32xf32>) -> (tensor<?x3xf32>, tensor<1x8x32xf32>) {
  %xq = qb.quantize %x {scale = array<f32: 0.5>} : tensor<?x4xf32> -> tensor<?x4xi8>
  %y = qb.int8_linear %xq, %w weight_scale(%ws) {input_scale = 0.5 : f32} : (tensor<?x4xi8>, tensor<2x4xi8>, tensor<2xf32>) -> tensor<?x2xf32>
  %p = qb.bitpack %y : tensor<?x2xf32> -> tensor<?x1xi64>
  %b = qb.binary_linear %p, %wp scale(%s) {in_features = 2} : (tensor<?x1xi64>, tensor<3x1xi64>, tensor<3xf32>) -> tensor<?x3xf32>
  %a = qb.attention %q, %q, %q {num_heads = 2, scale = 0.125 : f32} : (tensor<1x8x32xf32>, tensor<1x8x32xf32>, tensor<1x8x32xf32>) -> tensor<1x8x32xf32>
  return %b, %a : tensor<?x3xf32>, tensor<1x8x32xf32>
}

// -----

func.func @quantized_linear(%x: tensor<?x4xf32>, %w: tensor<2x4xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{'qb.linear' op precision 'i8' must be materialized before lowering; run qb-materialize-quant first}}
  %y = qb.linear %x, %w precision<i8> quantizer<symmetric_ema> {input_scale = 0.5 : f32}
      : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @binary_linear_inside_layer(%x: tensor<2x3x4xf32>, %mask: tensor<2x3xi32>, %w: tensor<4x4xf32>) -> tensor<2x3x4xf32> {
  %0 = qb.encoder_layer layer 0 (%x, %mask) : (tensor<2x3x4xf32>, tensor<2x3xi32>) -> tensor<2x3x4xf32>
  attention {
  ^bb0(%h: tensor<2x3x4xf32>, %m: tensor<2x3xi32>):
    qb.yield %h : tensor<2x3x4xf32>
  } ffn {
  ^bb0(%a: tensor<2x3x4xf32>):
    // expected-error @+1 {{'qb.linear' op precision 'binary' must be materialized before lowering; run qb-materialize-quant first}}
    %y = qb.linear %a, %w precision<binary> quantizer<binary_sign> role<output>
        : (tensor<2x3x4xf32>, tensor<4x4xf32>) -> tensor<2x3x4xf32>
    qb.yield %y : tensor<2x3x4xf32>
  }
  return %0 : tensor<2x3x4xf32>
}
