// Every verifier rule of the qb dialect, one case each: the diagnostic names
// the op, the offending operand or attribute, and the rule broken.
// RUN: quant-bert-opt %s -split-input-file -verify-diagnostics

func.func @case0(%i1: tensor<8xi32>, %w: tensor<100x16xf32>, %p: tensor<32x16xf32>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'qb.embedding' op input_ids must be 2-D [batch, seq], got rank 1}}
  %0 = qb.embedding %i1, %i1 words(%w) positions(%p) token_types(%t) : (tensor<8xi32>, tensor<8xi32>, tensor<100x16xf32>, tensor<32x16xf32>, tensor<2x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case1(%ids: tensor<2x8xi32>, %tt: tensor<2x9xi32>, %w: tensor<100x16xf32>, %p: tensor<32x16xf32>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'qb.embedding' op token_type_ids shape [2, 9] does not match input_ids shape [2, 8]}}
  %0 = qb.embedding %ids, %tt words(%w) positions(%p) token_types(%t) : (tensor<2x8xi32>, tensor<2x9xi32>, tensor<100x16xf32>, tensor<32x16xf32>, tensor<2x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case2(%ids: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p1: tensor<512xf32>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'qb.embedding' op positions table must be 2-D [rows, hidden], got [512]}}
  %0 = qb.embedding %ids, %ids words(%w) positions(%p1) token_types(%t) : (tensor<2x8xi32>, tensor<2x8xi32>, tensor<100x16xf32>, tensor<512xf32>, tensor<2x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case3(%ids: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p: tensor<32x16xf32>, %t: tensor<2x32xf32>) {
  // expected-error @+1 {{'qb.embedding' op token_types hidden size (32) does not match the words hidden size (16)}}
  %0 = qb.embedding %ids, %ids words(%w) positions(%p) token_types(%t) : (tensor<2x8xi32>, tensor<2x8xi32>, tensor<100x16xf32>, tensor<32x16xf32>, tensor<2x32xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case4(%ids: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p: tensor<32x16xf16>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'qb.embedding' op tables and result must share one element type, got 'f32' and 'f16'}}
  %0 = qb.embedding %ids, %ids words(%w) positions(%p) token_types(%t) : (tensor<2x8xi32>, tensor<2x8xi32>, tensor<100x16xf32>, tensor<32x16xf16>, tensor<2x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case5(%ids: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p: tensor<32x16xf32>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'qb.embedding' op result shape [2, 16] must be [batch, seq, hidden] = [2, 8, 16]}}
  %0 = qb.embedding %ids, %ids words(%w) positions(%p) token_types(%t) : (tensor<2x8xi32>, tensor<2x8xi32>, tensor<100x16xf32>, tensor<32x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return
}

// -----

func.func @case6(%ids: tensor<2x64xi32>, %w: tensor<100x16xf32>, %p: tensor<32x16xf32>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'qb.embedding' op sequence length 64 exceeds the 32 rows of the positions table}}
  %0 = qb.embedding %ids, %ids words(%w) positions(%p) token_types(%t) : (tensor<2x64xi32>, tensor<2x64xi32>, tensor<100x16xf32>, tensor<32x16xf32>, tensor<2x16xf32>) -> tensor<2x64x16xf32>
  return
}

// -----

func.func @case7(%f: tensor<2x8xf32>, %ids: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p: tensor<32x16xf32>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'qb.embedding' op operand #0 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = qb.embedding %f, %ids words(%w) positions(%p) token_types(%t) : (tensor<2x8xf32>, tensor<2x8xi32>, tensor<100x16xf32>, tensor<32x16xf32>, tensor<2x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case8(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.encoder_layer' op result type 'tensor<2x8x32xf32>' must equal the hidden-state type 'tensor<2x8x16xf32>'}}
  %0 = qb.encoder_layer layer 0 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x32xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    qb.yield %a : tensor<2x8x16xf32>
  }
  return
}

// -----

func.func @case9(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.encoder_layer' op attention region must take (hidden: 'tensor<2x8x16xf32>', mask: 'tensor<2x8xi32>') block arguments}}
  %0 = qb.encoder_layer layer 0 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>):
    qb.yield %h : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    qb.yield %a : tensor<2x8x16xf32>
  }
  return
}

// -----

func.func @case10(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.encoder_layer' op ffn region must take one block argument of type 'tensor<2x8x16xf32>'}}
  %0 = qb.encoder_layer layer 0 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>, %b: tensor<2x8xi32>):
    qb.yield %a : tensor<2x8x16xf32>
  }
  return
}

// -----

func.func @case11(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) {
  %0 = qb.encoder_layer layer 4 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %s = tensor.extract_slice %a[0, 0, 0] [2, 8, 8] [1, 1, 1] : tensor<2x8x16xf32> to tensor<2x8x8xf32>
    // expected-error @+1 {{'qb.yield' op yields 'tensor<2x8x8xf32>' from the ffn region of layer 4, expected 'tensor<2x8x16xf32>'}}
    qb.yield %s : tensor<2x8x8xf32>
  }
  return
}

// -----

func.func @case12(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.encoder_layer' op attribute 'layer' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = qb.encoder_layer layer -1 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    qb.yield %a : tensor<2x8x16xf32>
  }
  return
}

// -----

func.func @case13(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.yield' op expects parent op 'qb.encoder_layer'}}
  qb.yield %x : tensor<2x8x16xf32>
  return
}

// -----

func.func @case14(%x: tensor<4x16xf32>, %w: tensor<16xf32>) {
  // expected-error @+1 {{'qb.linear' op weight must be 2-D [out_features, in_features], got rank 1}}
  %0 = qb.linear %x, %w : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @case15(%x: tensor<f32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op input must have rank >= 1}}
  %0 = qb.linear %x, %w : (tensor<f32>, tensor<8x16xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @case16(%x: tensor<4x32xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op input's last dimension (32) does not match the weight's in_features (16)}}
  %0 = qb.linear %x, %w : (tensor<4x32xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case17(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op result rank (3) must equal input rank (2)}}
  %0 = qb.linear %x, %w : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<1x4x8xf32>
  return
}

// -----

func.func @case18(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op result dimension 0 (5) does not match input dimension 0 (4)}}
  %0 = qb.linear %x, %w : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<5x8xf32>
  return
}

// -----

func.func @case19(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op result's last dimension (9) does not match the weight's out_features (8)}}
  %0 = qb.linear %x, %w : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x9xf32>
  return
}

// -----

func.func @case20(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'qb.linear' op bias must be 1-D [out_features = 8], got [16]}}
  %0 = qb.linear %x, %w bias(%b) : (tensor<4x16xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case21(%x: tensor<4x16xf32>, %w: tensor<8x16xf16>) {
  // expected-error @+1 {{'qb.linear' op operands and result must share one element type, got 'f32' and 'f16'}}
  %0 = qb.linear %x, %w : (tensor<4x16xf32>, tensor<8x16xf16>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case22(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op float precision 'f16' takes no quantizer, got 'symmetric_ema'}}
  %0 = qb.linear %x, %w precision<f16> quantizer<symmetric_ema> : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case23(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op float precision 'f32' takes no quantizer, got 'twn'}}
  %0 = qb.linear %x, %w quantizer<twn> : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case24(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op quantizer 'twn' requires precision 'ternary', got 'i8'}}
  %0 = qb.linear %x, %w precision<i8> quantizer<twn> : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case25(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op quantizer 'binary_mean_scale' requires precision 'binary', got 'ternary'}}
  %0 = qb.linear %x, %w precision<ternary> quantizer<binary_mean_scale> : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case26(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op quantizer 'asymmetric_index' requires precision 'i8', got 'binary'}}
  %0 = qb.linear %x, %w precision<binary> quantizer<asymmetric_index> : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_input_scale(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{'qb.linear' op input_scale must be finite and positive, got -1.000000e+00}}
  %0 = qb.linear %x, %w precision<i8> {input_scale = -1.0 : f32} : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case27(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+2 {{expected ::quantbert::qb::Precision to be one of: f32, f16, bf16, i8, ternary, binary}}
  // expected-error @+1 {{failed to parse QB_PrecisionAttr parameter 'value' which is to be a `::quantbert::qb::Precision`}}
  %0 = qb.linear %x, %w precision<int4> : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case28(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>, %b: tensor<8xf32>, %bad: tensor<4xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op weight_scale must be 1-D [out_features = 8], got [4]}}
  %0 = qb.int8_linear %x, %w weight_scale(%bad) {input_scale = 0.5 : f32} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case29(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>, %b: tensor<8xf32>, %bad: tensor<4xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op bias must be 1-D [out_features = 8], got [4]}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) bias(%bad) {input_scale = 0.5 : f32} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case30(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>, %b: tensor<8xf32>, %bad: tensor<4xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op input_scale must be finite and positive, got 0}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.0 : f32} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case31(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>, %b: tensor<8xf32>, %bad: tensor<4xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op input_zero_point 200 is outside the int8 range [-128, 127]}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32, input_zero_point = 200 : i32} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @int8_linear_no_input_scale(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op needs exactly one of the attribute input_scale (static) and the operand input_scales (dynamic)}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @int8_linear_both_input_scales(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>, %rs: tensor<4xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op needs exactly one of the attribute input_scale (static) and the operand input_scales (dynamic)}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) input_scales(%rs) {input_scale = 0.5 : f32} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @int8_linear_row_scales_shape(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>, %rs: tensor<8xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op input_scales shape [8] must be [rows of the input] = [4]}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) input_scales(%rs) : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @int8_linear_row_scales_zero_point(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>, %rs: tensor<4xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op input_zero_point must be 0 with per-row input_scales, got 3}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) input_scales(%rs) {input_zero_point = 3 : i32} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @quantize_rows_scales_shape(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{'qb.quantize_rows' op scales shape [16] must be [rows of the input] = [4]}}
  %q, %s = qb.quantize_rows %x : tensor<4x16xf32> -> tensor<4x16xi8>, tensor<16xf32>
  return
}

// -----

func.func @quantize_rows_result_shape(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{'qb.quantize_rows' op result dimension 1 (8) does not match input dimension 1 (16)}}
  %q, %s = qb.quantize_rows %x : tensor<4x16xf32> -> tensor<4x8xi8>, tensor<4xf32>
  return
}

// -----

func.func @quantize_rows_rank(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{'qb.quantize_rows' op result rank (1) must equal input rank (2)}}
  %q, %s = qb.quantize_rows %x : tensor<4x16xf32> -> tensor<64xi8>, tensor<4xf32>
  return
}

// -----

func.func @case32(%x: tensor<4x16xi8>, %w: tensor<8x12xi8>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op input's last dimension (16) does not match the weight's in_features (12)}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32} : (tensor<4x16xi8>, tensor<8x12xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case33(%x: tensor<4x16xf32>, %w: tensor<8x16xi8>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op operand #0 must be ranked tensor of 8-bit signless integer values}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32} : (tensor<4x16xf32>, tensor<8x16xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case34(%x: tensor<f32>) {
  // expected-error @+1 {{'qb.bitpack' op input must have rank >= 1}}
  %0 = qb.bitpack %x : tensor<f32> -> tensor<1xi64>
  return
}

// -----

func.func @case35(%x: tensor<4x100xf32>) {
  // expected-error @+1 {{'qb.bitpack' op result rank (1) must equal input rank (2)}}
  %0 = qb.bitpack %x : tensor<4x100xf32> -> tensor<8xi64>
  return
}

// -----

func.func @case36(%x: tensor<4x100xf32>) {
  // expected-error @+1 {{'qb.bitpack' op result dimension 0 (3) does not match input dimension 0 (4)}}
  %0 = qb.bitpack %x : tensor<4x100xf32> -> tensor<3x2xi64>
  return
}

// -----

func.func @case37(%x: tensor<4x0xf32>) {
  // expected-error @+1 {{'qb.bitpack' op cannot pack an empty last dimension}}
  %0 = qb.bitpack %x : tensor<4x0xf32> -> tensor<4x0xi64>
  return
}

// -----

func.func @case38(%x: tensor<4x100xf32>) {
  // expected-error @+1 {{'qb.bitpack' op result's last dimension (1) must be ceil(100 / 64) = 2 packed words}}
  %0 = qb.bitpack %x : tensor<4x100xf32> -> tensor<4x1xi64>
  return
}

// -----

func.func @case39(%x: tensor<4x100xf32>) {
  // expected-error @+1 {{'qb.bitpack' op result #0 must be ranked tensor of 64-bit signless integer values}}
  %0 = qb.bitpack %x : tensor<4x100xf32> -> tensor<4x4xi32>
  return
}

// -----

func.func @case40(%x: tensor<4x2xi64>, %w: tensor<8x2xi64>, %s: tensor<8xf32>, %bad: tensor<3xf32>) {
  // expected-error @+1 {{'qb.binary_linear' op weight holds 2 packed words per row, but in_features = 200 needs ceil(200 / 64) = 4}}
  %0 = qb.binary_linear %x, %w scale(%s) {in_features = 200} : (tensor<4x2xi64>, tensor<8x2xi64>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case41(%x: tensor<4x2xi64>, %w: tensor<8x2xi64>, %s: tensor<8xf32>, %bad: tensor<3xf32>) {
  // expected-error @+1 {{'qb.binary_linear' op scale must be 1-D [out_features = 8], got [3]}}
  %0 = qb.binary_linear %x, %w scale(%bad) {in_features = 100} : (tensor<4x2xi64>, tensor<8x2xi64>, tensor<3xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case42(%x: tensor<4x2xi64>, %w: tensor<8x2xi64>, %s: tensor<8xf32>, %bad: tensor<3xf32>) {
  // expected-error @+1 {{'qb.binary_linear' op bias must be 1-D [out_features = 8], got [3]}}
  %0 = qb.binary_linear %x, %w scale(%s) bias(%bad) {in_features = 100} : (tensor<4x2xi64>, tensor<8x2xi64>, tensor<8xf32>, tensor<3xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case43(%x: tensor<4x3xi64>, %w: tensor<8x2xi64>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qb.binary_linear' op input's last dimension (3) does not match the weight's packed words (2)}}
  %0 = qb.binary_linear %x, %w scale(%s) {in_features = 100} : (tensor<4x3xi64>, tensor<8x2xi64>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case44(%x: tensor<4x2xi64>, %w: tensor<8x2xi64>, %s: tensor<8xf32>, %bad: tensor<3xf32>) {
  // expected-error @+1 {{'qb.binary_linear' op attribute 'in_features' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = qb.binary_linear %x, %w scale(%s) {in_features = 0} : (tensor<4x2xi64>, tensor<8x2xi64>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case44_mask_rows(%x: tensor<4x2xi64>, %w: tensor<40x2xi64>, %s: tensor<40xf32>, %m: tensor<1x2xi1>) {
  // expected-error @+1 {{'qb.binary_linear' op block_mask shape [1, 2] must be [ceil(out_features / 32), ceil(in_features / 64)] = [2, 2]}}
  %0 = qb.binary_linear %x, %w scale(%s) block_mask(%m) {in_features = 100} : (tensor<4x2xi64>, tensor<40x2xi64>, tensor<40xf32>, tensor<1x2xi1>) -> tensor<4x40xf32>
  return
}

// -----

func.func @case44_mask_words(%x: tensor<4x2xi64>, %w: tensor<8x2xi64>, %s: tensor<8xf32>, %m: tensor<1x3xi1>) {
  // expected-error @+1 {{'qb.binary_linear' op block_mask shape [1, 3] must be [ceil(out_features / 32), ceil(in_features / 64)] = [1, 2]}}
  %0 = qb.binary_linear %x, %w scale(%s) block_mask(%m) {in_features = 100} : (tensor<4x2xi64>, tensor<8x2xi64>, tensor<8xf32>, tensor<1x3xi1>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case44_mask_type(%x: tensor<4x2xi64>, %w: tensor<8x2xi64>, %s: tensor<8xf32>, %m: tensor<1x2xi8>) {
  // expected-error @+1 {{'qb.binary_linear' op operand #4 must be ranked tensor of 1-bit signless integer values}}
  %0 = qb.binary_linear %x, %w scale(%s) bias(%s) block_mask(%m) {in_features = 100} : (tensor<4x2xi64>, tensor<8x2xi64>, tensor<8xf32>, tensor<8xf32>, tensor<1x2xi8>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case45(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{'qb.split_heads' op input must be 3-D [batch, seq, hidden], got rank 2}}
  %0 = qb.split_heads %x {num_heads = 4} : tensor<8x64xf32> -> tensor<1x4x8x16xf32>
  return
}

// -----

func.func @case46(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.split_heads' op hidden size 64 is not divisible by num_heads = 5}}
  %0 = qb.split_heads %x {num_heads = 5} : tensor<2x8x64xf32> -> tensor<2x5x8x12xf32>
  return
}

// -----

func.func @case47(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.split_heads' op result shape [2, 8, 4, 16] must be [batch, heads, seq, head_dim] = [2, 4, 8, 16]}}
  %0 = qb.split_heads %x {num_heads = 4} : tensor<2x8x64xf32> -> tensor<2x8x4x16xf32>
  return
}

// -----

func.func @case48(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.split_heads' op input and result must share one element type, got 'f32' and 'f16'}}
  %0 = qb.split_heads %x {num_heads = 4} : tensor<2x8x64xf32> -> tensor<2x4x8x16xf16>
  return
}

// -----

func.func @case49(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.split_heads' op attribute 'num_heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = qb.split_heads %x {num_heads = 0} : tensor<2x8x64xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @case50(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.merge_heads' op input must be 4-D [batch, heads, seq, head_dim], got rank 3}}
  %0 = qb.merge_heads %x : tensor<2x8x64xf32> -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case51(%x: tensor<2x4x8x16xf32>) {
  // expected-error @+1 {{'qb.merge_heads' op result shape [2, 8, 32] must be [batch, seq, heads * head_dim] = [2, 8, 64]}}
  %0 = qb.merge_heads %x : tensor<2x4x8x16xf32> -> tensor<2x8x32xf32>
  return
}

// -----

func.func @case52(%x: tensor<2x4x8x16xf32>) {
  // expected-error @+1 {{'qb.merge_heads' op input and result must share one element type, got 'f32' and 'bf16'}}
  %0 = qb.merge_heads %x : tensor<2x4x8x16xf32> -> tensor<2x8x64xbf16>
  return
}

// -----

func.func @case53(%a: tensor<8xf32>) {
  // expected-error @+1 {{'qb.batch_matmul' op lhs must have rank >= 2, got 1}}
  %0 = qb.batch_matmul %a, %a : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @case54(%a: tensor<2x8x16xf32>, %b: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{'qb.batch_matmul' op lhs, rhs and result must have one rank, got 3, 4 and 3}}
  %0 = qb.batch_matmul %a, %b : (tensor<2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<2x8x8xf32>
  return
}

// -----

func.func @case55(%a: tensor<2x8x16xf32>, %b: tensor<3x16x8xf32>) {
  // expected-error @+1 {{'qb.batch_matmul' op batch dimension 0 differs between lhs (2), rhs (3) and result (2)}}
  %0 = qb.batch_matmul %a, %b : (tensor<2x8x16xf32>, tensor<3x16x8xf32>) -> tensor<2x8x8xf32>
  return
}

// -----

func.func @case56(%a: tensor<2x8x16xf32>, %b: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'qb.batch_matmul' op contraction size of lhs (16) does not match rhs (8) with transpose_rhs}}
  %0 = qb.batch_matmul %a, %b transpose_rhs : (tensor<2x8x16xf32>, tensor<2x16x8xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case57(%a: tensor<2x8x16xf32>, %b: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'qb.batch_matmul' op result shape [2, 8, 16] must end in [M, N] = [8, 8]}}
  %0 = qb.batch_matmul %a, %b : (tensor<2x8x16xf32>, tensor<2x16x8xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @case58(%a: tensor<2x8x16xf32>, %b: tensor<2x16x8xf16>) {
  // expected-error @+1 {{'qb.batch_matmul' op lhs, rhs and result must share one element type, got 'f32' and 'f16'}}
  %0 = qb.batch_matmul %a, %b : (tensor<2x8x16xf32>, tensor<2x16x8xf16>) -> tensor<2x8x8xf32>
  return
}

// -----

func.func @case59(%x: tensor<4xf32>) {
  // expected-error @+1 {{'qb.scale' op factor must be finite}}
  %0 = qb.scale %x by 0x7F800000 : tensor<4xf32>
  return
}

// -----

func.func @case60(%s: tensor<2x8x8xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention_mask' op scores must be 4-D [batch, heads, query_seq, key_seq], got rank 3}}
  %0 = qb.attention_mask %s, %m : (tensor<2x8x8xf32>, tensor<2x8xi32>) -> tensor<2x8x8xf32>
  return
}

// -----

func.func @case61(%s: tensor<2x4x8x8xf32>, %m: tensor<2x9xi32>) {
  // expected-error @+1 {{'qb.attention_mask' op mask shape [2, 9] must be [batch, key_seq] = [2, 8]}}
  %0 = qb.attention_mask %s, %m : (tensor<2x4x8x8xf32>, tensor<2x9xi32>) -> tensor<2x4x8x8xf32>
  return
}

// -----

func.func @case62(%s: tensor<2x4x8x8xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention_mask' op result type 'tensor<2x4x8x8xf16>' must equal the scores type 'tensor<2x4x8x8xf32>'}}
  %0 = qb.attention_mask %s, %m : (tensor<2x4x8x8xf32>, tensor<2x8xi32>) -> tensor<2x4x8x8xf16>
  return
}

// -----

func.func @case63(%s: tensor<2x4x8x8xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention_mask' op fill must be finite}}
  %0 = qb.attention_mask %s, %m {fill = 0xFF800000 : f32} : (tensor<2x4x8x8xf32>, tensor<2x8xi32>) -> tensor<2x4x8x8xf32>
  return
}

// -----

func.func @case64(%q: tensor<2x8x64xf32>, %k: tensor<2x4x8x16xf32>, %v: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.attention' op key must be 3-D [batch, seq, hidden], got [2, 4, 8, 16]}}
  %0 = qb.attention %q, %k, %v {num_heads = 4, scale = 0.25 : f32} : (tensor<2x8x64xf32>, tensor<2x4x8x16xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case65(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf16>, %v: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.attention' op query, key, value and result must share one element type, got 'f32' and 'f16'}}
  %0 = qb.attention %q, %k, %v {num_heads = 4, scale = 0.25 : f32} : (tensor<2x8x64xf32>, tensor<2x8x64xf16>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case66(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x6x64xf32>) {
  // expected-error @+1 {{'qb.attention' op value shape [2, 6, 64] does not match key shape [2, 8, 64]}}
  %0 = qb.attention %q, %k, %v {num_heads = 4, scale = 0.25 : f32} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x6x64xf32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case67(%q: tensor<2x8x32xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'qb.attention' op query shape [2, 8, 32] must agree with key shape [2, 8, 64] in batch and hidden size}}
  %0 = qb.attention %q, %k, %v {num_heads = 4, scale = 0.25 : f32} : (tensor<2x8x32xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x32xf32>
  return
}

// -----

func.func @case68(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x8x64xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention' op hidden size 64 is not divisible by num_heads = 3}}
  %0 = qb.attention %q, %k, %v {num_heads = 3, scale = 0.25 : f32} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case69(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x8x64xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention' op scale must be finite and positive, got -2.500000e-01}}
  %0 = qb.attention %q, %k, %v {num_heads = 4, scale = -0.25 : f32} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case70(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x8x64xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention' op mask_fill must be finite}}
  %0 = qb.attention %q, %k, %v mask(%m) {num_heads = 4, scale = 0.25 : f32, mask_fill = 0x7FC00000 : f32} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8xi32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case71(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x8x64xf32>, %m: tensor<2x8x8xi32>) {
  // expected-error @+1 {{'qb.attention' op mask shape [2, 8, 8] must be [batch, key_seq] = [2, 8]}}
  %0 = qb.attention %q, %k, %v mask(%m) {num_heads = 4, scale = 0.25 : f32} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x8xi32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case72(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x8x64xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention' op result shape [2, 8, 32] must match query shape [2, 8, 64]}}
  %0 = qb.attention %q, %k, %v {num_heads = 4, scale = 0.25 : f32} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x32xf32>
  return
}

// -----

func.func @case73(%q: tensor<2x8x64xf32>, %k: tensor<2x8x64xf32>, %v: tensor<2x8x64xf32>, %m: tensor<2x8xi32>) {
  // expected-error @+1 {{'qb.attention' op attribute 'storage_type' failed to satisfy constraint: f32, f16 or bf16 type attribute}}
  %0 = qb.attention %q, %k, %v {num_heads = 4, scale = 0.25 : f32, storage_type = i8} : (tensor<2x8x64xf32>, tensor<2x8x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @case74(%x: tensor<f32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{'qb.layer_norm' op input must have rank >= 1}}
  %0 = qb.layer_norm %x, %g, %g : tensor<f32>, tensor<1xf32>, tensor<1xf32>
  return
}

// -----

func.func @case75(%x: tensor<2x64xf32>, %g: tensor<32xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'qb.layer_norm' op gamma must be 1-D [hidden = 64], got [32]}}
  %0 = qb.layer_norm %x, %g, %b : tensor<2x64xf32>, tensor<32xf32>, tensor<64xf32>
  return
}

// -----

func.func @case76(%x: tensor<2x64xf32>, %g: tensor<64xf32>, %b: tensor<1x64xf32>) {
  // expected-error @+1 {{'qb.layer_norm' op beta must be 1-D [hidden = 64], got [1, 64]}}
  %0 = qb.layer_norm %x, %g, %b : tensor<2x64xf32>, tensor<64xf32>, tensor<1x64xf32>
  return
}

// -----

func.func @case77(%x: tensor<2x64xf16>, %g: tensor<64xf32>) {
  // expected-error @+1 {{'qb.layer_norm' op input, gamma and beta must share one element type, got 'f16' and 'f32'}}
  %0 = qb.layer_norm %x, %g, %g : tensor<2x64xf16>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

func.func @case78(%x: tensor<2x64xf32>, %g: tensor<64xf32>) {
  // expected-error @+1 {{'qb.layer_norm' op epsilon must be finite and positive, got 0}}
  %0 = qb.layer_norm %x, %g, %g {epsilon = 0.0 : f64} : tensor<2x64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

func.func @case79(%x: tensor<f32>) {
  // expected-error @+1 {{'qb.softmax' op input must have rank >= 1}}
  %0 = qb.softmax %x : tensor<f32>
  return
}

// -----

func.func @case80(%x: tensor<4xf32>, %y: tensor<8xf32>) {
  // expected-error @+1 {{'qb.add' op requires the same type for all operands and results}}
  %0 = "qb.add"(%x, %y) : (tensor<4xf32>, tensor<8xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @case81(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op result shape [4, 9] does not match input shape [4, 8]}}
  %0 = qb.quantize %x {scale = array<f32: 0.5>} : tensor<4x8xf32> -> tensor<4x9xi8>
  return
}

// -----

func.func @case82(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op scale must have at least one entry}}
  %0 = qb.quantize %x {scale = array<f32>} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case83(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op scale[1] must be finite and positive, got -5.000000e-01}}
  %0 = qb.quantize %x {scale = array<f32: 0.5, -0.5, 1.0, 1.0>, axis = 0} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case84(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op zero_point has 2 entries but scale has 1}}
  %0 = qb.quantize %x {scale = array<f32: 0.5>, zero_point = array<i32: 0, 1>} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case85(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op zero_point[0] = -129 is outside the int8 range [-128, 127]}}
  %0 = qb.quantize %x {scale = array<f32: 0.5>, zero_point = array<i32: -129>} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case86(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op offset must be finite}}
  %0 = qb.quantize %x {scale = array<f32: 0.5>, offset = 0x7F800000 : f32} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case87(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op per-channel quantization (4 scales) needs an axis}}
  %0 = qb.quantize %x {scale = array<f32: 0.5, 0.5, 0.5, 0.5>} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case88(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op axis 2 is out of range for a rank-2 tensor}}
  %0 = qb.quantize %x {scale = array<f32: 0.5>, axis = 2} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case89(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'qb.quantize' op axis 1 has 8 channels but scale has 4 entries}}
  %0 = qb.quantize %x {scale = array<f32: 0.5, 0.5, 0.5, 0.5>, axis = 1} : tensor<4x8xf32> -> tensor<4x8xi8>
  return
}

// -----

func.func @case90(%x: tensor<4x8xi8>) {
  // expected-error @+1 {{'qb.dequantize' op result shape [8, 4] does not match input shape [4, 8]}}
  %0 = qb.dequantize %x {scale = array<f32: 0.5>} : tensor<4x8xi8> -> tensor<8x4xf32>
  return
}

// -----

func.func @case91(%x: tensor<4x8xi8>) {
  // expected-error @+1 {{'qb.dequantize' op scale[0] must be finite and positive, got 0}}
  %0 = qb.dequantize %x {scale = array<f32: 0.0>} : tensor<4x8xi8> -> tensor<4x8xf32>
  return
}

// -----

func.func @case92(%x: tensor<4x8xi8>) {
  // expected-error @+1 {{'qb.dequantize' op axis 0 has 4 channels but scale has 2 entries}}
  %0 = qb.dequantize %x {scale = array<f32: 0.5, 0.25>, axis = 0} : tensor<4x8xi8> -> tensor<4x8xf32>
  return
}

// -----

// The module attributes import sets: #qb.model and qb.sensitivity.

// expected-error @+1 {{#qb.model: num_labels must be positive, got 0}}
module attributes {qb.model = #qb.model<num_labels = 0, vocab_size = 50, max_positions = 16, type_vocab_size = 2>} {}

// -----

// expected-error @+1 {{#qb.model: labels has 2 names, num_labels is 3}}
module attributes {qb.model = #qb.model<num_labels = 3, vocab_size = 50, max_positions = 16, type_vocab_size = 2, labels = ["a", "b"]>} {}

// -----

// expected-error @+1 {{#qb.model: labels[1] must be a string, got 7 : i64}}
module attributes {qb.model = #qb.model<num_labels = 2, vocab_size = 50, max_positions = 16, type_vocab_size = 2, labels = ["a", 7]>} {}

// -----

// expected-error @+1 {{'qb.model' must be a #qb.model, got {num_labels = 3 : i64}}}
module attributes {qb.model = {num_labels = 3 : i64}} {}

// -----

func.func @model_on_a_function() attributes {qb.model = #qb.model<num_labels = 2, vocab_size = 50, max_positions = 16, type_vocab_size = 2>} {
  return
}
// expected-error @-3 {{'qb.model' belongs on a builtin.module}}

// -----

// expected-error @+1 {{#qb.sensitivity: layer must be non-negative, got -1}}
module attributes {qb.sensitivity = [#qb.sensitivity<layer = -1, module = ffn, losses = {i8 = 0.1 : f64}>]} {}

// -----

// expected-error @+1 {{#qb.sensitivity: losses must list at least one precision}}
module attributes {qb.sensitivity = [#qb.sensitivity<layer = 0, module = ffn, losses = {}>]} {}

// -----

// expected-error @+1 {{#qb.sensitivity: unknown precision 'int4' in losses}}
module attributes {qb.sensitivity = [#qb.sensitivity<layer = 0, module = ffn, losses = {int4 = 0.1 : f64}>]} {}

// -----

// expected-error @+1 {{#qb.sensitivity: the loss of 'i8' must be a finite float, got "high"}}
module attributes {qb.sensitivity = [#qb.sensitivity<layer = 0, module = ffn, losses = {i8 = "high"}>]} {}

// -----

// expected-error @+1 {{'qb.sensitivity' must be an array of #qb.sensitivity}}
module attributes {qb.sensitivity = #qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.1 : f64}>} {}

// -----

// expected-error @+1 {{'qb.sensitivity'[1] must be a #qb.sensitivity, got {layer = 1 : i64}}}
module attributes {qb.sensitivity = [#qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.1 : f64}>, {layer = 1 : i64}]} {}

// -----

// expected-error @+1 {{'qb.sensitivity'[1]: layer 0 ffn is listed twice}}
module attributes {qb.sensitivity = [#qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.1 : f64}>, #qb.sensitivity<layer = 0, module = ffn, losses = {binary = 0.3 : f64}>]} {}

// -----

func.func @negative_layer_group(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) -> tensor<2x8x16xf32> {
  // expected-error @+1 {{'qb.layer_group' must be a non-negative integer, got -1 : i64}}
  %0 = qb.encoder_layer layer 1 (%x, %m) {qb.layer_group = -1 : i64} : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %k: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    qb.yield %a : tensor<2x8x16xf32>
  }
  return %0 : tensor<2x8x16xf32>
}

// -----

func.func @layer_group_off_a_layer(%x: tensor<2x8x16xf32>) -> tensor<2x8x16xf32> {
  // expected-error @+1 {{'qb.layer_group' belongs on a qb.encoder_layer}}
  %0 = qb.gelu %x {qb.layer_group = 0 : i64} : tensor<2x8x16xf32>
  return %0 : tensor<2x8x16xf32>
}

// -----

func.func @block_sparse_other_block(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op block_sparse must be [16, 4] (the block-sparse int8 kernel's block: output channels x inputs), got [8, 4]}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32, block_sparse = array<i64: 8, 4>} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @block_sparse_three_dims(%x: tensor<4x16xi8>, %w: tensor<8x16xi8>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'qb.int8_linear' op block_sparse must be [16, 4] (the block-sparse int8 kernel's block: output channels x inputs), got [16, 4, 1]}}
  %0 = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.5 : f32, block_sparse = array<i64: 16, 4, 1>} : (tensor<4x16xi8>, tensor<8x16xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}
