// qb-approximate-math: exp, erf and tanh become polynomial arithmetic (no
// libm call, vectorisable); ops with exact LLVM lowerings stay.
// RUN: quant-bert-opt %s -qb-approximate-math | FileCheck %s

// CHECK-LABEL: func.func @transcendentals
// CHECK-NOT: math.exp
// CHECK-NOT: math.erf
// CHECK-NOT: math.tanh
// CHECK: arith.mulf {{.*}} : vector<16xf32>
// CHECK: math.sqrt
// CHECK: return
func.func @transcendentals(%v: vector<16xf32>, %x: f32) -> (vector<16xf32>, f32, f32, f32) {
  %e = math.exp %v : vector<16xf32>
  %r = math.erf %x : f32
  %t = math.tanh %x : f32
  %s = math.sqrt %x : f32
  return %e, %r, %t, %s : vector<16xf32>, f32, f32, f32
}
