// qb-materialize-quant: compile-time weight quantization and packing, with
// codes and scales checked against hand-computed values, and its errors.
// RUN: quant-bert-opt %s -split-input-file -qb-materialize-quant -verify-diagnostics | FileCheck %s

// A float weight, symmetric 8-bit per output channel: row 0 has max|W| = 1,
// scale 1/127, codes W * 127 rounded half to even (63.5 -> 64); row 1 has
// max|W| = 127/64, scale 1/64 (-2.5 -> -2).
// CHECK-LABEL: func.func @int8_from_float_weight
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[B:.*]]: tensor<2xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[64, -127, 3, 1], [-2, 127, 0, -127]]> : tensor<2x4xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[0.00787401571, 1.562500e-02]> : tensor<2xf32>
// CHECK: %[[XQ:.*]] = qb.quantize %[[X]] {scale = array<f32: 5.000000e-01>} : tensor<?x4xf32> -> tensor<?x4xi8>
// CHECK: %[[Y:.*]] = qb.int8_linear %[[XQ]], %[[W]] weight_scale(%[[S]]) bias(%[[B]]) {input_scale = 5.000000e-01 : f32}
// CHECK-NOT: qb.linear
// CHECK: return %[[Y]]
func.func @int8_from_float_weight(%x: tensor<?x4xf32>, %b: tensor<2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[0.5, -1.0, 0.0234375, 0.0078125], [-0.0390625, 1.984375, 0.0, -1.984375]]> : tensor<2x4xf32>
  %y = qb.linear %x, %w bias(%b) precision<i8> quantizer<symmetric_ema> {input_scale = 0.5 : f32}
      : (tensor<?x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Exported codes behind a per-channel dequantize are kept bit for bit.
// CHECK-LABEL: func.func @int8_from_exported_codes
// CHECK-NOT: qb.dequantize
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[1, -2, 3], [-128, 127, 0]]> : tensor<2x3xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<[1.000000e-01, 2.000000e-01]> : tensor<2xf32>
// CHECK: qb.int8_linear %{{.*}}, %[[W]] weight_scale(%[[S]]) {input_scale = 2.500000e-01 : f32}
func.func @int8_from_exported_codes(%x: tensor<8x3xf32>) -> tensor<8x2xf32> {
  %codes = arith.constant dense<[[1, -2, 3], [-128, 127, 0]]> : tensor<2x3xi8>
  %w = qb.dequantize %codes {scale = array<f32: 0.1, 0.2>, axis = 0} : tensor<2x3xi8> -> tensor<2x3xf32>
  %y = qb.linear %x, %w precision<i8> {input_scale = 0.25 : f32} : (tensor<8x3xf32>, tensor<2x3xf32>) -> tensor<8x2xf32>
  return %y : tensor<8x2xf32>
}

// -----

// TWN: mean|W| = 0.2, threshold 0.14, kept {0.3, 0.6, 0.2, 0.25}: scale is
// their mean 0.3375 and codes are their signs.
// CHECK-LABEL: func.func @ternary_twn
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[1, 0, 0, -1], [1, 0, -1, 0]]> : tensor<2x4xi8>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<3.37{{[0-9]*}}e-01> : tensor<2xf32>
// CHECK: qb.quantize
// CHECK: qb.int8_linear %{{.*}}, %[[W]] weight_scale(%[[S]]) {input_scale = 1.000000e-01 : f32}
func.func @ternary_twn(%x: tensor<?x?x4xf32>) -> tensor<?x?x2xf32> {
  %w = arith.constant dense<[[0.3, -0.1, 0.05, -0.6], [0.2, 0.0, -0.25, 0.1]]> : tensor<2x4xf32>
  %y = qb.linear %x, %w precision<ternary> quantizer<twn> {input_scale = 0.1 : f32}
      : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
  return %y : tensor<?x?x2xf32>
}

// -----

// Binary without scale (SensiMix): row 0 signs + - - (0 is -1) -> bits 1, 2
// -> 6; row 1 - + - -> bits 0, 2 -> 5. Scale 1.
// CHECK-LABEL: func.func @binary_sign
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x3xf32>, %[[B:.*]]: tensor<2xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[6], [5]]> : tensor<2x1xi64>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK: %[[XP:.*]] = qb.bitpack %[[X]] : tensor<?x?x3xf32> -> tensor<?x?x1xi64>
// CHECK: qb.binary_linear %[[XP]], %[[W]] scale(%[[S]]) bias(%[[B]]) {in_features = 3 : i64} : (tensor<?x?x1xi64>, tensor<2x1xi64>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x?x2xf32>
func.func @binary_sign(%x: tensor<?x?x3xf32>, %b: tensor<2xf32>) -> tensor<?x?x2xf32> {
  %w = arith.constant dense<[[1.0, -1.0, 0.0], [-2.0, 3.0, -4.0]]> : tensor<2x3xf32>
  %y = qb.linear %x, %w bias(%b) precision<binary> quantizer<binary_sign>
      : (tensor<?x?x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<?x?x2xf32>
  return %y : tensor<?x?x2xf32>
}

// -----

// BWN: scale = mean|W| = 11/6.
// CHECK-LABEL: func.func @binary_mean_scale
// CHECK-DAG: arith.constant dense<{{\[}}[6], [5]]> : tensor<2x1xi64>
// CHECK-DAG: arith.constant dense<1.83333{{[0-9]*}}> : tensor<2xf32>
// CHECK: qb.binary_linear
func.func @binary_mean_scale(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, -1.0, 0.0], [-2.0, 3.0, -4.0]]> : tensor<2x3xf32>
  %y = qb.linear %x, %w precision<binary> quantizer<binary_mean_scale>
      : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// A 1-bit weight exported as +-a (a dequantize of codes) packs to the same
// signs: -1 -> bit set.
// CHECK-LABEL: func.func @binary_from_dequantized_weight
// CHECK: arith.constant dense<{{\[}}[2], [1]]> : tensor<2x1xi64>
func.func @binary_from_dequantized_weight(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %codes = arith.constant dense<[[1, -1], [-1, 1]]> : tensor<2x2xi8>
  %w = qb.dequantize %codes {scale = array<f32: 0.5>} : tensor<2x2xi8> -> tensor<2x2xf32>
  %y = qb.linear %x, %w precision<binary> : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// A pruned 1-bit weight: the 64-input word 1 (input 64) is zero in every row
// of the one 32-row block row, so it is a zero block (block_mask false), not
// 65th signs; BWN's scale is mean |W| over the stored block only
// (3 = (64 * 2 + 64 * 4) / 128).
// CHECK-LABEL: func.func @binary_pruned_block
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[}}[-6148914691236517206, 1], [-1, 1]]> : tensor<2x2xi64>
// CHECK-DAG: %[[S:.*]] = arith.constant dense<3.000000e+00> : tensor<2xf32>
// CHECK-DAG: %[[M:.*]] = arith.constant dense<{{\[}}[true, false]]> : tensor<1x2xi1>
// CHECK: qb.binary_linear %{{.*}}, %[[W]] scale(%[[S]]) block_mask(%[[M]]) {in_features = 65 : i64} : (tensor<4x2xi64>, tensor<2x2xi64>, tensor<2xf32>, tensor<1x2xi1>) -> tensor<4x2xf32>
func.func @binary_pruned_block(%x: tensor<4x65xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 0.0], [-4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, 0.0]]> : tensor<2x65xf32>
  %y = qb.linear %x, %w precision<binary> quantizer<binary_mean_scale>
      : (tensor<4x65xf32>, tensor<2x65xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Exported pruned BWN codes: +-1 in stored blocks, 0 in pruned ones, with
// per-row scales, which the pass keeps.
// CHECK-LABEL: func.func @binary_pruned_codes
// CHECK-DAG: arith.constant dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf32>
// CHECK-DAG: arith.constant dense<{{\[}}[true, false]]> : tensor<1x2xi1>
// CHECK: qb.binary_linear {{.*}} block_mask
func.func @binary_pruned_codes(%x: tensor<4x65xf32>) -> tensor<4x2xf32> {
  %codes = arith.constant dense<[[1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 0], [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0]]> : tensor<2x65xi8>
  %w = qb.dequantize %codes {axis = 0 : i64, scale = array<f32: 0.5, 0.25>} : tensor<2x65xi8> -> tensor<2x65xf32>
  %y = qb.linear %x, %w precision<binary> quantizer<binary_mean_scale>
      : (tensor<4x65xf32>, tensor<2x65xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// A binary linear after a GELU packs the GELU's input (gelu(x) > 0 exactly
// when x > 0) and the GELU goes; one the float path still reads stays.
// CHECK-LABEL: func.func @binary_after_gelu
// CHECK-SAME: (%[[X:.*]]: tensor<4x3xf32>)
// CHECK-NOT: qb.gelu
// CHECK: %[[XP:.*]] = qb.bitpack %[[X]] : tensor<4x3xf32> -> tensor<4x1xi64>
// CHECK: qb.binary_linear %[[XP]]
// CHECK-LABEL: func.func @binary_after_shared_gelu
// CHECK-SAME: (%[[X:.*]]: tensor<4x3xf32>)
// CHECK: %[[G:.*]] = qb.gelu %[[X]]
// CHECK: qb.bitpack %[[X]]
// CHECK: return %{{.*}}, %[[G]]
func.func @binary_after_gelu(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0, 3.0], [-1.0, 0.0, 2.0]]> : tensor<2x3xf32>
  %g = qb.gelu %x : tensor<4x3xf32>
  %y = qb.linear %g, %w precision<binary> quantizer<binary_sign>
      : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}
func.func @binary_after_shared_gelu(%x: tensor<4x3xf32>) -> (tensor<4x2xf32>, tensor<4x3xf32>) {
  %w = arith.constant dense<[[1.0, -2.0, 3.0], [-1.0, 0.0, 2.0]]> : tensor<2x3xf32>
  %g = qb.gelu %x : tensor<4x3xf32>
  %y = qb.linear %g, %w precision<binary> quantizer<binary_sign>
      : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  return %y, %g : tensor<4x2xf32>, tensor<4x3xf32>
}

// -----

// An imported binary-mean-scale weight keeps its per-row scales (+-a_row
// codes), rather than one mean |W| over the whole matrix.
// CHECK-LABEL: func.func @binary_mean_scale_per_row
// CHECK-DAG: arith.constant dense<{{\[}}[2], [1]]> : tensor<2x1xi64>
// CHECK-DAG: arith.constant dense<[5.000000e-01, 2.000000e+00]> : tensor<2xf32>
// CHECK: qb.binary_linear
func.func @binary_mean_scale_per_row(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %codes = arith.constant dense<[[1, -1], [-1, 1]]> : tensor<2x2xi8>
  %w = qb.dequantize %codes {scale = array<f32: 0.5, 2.0>, axis = 0 : i64}
      : tensor<2x2xi8> -> tensor<2x2xf32>
  %y = qb.linear %x, %w precision<binary> quantizer<binary_mean_scale>
      : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// SensiMix's index format is storage only: codes behind an index-form
// dequantize, computed in f32. min -0.5, max 2.05: scale 0.01; 0 -> 50 - 128,
// 1 -> 150 - 128.
// CHECK-LABEL: func.func @asymmetric_index_storage
// CHECK: %[[C:.*]] = arith.constant dense<{{\[}}[-128, 127], [-78, 22]]> : tensor<2x2xi8>
// CHECK: %[[W:.*]] = qb.dequantize %[[C]] {offset = -5.000000e-01 : f32, scale = array<f32: 0.00999{{[0-9]*}}>, zero_point = array<i32: -128>} : tensor<2x2xi8> -> tensor<2x2xf32>
// CHECK: qb.linear %{{.*}}, %[[W]] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
func.func @asymmetric_index_storage(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[-0.5, 2.05], [0.0, 1.0]]> : tensor<2x2xf32>
  %y = qb.linear %x, %w precision<i8> quantizer<asymmetric_index> : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Float precisions are left alone.
// CHECK-LABEL: func.func @float_untouched
// CHECK: qb.linear %{{.*}}, %{{.*}} precision<f16>
func.func @float_untouched(%x: tensor<4x2xf32>, %w: tensor<2x2xf32>) -> tensor<4x2xf32> {
  %y = qb.linear %x, %w precision<f16> : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Without input_scale the input is quantized at run time, one scale per
// row (dynamic int8, as ONNX Runtime's quantize_dynamic but per row).
// CHECK-LABEL: func.func @int8_dynamic
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x2xf32>)
// CHECK: %[[Q:.*]], %[[RS:.*]] = qb.quantize_rows %[[X]] : tensor<?x?x2xf32> -> tensor<?x?x2xi8>, tensor<?x?xf32>
// CHECK: qb.int8_linear %[[Q]], %{{.*}} weight_scale(%{{.*}}) input_scales(%[[RS]]) :
// CHECK-NOT: input_scale =
func.func @int8_dynamic(%x: tensor<?x?x2xf32>) -> tensor<?x?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xf32>
  %y = qb.linear %x, %w precision<i8> : (tensor<?x?x2xf32>, tensor<2x2xf32>) -> tensor<?x?x2xf32>
  return %y : tensor<?x?x2xf32>
}

// -----

// An int8 weight assigned ternary (qb-assign-precision on a post-training
// int8 bundle) is quantized again by TWN from its dequantized values
// W = [[1, -0.25], [0.5, 0]]: threshold 0.7 * mean|W| = 0.30625 keeps 1 and
// 0.5, alpha = their mean 0.75 (the int8 codes would be kept as they are
// for precision<i8>).
// CHECK-LABEL: func.func @int8_codes_to_ternary
// CHECK-DAG: arith.constant dense<{{\[}}[1, 0], [1, 0]]> : tensor<2x2xi8>
// CHECK-DAG: arith.constant dense<7.500000e-01> : tensor<2xf32>
// CHECK: qb.int8_linear
func.func @int8_codes_to_ternary(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %codes = arith.constant dense<[[4, -1], [2, 0]]> : tensor<2x2xi8>
  %w = qb.dequantize %codes {scale = array<f32: 0.25, 0.25>, axis = 0 : i64} : tensor<2x2xi8> -> tensor<2x2xf32>
  %y = qb.linear %x, %w precision<ternary> quantizer<twn> {input_scale = 0.1 : f32} : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// qb.embedding precision<i8>: the float word and position tables become
// int8 codes per row (scale max|row| / 127; an all-zero row scale 1) behind
// a qb.dequantize along axis 0; the token-type table stays f32.
// CHECK-LABEL: func.func @int8_embedding_tables
// CHECK-DAG: %[[WC:.*]] = arith.constant dense<{{\[}}[127, -32], [0, 0], [127, 32]]> : tensor<3x2xi8>
// CHECK-DAG: %[[PC:.*]] = arith.constant dense<{{\[}}[127, 127], [-127, 32]]> : tensor<2x2xi8>
// CHECK-DAG: %[[T:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 2.000000e+00]]> : tensor<1x2xf32>
// CHECK-DAG: %[[W:.*]] = qb.dequantize %[[WC]] {axis = 0 : i64, scale = array<f32: 0.00787401571, 1.000000e+00, 0.0314960629>} : tensor<3x2xi8> -> tensor<3x2xf32>
// CHECK-DAG: %[[P:.*]] = qb.dequantize %[[PC]] {axis = 0 : i64, scale = array<f32: 0.00393700786, 0.00787401571>} : tensor<2x2xi8> -> tensor<2x2xf32>
// CHECK: qb.embedding %{{.*}}, %{{.*}} words(%[[W]]) positions(%[[P]]) token_types(%[[T]]) precision<i8>
func.func @int8_embedding_tables(%ids: tensor<1x2xi32>) -> tensor<1x2x2xf32> {
  %words = arith.constant dense<[[1.0, -0.25], [0.0, 0.0], [4.0, 1.0]]> : tensor<3x2xf32>
  %pos = arith.constant dense<[[0.5, 0.5], [-1.0, 0.25]]> : tensor<2x2xf32>
  %types = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %e = qb.embedding %ids, %ids words(%words) positions(%pos) token_types(%types) precision<i8>
      : (tensor<1x2xi32>, tensor<1x2xi32>, tensor<3x2xf32>, tensor<2x2xf32>, tensor<1x2xf32>) -> tensor<1x2x2xf32>
  return %e : tensor<1x2x2xf32>
}

// -----

// Without precision<i8> the tables are left alone.
// CHECK-LABEL: func.func @f32_embedding_tables
// CHECK-NOT: qb.dequantize
func.func @f32_embedding_tables(%ids: tensor<1x2xi32>) -> tensor<1x2x2xf32> {
  %words = arith.constant dense<1.0> : tensor<3x2xf32>
  %pos = arith.constant dense<1.0> : tensor<2x2xf32>
  %types = arith.constant dense<1.0> : tensor<1x2xf32>
  %e = qb.embedding %ids, %ids words(%words) positions(%pos) token_types(%types)
      : (tensor<1x2xi32>, tensor<1x2xi32>, tensor<3x2xf32>, tensor<2x2xf32>, tensor<1x2xf32>) -> tensor<1x2x2xf32>
  return %e : tensor<1x2x2xf32>
}

// -----

func.func @non_constant_table(%ids: tensor<1x2xi32>, %words: tensor<3x2xf32>) -> tensor<1x2x2xf32> {
  %pos = arith.constant dense<1.0> : tensor<2x2xf32>
  %types = arith.constant dense<1.0> : tensor<1x2xf32>
  // expected-error @+1 {{'qb.embedding' op cannot materialize precision 'i8': the words table must be a static f32 constant or a qb.dequantize of int8 codes}}
  %e = qb.embedding %ids, %ids words(%words) positions(%pos) token_types(%types) precision<i8>
      : (tensor<1x2xi32>, tensor<1x2xi32>, tensor<3x2xf32>, tensor<2x2xf32>, tensor<1x2xf32>) -> tensor<1x2x2xf32>
  return %e : tensor<1x2x2xf32>
}

// -----

func.func @non_constant_weight(%x: tensor<4x2xf32>, %w: tensor<2x2xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'qb.linear' op cannot materialize precision 'binary': the weight must be a constant or a qb.dequantize of constant codes}}
  %y = qb.linear %x, %w precision<binary> : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @half_activations(%x: tensor<4x2xf16>) -> tensor<4x2xf16> {
  %w = arith.constant dense<1.0> : tensor<2x2xf16>
  // expected-error @+1 {{'qb.linear' op materializing precision 'ternary' needs f32 activations, got 'f16'}}
  %y = qb.linear %x, %w precision<ternary> {input_scale = 0.1 : f32} : (tensor<4x2xf16>, tensor<2x2xf16>) -> tensor<4x2xf16>
  return %y : tensor<4x2xf16>
}

// -----

func.func @dynamic_weight(%x: tensor<4x2xf32>, %w: tensor<?x2xf32>) -> tensor<4x?xf32> {
  // expected-error @+1 {{'qb.linear' op needs a static weight shape to materialize}}
  %y = qb.linear %x, %w precision<binary> : (tensor<4x2xf32>, tensor<?x2xf32>) -> tensor<4x?xf32>
  return %y : tensor<4x?xf32>
}
