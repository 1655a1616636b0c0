// qb-dealloc-after-last-use: deallocs at the end of a block move up to the
// last use of their buffer or of anything derived from it.
// RUN: quant-bert-opt %s -split-input-file -qb-dealloc-after-last-use | FileCheck %s

// Two temporaries freed at the end (as ownership-based deallocation leaves
// them): each is freed right after its last reader, so the second can
// reuse the first's memory.
// CHECK-LABEL: func.func @chain
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: linalg.fill ins(%{{.*}}) outs(%[[A]]
// CHECK: %[[B:.*]] = memref.alloc
// CHECK: linalg.copy ins(%[[A]] : {{.*}}) outs(%[[B]]
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: linalg.copy ins(%[[B]] : {{.*}}) outs(%{{.*}}
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: return
func.func @chain(%out: memref<4xf32>) {
  %c = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<4xf32>
  linalg.fill ins(%c : f32) outs(%a : memref<4xf32>)
  %b = memref.alloc() : memref<4xf32>
  linalg.copy ins(%a : memref<4xf32>) outs(%b : memref<4xf32>)
  linalg.copy ins(%b : memref<4xf32>) outs(%out : memref<4xf32>)
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return
}

// -----

// A view keeps its buffer alive: the dealloc follows the view's last use.
// CHECK-LABEL: func.func @view
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: %[[V:.*]] = memref.subview %[[A]]
// CHECK: memref.load %[[V]]
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK: arith.addf
func.func @view(%i: index) -> f32 {
  %a = memref.alloc() : memref<8xf32>
  %v = memref.subview %a[2] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 2>>
  %x = memref.load %v[%i] : memref<4xf32, strided<[1], offset: 2>>
  %y = arith.addf %x, %x : f32
  memref.dealloc %a : memref<8xf32>
  return %y : f32
}

// -----

// A parallel loop whose body reads the buffer is its use; so is a runtime
// call given the buffer's address. A buffer nothing reads is freed at once.
// CHECK-LABEL: func.func @loop_and_call
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: scf.parallel
// CHECK: memref.load %[[A]]
// CHECK: scf.reduce
// CHECK: }
// CHECK: %[[B:.*]] = memref.alloc
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NOT: memref.dealloc %[[A]]
// CHECK: call @consume
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: return
func.func private @consume(!llvm.ptr)
func.func @loop_and_call(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc(%n) : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %x = memref.load %a[%i] : memref<?xf32>
    memref.store %x, %out[%i] : memref<?xf32>
    scf.reduce
  }
  %b = memref.alloc(%n) : memref<?xf32>
  %p = memref.extract_aligned_pointer_as_index %a : memref<?xf32> -> index
  %q = arith.index_cast %p : index to i64
  %r = llvm.inttoptr %q : i64 to !llvm.ptr
  call @consume(%r) : (!llvm.ptr) -> ()
  memref.dealloc %a : memref<?xf32>
  memref.dealloc %b : memref<?xf32>
  return
}
