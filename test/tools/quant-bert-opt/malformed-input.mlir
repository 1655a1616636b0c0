// quant-bert-opt on malformed input: a diagnostic at file:line:col, a non-zero
// exit, and no crash (`not` fails on a signal; no stack dump or assertion).
// RUN: split-file %s %t
// RUN: not quant-bert-opt %t/syntax.mlir 2>&1 | FileCheck %s --check-prefix=SYNTAX --implicit-check-not="Stack dump" --implicit-check-not=Assertion
// RUN: not quant-bert-opt %t/unknown-op.mlir 2>&1 | FileCheck %s --check-prefix=UNKNOWN --implicit-check-not="Stack dump"
// RUN: not quant-bert-opt %t/verifier.mlir 2>&1 | FileCheck %s --check-prefix=VERIFY --implicit-check-not="Stack dump"
// RUN: not quant-bert-opt %t/bad-attr.mlir 2>&1 | FileCheck %s --check-prefix=ATTR --implicit-check-not="Stack dump"
// RUN: not quant-bert-opt %t/truncated.mlir 2>&1 | FileCheck %s --check-prefix=TRUNC --implicit-check-not="Stack dump"
// RUN: not quant-bert-opt %t/missing-region.mlir 2>&1 | FileCheck %s --check-prefix=REGION --implicit-check-not="Stack dump"
// RUN: not quant-bert-opt %t/does-not-exist.mlir 2>&1 | FileCheck %s --check-prefix=MISSING

// SYNTAX: syntax.mlir:3:20: error: expected ','
// UNKNOWN: unknown-op.mlir:2:8: error: custom op 'qb.convolution' is unknown
// VERIFY: verifier.mlir:2:8: error: 'qb.linear' op input's last dimension (32) does not match the weight's in_features (16)
// ATTR: bad-attr.mlir:2:35: error: custom op 'qb.linear' expected ::quantbert::qb::Precision to be one of: f32, f16, bf16, i8, ternary, binary
// TRUNC: truncated.mlir:5:30: error: expected non-function type
// REGION: missing-region.mlir:7:3: error: custom op 'qb.encoder_layer' expected 'ffn'
// MISSING: cannot open input file '{{.*}}does-not-exist.mlir': No such file or directory

//--- syntax.mlir
func.func @f(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) -> tensor<4x8xf32> {
  // Missing comma between the operands.
  %0 = qb.linear %x %w : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

//--- unknown-op.mlir
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = qb.convolution %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

//--- verifier.mlir
func.func @f(%x: tensor<4x32xf32>, %w: tensor<8x16xf32>) -> tensor<4x8xf32> {
  %0 = qb.linear %x, %w : (tensor<4x32xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

//--- bad-attr.mlir
func.func @f(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) -> tensor<4x8xf32> {
  %0 = qb.linear %x, %w precision<int3> : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

//--- truncated.mlir
func.func @f(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) -> tensor<2x8x16xf32> {
  %0 = qb.encoder_layer layer 0 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x

//--- missing-region.mlir
func.func @f(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>) -> tensor<2x8x16xf32> {
  %0 = qb.encoder_layer layer 0 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x16xf32>
  }
  return %0 : tensor<2x8x16xf32>
}
