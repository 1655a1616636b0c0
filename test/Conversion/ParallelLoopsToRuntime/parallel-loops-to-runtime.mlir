// convert-parallel-loops-to-runtime: outermost scf.parallel loops become
// qbrt_parallel_for calls on outlined bodies; their captures travel in a
// struct on the stack. Execution on threads is tested by
// test/Execution/ParallelKernelTest.cpp and test/Target/threads.mlir.
// RUN: quant-bert-opt %s -split-input-file -convert-parallel-loops-to-runtime -verify-diagnostics | FileCheck %s
// RUN: quant-bert-opt %s -split-input-file -convert-parallel-loops-to-runtime=min-chunk-cost=1 -verify-diagnostics | FileCheck %s --check-prefix=FINE

// Rows of a memref scaled by a scalar: the memref and the scalar are
// captured, the constant vector and the weight global are rematerialized
// in the body. One row costs 6 ops on vector<64xf32>, 384, so a chunk of
// at least 65536 takes 171 rows.
// CHECK-LABEL: func.func @rows
// CHECK-SAME: (%[[X:.*]]: memref<?x64xf32>, %[[S:.*]]: f32)
// CHECK: %[[SLOT:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, i64, struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, f32)> : (i64) -> !llvm.ptr
// CHECK-NOT: scf.parallel
// CHECK: %[[XS:.*]] = builtin.unrealized_conversion_cast %[[X]] : memref<?x64xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: %[[P2:.*]] = llvm.insertvalue %[[XS]], %{{.*}}[2]
// CHECK: %[[P3:.*]] = llvm.insertvalue %[[S]], %[[P2]][3]
// CHECK: llvm.store %[[P3]], %[[SLOT]]
// CHECK: %[[BODY:.*]] = constant @rows_parallel_0 : (i64, i64, !llvm.ptr) -> ()
// CHECK: %[[FN:.*]] = builtin.unrealized_conversion_cast %[[BODY]] : (i64, i64, !llvm.ptr) -> () to !llvm.ptr
// CHECK: %[[N:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK: %[[GRAIN:.*]] = arith.constant 171 : i64
// CHECK: call @qbrt_parallel_for(%[[N]], %[[GRAIN]], %[[FN]], %[[SLOT]]) : (i64, i64, !llvm.ptr, !llvm.ptr) -> ()
// CHECK: func.func private @rows_parallel_0(%[[BEGIN:.*]]: i64, %[[END:.*]]: i64, %[[CAPTURES:.*]]: !llvm.ptr)
// CHECK: %[[LOADED:.*]] = llvm.load %[[CAPTURES]] : !llvm.ptr -> !llvm.struct
// CHECK: %[[LB:.*]] = llvm.extractvalue %[[LOADED]][0]
// CHECK: %[[LOWER:.*]] = builtin.unrealized_conversion_cast %[[LB]] : i64 to index
// CHECK: %[[ST:.*]] = llvm.extractvalue %[[LOADED]][1]
// CHECK: %[[STEP:.*]] = builtin.unrealized_conversion_cast %[[ST]] : i64 to index
// CHECK: %[[XF:.*]] = llvm.extractvalue %[[LOADED]][2]
// CHECK: %[[XB:.*]] = builtin.unrealized_conversion_cast %[[XF]] : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> to memref<?x64xf32>
// CHECK: %[[SB:.*]] = llvm.extractvalue %[[LOADED]][3]
// CHECK-DAG: memref.get_global @weights : memref<64xf32>
// CHECK-DAG: arith.constant 0.000000e+00 : f32
// CHECK: %[[B:.*]] = arith.index_cast %[[BEGIN]] : i64 to index
// CHECK: %[[E:.*]] = arith.index_cast %[[END]] : i64 to index
// CHECK: scf.for %[[LIN:.*]] = %[[B]] to %[[E]]
// CHECK: %[[OFF:.*]] = arith.muli %[[LIN]], %[[STEP]] : index
// CHECK: %[[ROW:.*]] = arith.addi %[[LOWER]], %[[OFF]] : index
// CHECK: vector.transfer_read %[[XB]][%[[ROW]], %{{.*}}]
// CHECK: vector.broadcast %[[SB]] : f32 to vector<64xf32>
// CHECK: return
// CHECK: func.func private @qbrt_parallel_for(i64, i64, !llvm.ptr, !llvm.ptr)
// FINE-LABEL: func.func @rows
// FINE: arith.constant 1 : i64
// FINE-NEXT: call @qbrt_parallel_for
memref.global "private" constant @weights : memref<64xf32> = dense<2.0>
func.func @rows(%x: memref<?x64xf32>, %s: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %w = memref.get_global @weights : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %v = vector.transfer_read %x[%i, %c0], %zero {in_bounds = [true]} : memref<?x64xf32>, vector<64xf32>
    %wv = vector.transfer_read %w[%c0], %zero {in_bounds = [true]} : memref<64xf32>, vector<64xf32>
    %sv = vector.broadcast %s : f32 to vector<64xf32>
    %p = arith.mulf %v, %wv : vector<64xf32>
    %q = arith.mulf %p, %sv : vector<64xf32>
    vector.transfer_write %q, %x[%i, %c0] {in_bounds = [true]} : vector<64xf32>, memref<?x64xf32>
    scf.reduce
  }
  return
}

// -----

// Two dimensions from (1, 2) by (1, 3): trip counts max(ub - lb, 0) + step
// - 1 over step; the body delinearizes, innermost fastest, with the inner
// trip count captured.
// CHECK-LABEL: func.func @grid
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: %[[E0:.*]] = arith.subi %{{.*}}, %{{.*}} : index
// CHECK: %[[M0:.*]] = arith.maxsi %[[ZERO]], %[[E0]] : index
// CHECK: %[[T0:.*]] = arith.divui
// CHECK: %[[P0:.*]] = arith.muli %[[ONE]], %[[T0]] : index
// CHECK: %[[T1:.*]] = arith.divui
// CHECK: %[[TOTAL:.*]] = arith.muli %[[P0]], %[[T1]] : index
// CHECK: %[[I64:.*]] = arith.index_cast %[[TOTAL]] : index to i64
// CHECK: call @qbrt_parallel_for(%[[I64]]
// CHECK: func.func private @grid_parallel_0
// CHECK: scf.for %[[LIN:[a-z0-9_]+]] =
// CHECK: %[[INNER:.*]] = arith.remui %[[LIN]], %[[COUNT:.*]] : index
// CHECK: %[[OUTER:.*]] = arith.divui %[[LIN]], %[[COUNT]] : index
// CHECK: arith.muli %[[INNER]]
// CHECK: arith.muli %[[OUTER]]
// CHECK: memref.store
func.func @grid(%x: memref<?x?xf32>, %n: index, %m: index) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c1, %c2) to (%n, %m) step (%c1, %c3) {
    memref.store %one, %x[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// -----

// A nested scf.parallel stays inside the outlined body (it runs
// sequentially there); a loop with a reduction is left alone.
// CHECK-LABEL: func.func @nested_and_reduction
// CHECK: call @qbrt_parallel_for
// CHECK: scf.parallel {{.*}} -> f32
// CHECK: func.func private @nested_and_reduction_parallel_0
// CHECK: scf.for
// CHECK: scf.parallel
// CHECK-NOT: call @qbrt_parallel_for
func.func @nested_and_reduction(%x: memref<?x?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      memref.store %zero, %x[%i, %j] : memref<?x?xf32>
      scf.reduce
    }
    scf.reduce
  }
  %sum = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %v = memref.load %x[%i, %c0] : memref<?x?xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}

// -----

// A body that uses a tensor from above cannot be passed by pointer.
func.func @tensor_capture(%t: tensor<4xf32>, %x: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  // expected-error @+1 {{'scf.parallel' op uses a value of type 'tensor<4xf32>' from above, which cannot be passed to a parallel body}}
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = tensor.extract %t[%i] : tensor<4xf32>
    memref.store %v, %x[%i] : memref<4xf32>
    scf.reduce
  }
  return
}
