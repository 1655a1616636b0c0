// qb-assign-precision: the SensiMix policy, the exact budget solver (checked
// against brute-force optima, including budgets where a greedy
// "cheapest sensitivity per byte saved" heuristic is worse), the remarks that
// explain each choice, and its errors.
//
// Model "two_layers": hidden 16, FFN 64. Sizes per module (weights + f32
// per-channel scales): attention f32 4096 B, i8 1280, ternary 512, binary 384;
// FFN f32 8192 B, i8 2368, ternary 832, binary 576; 1664 B of biases and
// LayerNorm parameters stay f32. FP32 total 26240 B.
//
// RUN: split-file %s %t
//
// Budget 30% (7872 B): the module with the smallest ternary sensitivity is
// layer 1 attention (0.04), yet the optimum ternarizes layer 0 FFN (0.05),
// which saves three times the bytes.
// RUN: quant-bert-opt %t/two_layers.mlir -qb-assign-precision="budget=0.3" 2>%t/b30.txt | FileCheck %s --check-prefix=B30
// RUN: FileCheck %s --check-prefix=B30-REMARK < %t/b30.txt
// B30-LABEL: func.func @two_layers
// B30: qb.encoder_layer layer 0
// B30-COUNT-3: precision<i8> quantizer<symmetric_ema> role<{{query|key|value}}>
// B30: precision<i8> quantizer<symmetric_ema> role<attention_output>
// B30: precision<ternary> quantizer<twn> role<intermediate>
// B30: precision<ternary> quantizer<twn> role<output>
// B30: qb.encoder_layer layer 1
// B30-COUNT-4: precision<i8> quantizer<symmetric_ema>
// B30: precision<i8> quantizer<symmetric_ema> role<intermediate>
// B30: precision<i8> quantizer<symmetric_ema> role<output>
// B30-REMARK: remark: layer 0 attention: i8, sensitivity 0.0100 at 1280 bytes; alternatives: f32 0.0000 at 4096 bytes ternary 0.1000 at 512 bytes binary 0.5000 at 384 bytes
// B30-REMARK: remark: layer 0 ffn: ternary, sensitivity 0.0500 at 832 bytes; alternatives: f32 0.0000 at 8192 bytes i8 0.0100 at 2368 bytes binary 0.3000 at 576 bytes
// B30-REMARK: remark: layer 1 attention: i8, sensitivity 0.0100 at 1280 bytes
// B30-REMARK: remark: layer 1 ffn: i8, sensitivity 0.0100 at 2368 bytes
// B30-REMARK: remark: qb-assign-precision: 4 modules, model 7424 bytes = 28.3% of FP32 26240 bytes (budget 30.0%), total sensitivity 0.0800
//
// Budget 15% (3936 B): the optimum (0.69) keeps layer 1 attention ternary;
// greedy downgrading binarizes it too and ends at 0.71.
// RUN: quant-bert-opt %t/two_layers.mlir -qb-assign-precision="budget=0.15" 2>%t/b15.txt | FileCheck %s --check-prefix=B15
// RUN: FileCheck %s --check-prefix=B15-REMARK < %t/b15.txt
// B15: qb.encoder_layer layer 0
// B15-COUNT-4: precision<ternary> quantizer<twn>
// B15-COUNT-2: precision<binary> quantizer<binary_sign>
// B15: qb.encoder_layer layer 1
// B15-COUNT-4: precision<ternary> quantizer<twn>
// B15-COUNT-2: precision<binary> quantizer<binary_sign>
// B15-REMARK: model 3840 bytes = 14.6% of FP32 26240 bytes (budget 15.0%), total sensitivity 0.6900
//
// Only i8 and binary allowed, budget 20% (5248 B): binary attention in
// layer 1 (0.06) beats binary FFN in layer 1 alone, which would not fit.
// RUN: quant-bert-opt %t/two_layers.mlir -qb-assign-precision="budget=0.2 precisions=i8,binary" 2>%t/ib.txt | FileCheck %s --check-prefix=IB
// RUN: FileCheck %s --check-prefix=IB-REMARK < %t/ib.txt
// IB: qb.encoder_layer layer 0
// IB-COUNT-4: precision<i8>
// IB-COUNT-2: precision<binary>
// IB: qb.encoder_layer layer 1
// IB-COUNT-6: precision<binary>
// IB-REMARK: remark: layer 0 attention: i8, sensitivity 0.0100 at 1280 bytes; alternatives: binary 0.5000 at 384 bytes
// IB-REMARK: total sensitivity 0.6200
//
// Pruned weights count block-sparse: layer 0's FFN weights are constants
// with one nonzero 16x4 block each, so its int8 codes take 134 bytes (two
// stored blocks and their masks) + 320 of scales, 454 in all, less than
// the binary FFN's: at budget 15% the solver now keeps that FFN int8
// (0.01) instead of binarizing it (0.3). As 1-bit signs the intermediate
// weight [64, 16] has a zero 32-row block, so it would compile block-sparse
// (qb-materialize-quant: a zero is no sign): one stored block's 32 words and
// index plus 3 panel starts, 288 bytes, more than its 128 dense bytes at
// this toy size; binary FFN 288 + 128 + 320 of scales = 736 bytes.
// RUN: quant-bert-opt %t/pruned_ffn.mlir -qb-assign-precision="budget=0.15" 2>%t/pruned.txt | FileCheck %s --check-prefix=PRUNED
// RUN: FileCheck %s --check-prefix=PRUNED-REMARK < %t/pruned.txt
// PRUNED: qb.encoder_layer layer 0
// PRUNED: precision<i8> quantizer<symmetric_ema> role<intermediate>
// PRUNED: precision<i8> quantizer<symmetric_ema> role<output>
// PRUNED-REMARK: remark: layer 0 ffn: i8, sensitivity 0.0100 at 454 bytes; alternatives: f32 0.0000 at 8192 bytes ternary 0.0500 at 358 bytes binary 0.3000 at 736 bytes
//
// Budget 13%: below the smallest possible model (all binary, 14.0%).
// RUN: not quant-bert-opt %t/two_layers.mlir -qb-assign-precision="budget=0.13" 2>&1 | FileCheck %s --check-prefix=INFEASIBLE
// INFEASIBLE: error: qb-assign-precision: budget 13.0% of FP32 (3411 bytes) is infeasible: the smallest assignment needs 3584 bytes (13.7% of FP32)
//
// Budget 100%: nothing needs to shrink, every module stays f32.
// RUN: quant-bert-opt %t/two_layers.mlir -qb-assign-precision="budget=1.0" 2>/dev/null | FileCheck %s --check-prefix=FULL
// FULL-NOT: precision<
//
// SensiMix with 2 MP layers out of 3: 8-bit attention everywhere, 1-bit FFN
// in layers 1 and 2; no sensitivity data needed.
// RUN: quant-bert-opt %t/three_layers.mlir -qb-assign-precision="policy=sensimix mp-layers=2" 2>%t/sm.txt | FileCheck %s --check-prefix=SENSIMIX
// RUN: FileCheck %s --check-prefix=SENSIMIX-REMARK < %t/sm.txt
// SENSIMIX: qb.encoder_layer layer 0
// SENSIMIX-COUNT-6: precision<i8> quantizer<symmetric_ema>
// SENSIMIX: qb.encoder_layer layer 1
// SENSIMIX-COUNT-4: precision<i8> quantizer<symmetric_ema>
// SENSIMIX-COUNT-2: precision<binary> quantizer<binary_sign>
// SENSIMIX: qb.encoder_layer layer 2
// SENSIMIX-COUNT-4: precision<i8> quantizer<symmetric_ema>
// SENSIMIX-COUNT-2: precision<binary> quantizer<binary_sign>
// SENSIMIX-REMARK: remark: layer 0 attention: i8 (SensiMix: attention is 8-bit in every layer), 1280 bytes
// SENSIMIX-REMARK: remark: layer 0 ffn: i8 (SensiMix: 8-bit FFN below the MP layers, which start at 1), 2368 bytes
// SENSIMIX-REMARK: remark: layer 1 attention: i8 (SensiMix: attention is 8-bit in every layer), 1280 bytes
// SENSIMIX-REMARK: remark: layer 1 ffn: binary (SensiMix: 1-bit FFN in an MP layer; MP layers are >= 1), 576 bytes
// SENSIMIX-REMARK: remark: qb-assign-precision: SensiMix with 2 MP layers of 3: model 9856 bytes = 25.0% of FP32 39360 bytes
//
// SensiMix stores the word and position embeddings in 8 bits as well, one
// f32 scale per row: words 100x16 1600 + 400 B, positions 8x16 128 + 32 B,
// token types 128 B (f32), the query 256 + 64 B: 2608 of 8064 B.
// RUN: quant-bert-opt %t/with_embedding.mlir -qb-assign-precision="policy=sensimix mp-layers=1" 2>%t/emb.txt | FileCheck %s --check-prefix=EMB
// RUN: FileCheck %s --check-prefix=EMB-REMARK < %t/emb.txt
// EMB: qb.embedding {{.*}} precision<i8>
// EMB: qb.linear {{.*}} precision<i8> quantizer<symmetric_ema> role<query>
// EMB-REMARK: model 2608 bytes = 32.3% of FP32 8064 bytes
// EMB-REMARK: remark: word and position embeddings: i8 per row, 2160 bytes (embeddings=keep leaves them)
//
// The budget counts the tables int8 too (2288 B with the token types), so
// 30% (2419 B) fits a binary query (96 B) and 35% (2822 B) an int8 one
// (320 B); with embeddings=keep the f32 tables alone are 87.3% of FP32.
// RUN: quant-bert-opt %t/with_embedding.mlir -qb-assign-precision="budget=0.3" 2>%t/emb30.txt | FileCheck %s --check-prefix=EMB30
// RUN: FileCheck %s --check-prefix=EMB30-REMARK < %t/emb30.txt
// EMB30: qb.embedding {{.*}} precision<i8>
// EMB30: qb.linear {{.*}} precision<binary> quantizer<binary_sign> role<query>
// EMB30-REMARK: model 2384 bytes = 29.6% of FP32 8064 bytes (budget 30.0%)
// RUN: quant-bert-opt %t/with_embedding.mlir -qb-assign-precision="budget=0.35" 2>/dev/null | FileCheck %s --check-prefix=EMB35
// EMB35: qb.linear {{.*}} precision<i8> quantizer<symmetric_ema> role<query>
// RUN: not quant-bert-opt %t/with_embedding.mlir -qb-assign-precision="budget=0.35 embeddings=keep" 2>&1 | FileCheck %s --check-prefix=EMB-KEEP
// EMB-KEEP: error: qb-assign-precision: budget 35.0% of FP32 (2822 bytes) is infeasible: the smallest assignment needs 7136 bytes (88.5% of FP32)
// RUN: quant-bert-opt %t/with_embedding.mlir -qb-assign-precision="budget=0.9 embeddings=keep" 2>/dev/null | FileCheck %s --check-prefix=EMB-KEPT
// EMB-KEPT: qb.embedding
// EMB-KEPT-NOT: precision<i8>
// EMB-KEPT: role<query>
// RUN: not quant-bert-opt %t/with_embedding.mlir -qb-assign-precision="budget=0.5 embeddings=i4" 2>&1 | FileCheck %s --check-prefix=EMB-BAD
// EMB-BAD: error: qb-assign-precision: embeddings must be 'i8' or 'keep', got 'i4'
//
// policy=int8: every encoder linear 8-bit, no sensitivity data needed.
// RUN: quant-bert-opt %t/three_layers.mlir -qb-assign-precision="policy=int8" 2>%t/int8.txt | FileCheck %s --check-prefix=INT8
// RUN: FileCheck %s --check-prefix=INT8-REMARK < %t/int8.txt
// INT8-COUNT-18: precision<i8> quantizer<symmetric_ema>
// INT8-NOT: precision<
// INT8-REMARK: remark: qb-assign-precision: every encoder linear i8 (6 modules): model 13440 bytes = 34.1% of FP32 39360 bytes
//
// RUN: not quant-bert-opt %t/three_layers.mlir -qb-assign-precision="policy=sensimix" 2>&1 | FileCheck %s --check-prefix=NO-MP
// NO-MP: error: qb-assign-precision: policy=sensimix needs mp-layers in [0, 3], got -1
// RUN: not quant-bert-opt %t/three_layers.mlir -qb-assign-precision="budget=0.5" 2>&1 | FileCheck %s --check-prefix=NO-DATA
// NO-DATA: three_layers.mlir:1:1: error: qb-assign-precision: no sensitivity data; give sensitivity=FILE or add a 'qb.sensitivity' module attribute
//
// The same data from a sensitivity.json file (docs/formats.md).
// RUN: quant-bert-opt %t/three_layers.mlir -qb-assign-precision="budget=0.3 sensitivity=%t/sensitivity.json" 2>&1 >/dev/null | FileCheck %s --check-prefix=FILE
// FILE: remark: layer 2 ffn: binary, sensitivity 0.0100
// FILE: remark: qb-assign-precision: 6 modules
// RUN: not quant-bert-opt %t/three_layers.mlir -qb-assign-precision="budget=0.3 sensitivity=%t/missing.json" 2>&1 | FileCheck %s --check-prefix=NO-FILE
// NO-FILE: error: qb-assign-precision: {{.*}}missing.json: cannot open: No such file or directory
// RUN: not quant-bert-opt %t/three_layers.mlir -qb-assign-precision="policy=greedy" 2>&1 | FileCheck %s --check-prefix=POLICY
// POLICY: error: qb-assign-precision: unknown policy 'greedy' (expected 'budget', 'sensimix' or 'int8')
// RUN: not quant-bert-opt %t/two_layers.mlir -qb-assign-precision="budget=1.5" 2>&1 | FileCheck %s --check-prefix=RANGE
// RANGE: error: qb-assign-precision: budget must be in (0, 1], got 1.50
// RUN: not quant-bert-opt %t/two_layers.mlir -qb-assign-precision="budget=0.5 precisions=i8,int4" 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: error: qb-assign-precision: unknown precision 'int4' in precisions=
// RUN: not quant-bert-opt %t/bad_entry.mlir -qb-assign-precision="budget=0.5" 2>&1 | FileCheck %s --check-prefix=BAD-ENTRY
// BAD-ENTRY: error: expected ::quantbert::qb::LayerModule to be one of: attention, ffn
// RUN: not quant-bert-opt %t/role_mismatch.mlir -qb-assign-precision="budget=0.5" 2>&1 | FileCheck %s --check-prefix=ROLE
// ROLE: role_mismatch.mlir:{{[0-9]+}}:{{[0-9]+}}: error: 'qb.linear' op has role 'query' but sits in the ffn region
// RUN: quant-bert-opt %t/no_layers.mlir -qb-assign-precision="budget=0.5" 2>&1 | FileCheck %s --check-prefix=EMPTY
// EMPTY: warning: qb-assign-precision: no qb.linear inside a qb.encoder_layer; nothing to assign

//--- two_layers.mlir
module attributes {qb.sensitivity = [
    #qb.sensitivity<layer = 0, module = attention, losses = {i8 = 0.01 : f64, ternary = 0.1 : f64, binary = 0.5 : f64}>,
    #qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.01 : f64, ternary = 0.05 : f64, binary = 0.3 : f64}>,
    #qb.sensitivity<layer = 1, module = attention, losses = {i8 = 0.01 : f64, ternary = 0.04 : f64, binary = 0.06 : f64}>,
    #qb.sensitivity<layer = 1, module = ffn, losses = {i8 = 0.01 : f64, ternary = 0.2 : f64, binary = 0.25 : f64}>]} {
func.func @two_layers(%h0: tensor<2x8x16xf32>, %mask: tensor<2x8xi32>, %wq0: tensor<16x16xf32>, %bq0: tensor<16xf32>, %wk0: tensor<16x16xf32>, %bk0: tensor<16xf32>, %wv0: tensor<16x16xf32>, %bv0: tensor<16xf32>, %wo0: tensor<16x16xf32>, %bo0: tensor<16xf32>, %g10: tensor<16xf32>, %b10: tensor<16xf32>, %wi0: tensor<64x16xf32>, %bi0: tensor<64xf32>, %wf0: tensor<16x64xf32>, %bf0: tensor<16xf32>, %g20: tensor<16xf32>, %b20: tensor<16xf32>, %wq1: tensor<16x16xf32>, %bq1: tensor<16xf32>, %wk1: tensor<16x16xf32>, %bk1: tensor<16xf32>, %wv1: tensor<16x16xf32>, %bv1: tensor<16xf32>, %wo1: tensor<16x16xf32>, %bo1: tensor<16xf32>, %g11: tensor<16xf32>, %b11: tensor<16xf32>, %wi1: tensor<64x16xf32>, %bi1: tensor<64xf32>, %wf1: tensor<16x64xf32>, %bf1: tensor<16xf32>, %g21: tensor<16xf32>, %b21: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %h1 = qb.encoder_layer layer 0 (%h0, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %x, %wq0 bias(%bq0) role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %k = qb.linear %x, %wk0 bias(%bk0) role<key> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %v = qb.linear %x, %wv0 bias(%bv0) role<value> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %c = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
    %o = qb.linear %c, %wo0 bias(%bo0) role<attention_output> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %o, %x : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g10, %b10 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %i = qb.linear %a, %wi0 bias(%bi0) role<intermediate> : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %g = qb.gelu %i : tensor<2x8x64xf32>
    %f = qb.linear %g, %wf0 bias(%bf0) role<output> : (tensor<2x8x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %f, %a : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g20, %b20 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  }
  %h2 = qb.encoder_layer layer 1 (%h1, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %x, %wq1 bias(%bq1) role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %k = qb.linear %x, %wk1 bias(%bk1) role<key> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %v = qb.linear %x, %wv1 bias(%bv1) role<value> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %c = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
    %o = qb.linear %c, %wo1 bias(%bo1) role<attention_output> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %o, %x : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g11, %b11 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %i = qb.linear %a, %wi1 bias(%bi1) role<intermediate> : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %g = qb.gelu %i : tensor<2x8x64xf32>
    %f = qb.linear %g, %wf1 bias(%bf1) role<output> : (tensor<2x8x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %f, %a : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g21, %b21 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  }
  return %h2 : tensor<2x8x16xf32>
}
}

//--- pruned_ffn.mlir
module attributes {qb.sensitivity = [
    #qb.sensitivity<layer = 0, module = attention, losses = {i8 = 0.01 : f64, ternary = 0.1 : f64, binary = 0.5 : f64}>,
    #qb.sensitivity<layer = 0, module = ffn, losses = {i8 = 0.01 : f64, ternary = 0.05 : f64, binary = 0.3 : f64}>,
    #qb.sensitivity<layer = 1, module = attention, losses = {i8 = 0.01 : f64, ternary = 0.04 : f64, binary = 0.06 : f64}>,
    #qb.sensitivity<layer = 1, module = ffn, losses = {i8 = 0.01 : f64, ternary = 0.2 : f64, binary = 0.25 : f64}>]} {
func.func @pruned_ffn(%h0: tensor<2x8x16xf32>, %mask: tensor<2x8xi32>, %wq0: tensor<16x16xf32>, %bq0: tensor<16xf32>, %wk0: tensor<16x16xf32>, %bk0: tensor<16xf32>, %wv0: tensor<16x16xf32>, %bv0: tensor<16xf32>, %wo0: tensor<16x16xf32>, %bo0: tensor<16xf32>, %g10: tensor<16xf32>, %b10: tensor<16xf32>, %bi0: tensor<64xf32>, %bf0: tensor<16xf32>, %g20: tensor<16xf32>, %b20: tensor<16xf32>, %wq1: tensor<16x16xf32>, %bq1: tensor<16xf32>, %wk1: tensor<16x16xf32>, %bk1: tensor<16xf32>, %wv1: tensor<16x16xf32>, %bv1: tensor<16xf32>, %wo1: tensor<16x16xf32>, %bo1: tensor<16xf32>, %g11: tensor<16xf32>, %b11: tensor<16xf32>, %wi1: tensor<64x16xf32>, %bi1: tensor<64xf32>, %wf1: tensor<16x64xf32>, %bf1: tensor<16xf32>, %g21: tensor<16xf32>, %b21: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %h1 = qb.encoder_layer layer 0 (%h0, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %x, %wq0 bias(%bq0) role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %k = qb.linear %x, %wk0 bias(%bk0) role<key> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %v = qb.linear %x, %wv0 bias(%bv0) role<value> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %c = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
    %o = qb.linear %c, %wo0 bias(%bo0) role<attention_output> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %o, %x : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g10, %b10 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %wi0 = arith.constant dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<64x16xf32>
    %wf0 = arith.constant dense<[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<16x64xf32>
    %i = qb.linear %a, %wi0 bias(%bi0) role<intermediate> : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %g = qb.gelu %i : tensor<2x8x64xf32>
    %f = qb.linear %g, %wf0 bias(%bf0) role<output> : (tensor<2x8x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %f, %a : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g20, %b20 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  }
  %h2 = qb.encoder_layer layer 1 (%h1, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %x, %wq1 bias(%bq1) role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %k = qb.linear %x, %wk1 bias(%bk1) role<key> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %v = qb.linear %x, %wv1 bias(%bv1) role<value> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %c = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
    %o = qb.linear %c, %wo1 bias(%bo1) role<attention_output> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %o, %x : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g11, %b11 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %i = qb.linear %a, %wi1 bias(%bi1) role<intermediate> : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %g = qb.gelu %i : tensor<2x8x64xf32>
    %f = qb.linear %g, %wf1 bias(%bf1) role<output> : (tensor<2x8x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %f, %a : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g21, %b21 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  }
  return %h2 : tensor<2x8x16xf32>
}
}

//--- three_layers.mlir
module {
func.func @three_layers(%h0: tensor<2x8x16xf32>, %mask: tensor<2x8xi32>, %wq0: tensor<16x16xf32>, %bq0: tensor<16xf32>, %wk0: tensor<16x16xf32>, %bk0: tensor<16xf32>, %wv0: tensor<16x16xf32>, %bv0: tensor<16xf32>, %wo0: tensor<16x16xf32>, %bo0: tensor<16xf32>, %g10: tensor<16xf32>, %b10: tensor<16xf32>, %wi0: tensor<64x16xf32>, %bi0: tensor<64xf32>, %wf0: tensor<16x64xf32>, %bf0: tensor<16xf32>, %g20: tensor<16xf32>, %b20: tensor<16xf32>, %wq1: tensor<16x16xf32>, %bq1: tensor<16xf32>, %wk1: tensor<16x16xf32>, %bk1: tensor<16xf32>, %wv1: tensor<16x16xf32>, %bv1: tensor<16xf32>, %wo1: tensor<16x16xf32>, %bo1: tensor<16xf32>, %g11: tensor<16xf32>, %b11: tensor<16xf32>, %wi1: tensor<64x16xf32>, %bi1: tensor<64xf32>, %wf1: tensor<16x64xf32>, %bf1: tensor<16xf32>, %g21: tensor<16xf32>, %b21: tensor<16xf32>, %wq2: tensor<16x16xf32>, %bq2: tensor<16xf32>, %wk2: tensor<16x16xf32>, %bk2: tensor<16xf32>, %wv2: tensor<16x16xf32>, %bv2: tensor<16xf32>, %wo2: tensor<16x16xf32>, %bo2: tensor<16xf32>, %g12: tensor<16xf32>, %b12: tensor<16xf32>, %wi2: tensor<64x16xf32>, %bi2: tensor<64xf32>, %wf2: tensor<16x64xf32>, %bf2: tensor<16xf32>, %g22: tensor<16xf32>, %b22: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %h1 = qb.encoder_layer layer 0 (%h0, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %x, %wq0 bias(%bq0) role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %k = qb.linear %x, %wk0 bias(%bk0) role<key> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %v = qb.linear %x, %wv0 bias(%bv0) role<value> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %c = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
    %o = qb.linear %c, %wo0 bias(%bo0) role<attention_output> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %o, %x : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g10, %b10 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %i = qb.linear %a, %wi0 bias(%bi0) role<intermediate> : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %g = qb.gelu %i : tensor<2x8x64xf32>
    %f = qb.linear %g, %wf0 bias(%bf0) role<output> : (tensor<2x8x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %f, %a : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g20, %b20 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  }
  %h2 = qb.encoder_layer layer 1 (%h1, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %x, %wq1 bias(%bq1) role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %k = qb.linear %x, %wk1 bias(%bk1) role<key> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %v = qb.linear %x, %wv1 bias(%bv1) role<value> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %c = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
    %o = qb.linear %c, %wo1 bias(%bo1) role<attention_output> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %o, %x : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g11, %b11 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %i = qb.linear %a, %wi1 bias(%bi1) role<intermediate> : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %g = qb.gelu %i : tensor<2x8x64xf32>
    %f = qb.linear %g, %wf1 bias(%bf1) role<output> : (tensor<2x8x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %f, %a : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g21, %b21 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  }
  %h3 = qb.encoder_layer layer 2 (%h2, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %x, %wq2 bias(%bq2) role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %k = qb.linear %x, %wk2 bias(%bk2) role<key> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %v = qb.linear %x, %wv2 bias(%bv2) role<value> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %c = qb.attention %q, %k, %v mask(%m) {num_heads = 2 : i64, scale = 0.35355339 : f32} : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
    %o = qb.linear %c, %wo2 bias(%bo2) role<attention_output> : (tensor<2x8x16xf32>, tensor<16x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %o, %x : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g12, %b12 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %i = qb.linear %a, %wi2 bias(%bi2) role<intermediate> : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %g = qb.gelu %i : tensor<2x8x64xf32>
    %f = qb.linear %g, %wf2 bias(%bf2) role<output> : (tensor<2x8x64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
    %r = qb.add %f, %a : tensor<2x8x16xf32>
    %n = qb.layer_norm %r, %g22, %b22 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  }
  return %h3 : tensor<2x8x16xf32>
}
}

//--- bad_entry.mlir
module attributes {qb.sensitivity = [
    #qb.sensitivity<layer = 0, module = attention, losses = {i8 = 0.1 : f64}>,
    #qb.sensitivity<layer = 0, module = mlp, losses = {i8 = 0.1 : f64}>]} {
func.func @f(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>, %w: tensor<16x16xf32>) -> tensor<2x8x16xf32> {
  %0 = qb.encoder_layer layer 0 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    %q = qb.linear %h, %w role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    qb.yield %q : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    qb.yield %a : tensor<2x8x16xf32>
  }
  return %0 : tensor<2x8x16xf32>
}
}

//--- role_mismatch.mlir
func.func @f(%x: tensor<2x8x16xf32>, %m: tensor<2x8xi32>, %w: tensor<16x16xf32>) -> tensor<2x8x16xf32> {
  %0 = qb.encoder_layer layer 0 (%x, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    qb.yield %h : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %q = qb.linear %a, %w role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    qb.yield %q : tensor<2x8x16xf32>
  }
  return %0 : tensor<2x8x16xf32>
}

//--- no_layers.mlir
func.func @f(%x: tensor<2x16xf32>, %w: tensor<4x16xf32>) -> tensor<2x4xf32> {
  %0 = qb.linear %x, %w role<classifier> : (tensor<2x16xf32>, tensor<4x16xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

//--- with_embedding.mlir
module attributes {qb.sensitivity = [
    #qb.sensitivity<layer = 0, module = attention, losses = {i8 = 0.01 : f64, binary = 0.5 : f64}>]} {
func.func @f(%ids: tensor<2x8xi32>, %m: tensor<2x8xi32>, %words: tensor<100x16xf32>,
             %pos: tensor<8x16xf32>, %types: tensor<2x16xf32>, %w: tensor<16x16xf32>) -> tensor<2x8x16xf32> {
  %e = qb.embedding %ids, %ids words(%words) positions(%pos) token_types(%types)
      : (tensor<2x8xi32>, tensor<2x8xi32>, tensor<100x16xf32>, tensor<8x16xf32>, tensor<2x16xf32>) -> tensor<2x8x16xf32>
  %0 = qb.encoder_layer layer 0 (%e, %m) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %mm: tensor<2x8xi32>):
    %q = qb.linear %h, %w role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    qb.yield %q : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    qb.yield %a : tensor<2x8x16xf32>
  }
  return %0 : tensor<2x8x16xf32>
}
}

//--- sensitivity.json
{"format_version": 1, "metric": "dev_loss_increase", "baseline_loss": 0.5,
 "modules": [
  {"layer": 0, "module": "attention", "params": 1024, "sensitivity": {"i8": 0.03, "binary": 0.9}},
  {"layer": 0, "module": "ffn", "params": 2048, "sensitivity": {"i8": 0.03, "binary": 0.3}},
  {"layer": 1, "module": "attention", "params": 1024, "sensitivity": {"i8": 0.02, "binary": 0.6}},
  {"layer": 1, "module": "ffn", "params": 2048, "sensitivity": {"i8": 0.02, "binary": 0.2}},
  {"layer": 2, "module": "attention", "params": 1024, "sensitivity": {"i8": 0.01, "binary": 0.3}},
  {"layer": 2, "module": "ffn", "params": 2048, "sensitivity": {"i8": 0.01, "binary": 0.01}}],
 "parameter_counts": {"embeddings": 0, "encoder": 9840, "head": 0, "total": 9840}}
