// convert-qb-to-runtime: qb.int8_linear becomes a call of the runtime's
// oneDNN kernel on a plan prepared once by a generated function. Numerics are
// checked by executing against the runtime (test/Execution/Int8KernelTest.cpp).
// RUN: quant-bert-opt %s -split-input-file -convert-qb-to-runtime -verify-diagnostics | FileCheck %s

// CHECK-DAG: func.func private @qbrt_int8_linear_run(!llvm.ptr, !llvm.ptr, i64, f32, i32, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @qbrt_int8_linear_prepare(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @qbrt_int8_linear_destroy(!llvm.ptr)
// The model gains the plans argument; the weights leave it.
// CHECK-LABEL: func.func @model(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x?x8xi8>, %[[PLANS:[a-z0-9]+]]: !llvm.ptr {qb.name = "int8_plans"}) -> tensor<2x?x4xf32>
// CHECK-SAME: attributes {qb.int8_plans = 2 : i64}
// CHECK-NOT: arith.constant dense<{{.*}}> : tensor<4x8xi8>
// CHECK: %[[XM:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<2x?x8xi8> into tensor<?x8xi8>
// CHECK: %[[Y:.*]] = memref.alloc(%{{.*}}) : memref<?x4xf32>
// CHECK: %[[SLOT:.*]] = llvm.getelementptr %[[PLANS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[PLAN:.*]] = llvm.load %[[SLOT]] : !llvm.ptr -> !llvm.ptr
// CHECK: bufferization.to_memref %[[XM]] : memref<?x8xi8>
// CHECK: %[[STATUS:.*]] = call @qbrt_int8_linear_run(%[[PLAN]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64, f32, i32, !llvm.ptr) -> i32
// A failing run writes its status after the plan pointers.
// CHECK: scf.if
// CHECK: llvm.getelementptr %[[PLANS]][2]
// CHECK: llvm.store %[[STATUS]]
// CHECK: bufferization.to_tensor %[[Y]] restrict writable : memref<?x4xf32>
// CHECK: call @qbrt_int8_linear_run
// The prepare function: one plan per linear, constants moved here, the first
// failing status returned and the remaining prepares skipped.
// CHECK-LABEL: func.func @model_int8_prepare(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) -> i32
// CHECK: arith.constant dense<{{.*}}> : tensor<4x8xi8>
// CHECK: scf.if
// CHECK: call @qbrt_int8_linear_prepare
// CHECK: scf.if
// CHECK: call @qbrt_int8_linear_prepare
// CHECK: return
// CHECK-LABEL: func.func @model_int8_destroy(%{{.*}}: !llvm.ptr)
// CHECK-COUNT-2: call @qbrt_int8_linear_destroy
func.func @model(%x: tensor<2x?x8xi8>) -> tensor<2x?x4xf32> {
  %w = arith.constant dense<3> : tensor<4x8xi8>
  %s = arith.constant dense<0.5> : tensor<4xf32>
  %b = arith.constant dense<0.25> : tensor<4xf32>
  %y = qb.int8_linear %x, %w weight_scale(%s) bias(%b) {input_scale = 0.1 : f32}
      : (tensor<2x?x8xi8>, tensor<4x8xi8>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x?x4xf32>
  %yq = qb.quantize %y {scale = array<f32: 0.2>} : tensor<2x?x4xf32> -> tensor<2x?x4xi8>
  %w2 = arith.constant dense<-1> : tensor<4x4xi8>
  %s2 = arith.constant dense<1.0> : tensor<4xf32>
  %z = qb.int8_linear %yq, %w2 weight_scale(%s2) {input_scale = 0.2 : f32, input_zero_point = 3 : i32}
      : (tensor<2x?x4xi8>, tensor<4x4xi8>, tensor<4xf32>) -> tensor<2x?x4xf32>
  return %z : tensor<2x?x4xf32>
}

// -----

func.func @weights_from_argument(%x: tensor<3x8xi8>, %w: tensor<4x8xi8>) -> tensor<3x4xf32> {
  %s = arith.constant dense<0.5> : tensor<4xf32>
  // expected-error @+1 {{'qb.int8_linear' op needs constant weights, scales and bias to prepare a runtime plan}}
  %y = qb.int8_linear %x, %w weight_scale(%s) {input_scale = 0.1 : f32}
      : (tensor<3x8xi8>, tensor<4x8xi8>, tensor<4xf32>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

// A block_sparse linear: its prepare embeds the packed form only (a 2 x 1
// byte mask, bit 1 of mask row 1 set: block (1, 1), the one with a nonzero
// weight; one stored block of 64 bytes, value 7 at channel 0, input 0 of
// the block) and calls the packed prepare; runs and destroy use the
// block-sparse kernel's functions.
// CHECK-DAG: func.func private @qbrt_sparse_int8_linear_prepare_packed(!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, !llvm.ptr, !llvm.ptr, i64, i64, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @qbrt_sparse_int8_linear_run_rows(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-LABEL: func.func @sparse(
// CHECK-NOT: tensor<17x5xi8>
// CHECK: call @qbrt_sparse_int8_linear_run_rows(
// CHECK-LABEL: func.func @sparse_int8_prepare(
// CHECK-DAG: arith.constant dense<{{\[}}[0], [2]]> : tensor<2x1xi8>
// CHECK-DAG: arith.constant dense<{{\[}}[7, 0, {{.*}}, 0]]> : tensor<1x64xi8>
// CHECK-DAG: %[[STORED:.*]] = arith.constant 1 : i64
// CHECK: call @qbrt_sparse_int8_linear_prepare_packed(%{{.*}}, %{{.*}}, %{{.*}}, %[[STORED]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK-LABEL: func.func @sparse_int8_destroy(
// CHECK: call @qbrt_sparse_int8_linear_destroy
func.func @sparse(%x: tensor<?x5xi8>, %xs: tensor<?xf32>) -> tensor<?x17xf32> {
  %w = arith.constant dense<[[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 7]]> : tensor<17x5xi8>
  %s = arith.constant dense<1.0> : tensor<17xf32>
  %y = qb.int8_linear %x, %w weight_scale(%s) input_scales(%xs) {block_sparse = array<i64: 16, 4>}
      : (tensor<?x5xi8>, tensor<17x5xi8>, tensor<17xf32>, tensor<?xf32>) -> tensor<?x17xf32>
  return %y : tensor<?x17xf32>
}
