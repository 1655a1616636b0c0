// quant-bert-translate --import-bundle on small checkpoints and bundles
// written by Inputs/make_bundle.py (Hugging Face layout, random weights).
//
// A float checkpoint: embeddings, one qb.encoder_layer per layer with the
// unfused attention chain, pooler and classifier; weights as dense_resource.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_bundle.py %t/float --layers 2 --hidden 32 --heads 2 --labels 3
// RUN: quant-bert-translate --import-bundle %t/float | FileCheck %s --check-prefix=FLOAT
// FLOAT: module attributes {qb.model = #qb.model<num_labels = 3, vocab_size = 50, max_positions = 16, type_vocab_size = 2, labels = ["label_0", "label_1", "label_2"]>}
// FLOAT: func.func @forward(%{{.*}}: tensor<?x?xi32> {qb.name = "input_ids"}, %{{.*}}: tensor<?x?xi32> {qb.name = "token_type_ids"}, %{{.*}}: tensor<?x?xi32> {qb.name = "attention_mask"}) -> tensor<?x3xf32>
// FLOAT: arith.constant dense_resource<bert.embeddings.word_embeddings.weight> : tensor<50x32xf32>
// FLOAT: qb.embedding
// FLOAT: qb.layer_norm
// FLOAT: qb.encoder_layer layer 0
// FLOAT-COUNT-3: role<{{query|key|value}}>
// FLOAT: qb.split_heads %{{.*}} {num_heads = 2 : i64} : tensor<?x?x32xf32> -> tensor<?x2x?x16xf32>
// FLOAT: qb.batch_matmul {{.*}} transpose_rhs
// FLOAT: qb.scale %{{.*}} by 2.500000e-01
// FLOAT: qb.attention_mask
// FLOAT: qb.softmax
// FLOAT: qb.merge_heads
// FLOAT: role<attention_output>
// FLOAT: } ffn {
// FLOAT: role<intermediate>
// FLOAT: qb.gelu
// FLOAT: role<output>
// FLOAT: qb.encoder_layer layer 1
// FLOAT: tensor.extract_slice %{{.*}}[0, 0, 0] [%{{.*}}, 1, 32] [1, 1, 1] : tensor<?x?x32xf32> to tensor<?x32xf32>
// FLOAT: role<pooler>
// FLOAT: math.tanh
// FLOAT: qb.linear {{.*}} role<classifier> : (tensor<?x32xf32>, tensor<3x32xf32>, tensor<3xf32>) -> tensor<?x3xf32>
// FLOAT-NOT: precision<
// FLOAT: dialect_resources
//
// The imported float model goes through qb-lower-to-llvm to LLVM IR.
// RUN: quant-bert-translate --import-bundle %t/float -o %t/float.mlir
// RUN: quant-bert-opt %t/float.mlir -qb-lower-to-llvm | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVM
// LLVM: define { ptr, ptr, i64, [2 x i64], [2 x i64] } @forward(
//
// Without id2label in config.json, qb.model has no label names.
// RUN: %python %S/Inputs/make_bundle.py %t/nolabels --layers 1 --id2label none
// RUN: quant-bert-translate --import-bundle %t/nolabels | FileCheck %s --check-prefix=NOLABELS
// NOLABELS: module attributes {qb.model = #qb.model<num_labels = 3, vocab_size = 50, max_positions = 16, type_vocab_size = 2>}
//
// Bytecode output reads back to the same module.
// RUN: quant-bert-translate --import-bundle %t/float --emit-bytecode -o %t/float.mlirbc
// RUN: quant-bert-opt %t/float.mlirbc | FileCheck %s --check-prefix=BYTECODE
// BYTECODE: qb.encoder_layer layer 1
//
// A SensiMix bundle: codes behind qb.dequantize, quant.json's precision,
// quantizer and input scale on each linear, binary weights unpacked to +-1
// codes, sensitivity.json as the qb.sensitivity module attribute.
// RUN: %python %S/Inputs/make_bundle.py %t/sensimix --quant sensimix --sensitivity
// RUN: quant-bert-translate --import-bundle %t/sensimix | FileCheck %s --check-prefix=SENSIMIX
// SENSIMIX: qb.sensitivity = [#qb.sensitivity<layer = 0, module = attention, losses = {binary = 5.000000e-01 : f64, i8 = 1.000000e-02 : f64}>
// SENSIMIX: qb.encoder_layer layer 0
// SENSIMIX: %[[CODES:.*]] = arith.constant dense_resource<bert.encoder.layer.0.attention.self.query.weight> : tensor<32x32xi8>
// SENSIMIX: %[[W:.*]] = qb.dequantize %[[CODES]] {scale = array<f32: {{.*}}>} : tensor<32x32xi8> -> tensor<32x32xf32>
// SENSIMIX: qb.linear %{{.*}}, %[[W]] bias(%{{.*}}) precision<i8> quantizer<symmetric_ema> role<query> {input_scale = 5.000000e-02 : f32}
// SENSIMIX: qb.encoder_layer layer 1
// SENSIMIX: } ffn {
// SENSIMIX: %[[BITS:.*]] = arith.constant dense_resource<bert.encoder.layer.1.intermediate.dense.weight> : tensor<64x32xi8>
// SENSIMIX: %[[B:.*]] = qb.dequantize %[[BITS]] {scale = array<f32: 1.000000e+00>}
// SENSIMIX: qb.linear %{{.*}}, %[[B]] bias(%{{.*}}) precision<binary> quantizer<binary_sign> role<intermediate>
//
// Materialized, layer 1's FFN runs on packed bits and the rest on int8.
// RUN: quant-bert-translate --import-bundle %t/sensimix | quant-bert-opt -qb-materialize-quant | FileCheck %s --check-prefix=MATERIALIZED
// MATERIALIZED: qb.encoder_layer layer 0
// MATERIALIZED-COUNT-6: qb.int8_linear
// MATERIALIZED: qb.encoder_layer layer 1
// MATERIALIZED-COUNT-4: qb.int8_linear
// MATERIALIZED: qb.bitpack %{{.*}} : tensor<?x?x32xf32> -> tensor<?x?x1xi64>
// MATERIALIZED: qb.binary_linear {{.*}} {in_features = 32 : i64}
// MATERIALIZED: qb.bitpack %{{.*}} : tensor<?x?x64xf32> -> tensor<?x?x1xi64>
// MATERIALIZED: qb.binary_linear {{.*}} {in_features = 64 : i64}
//
// A post-training-quantized bundle (quant-bert-train quantize, static):
// per-channel weight scales on axis 0, each linear's calibrated input
// scale from quant.json, both embedding tables int8 per row.
// RUN: %python %S/Inputs/make_bundle.py %t/ptq --quant ptq
// RUN: quant-bert-translate --import-bundle %t/ptq | FileCheck %s --check-prefix=PTQ
// PTQ: %[[WORDS:.*]] = qb.dequantize %{{.*}} {axis = 0 : i64, scale = array<f32: {{.*}}>} : tensor<50x32xi8> -> tensor<50x32xf32>
// PTQ: %[[POS:.*]] = qb.dequantize %{{.*}} {axis = 0 : i64, scale = array<f32: {{.*}}>} : tensor<16x32xi8> -> tensor<16x32xf32>
// PTQ: qb.embedding {{.*}} words(%[[WORDS]]) positions(%[[POS]]) {{.*}} precision<i8>
// PTQ: qb.encoder_layer layer 0
// PTQ: qb.dequantize %{{.*}} {axis = 0 : i64, scale = array<f32: {{.*}}>} : tensor<32x32xi8> -> tensor<32x32xf32>
// PTQ: precision<i8> quantizer<symmetric_ema> role<query> {input_scale = 3.125000e-02 : f32}
// PTQ: precision<i8> quantizer<symmetric_ema> role<key> {input_scale = 3.906250e-02 : f32}
// PTQ: precision<i8> quantizer<symmetric_ema> role<value> {input_scale = 4.687500e-02 : f32}
// PTQ: qb.encoder_layer layer 1
// PTQ: precision<i8> quantizer<symmetric_ema> role<output> {input_scale = 0.1171875 : f32}
// PTQ: role<pooler>
// PTQ-NOT: input_scale
// RUN: quant-bert-translate --import-bundle %t/ptq | quant-bert-opt -qb-materialize-quant | FileCheck %s --check-prefix=PTQ-INT8
// PTQ-INT8: qb.encoder_layer layer 0
// PTQ-INT8: qb.quantize %{{.*}} {scale = array<f32: 3.125000e-02>}
// PTQ-INT8: qb.int8_linear {{.*}} weight_scale(%{{.*}}) bias(%{{.*}}) {input_scale = 3.125000e-02 : f32}
// PTQ-INT8-NOT: qb.quantize_rows
//
// Dynamic (quantize --dynamic): no input scales; each linear quantizes its
// input row by row at run time, and the module lowers to LLVM.
// RUN: %python %S/Inputs/make_bundle.py %t/dynamic --quant ptq-dynamic
// RUN: quant-bert-translate --import-bundle %t/dynamic -o %t/dynamic.mlir
// RUN: FileCheck %s --check-prefix=DYN < %t/dynamic.mlir
// DYN: qb.encoder_layer layer 0
// DYN: precision<i8> quantizer<symmetric_ema> role<query> :
// DYN-NOT: input_scale
// RUN: quant-bert-opt %t/dynamic.mlir -qb-materialize-quant | FileCheck %s --check-prefix=DYN-INT8
// DYN-INT8: qb.encoder_layer layer 0
// DYN-INT8: %[[CODES:.*]], %[[SCALES:.*]] = qb.quantize_rows %{{.*}} : tensor<?x?x32xf32> -> tensor<?x?x32xi8>, tensor<?x?xf32>
// DYN-INT8: qb.int8_linear %[[CODES]], %{{.*}} weight_scale(%{{.*}}) input_scales(%[[SCALES]])
// RUN: quant-bert-opt %t/dynamic.mlir -qb-lower-to-llvm | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=DYN-LLVM
// DYN-LLVM: call i32 @qbrt_int8_linear_run_rows(
//
// The sensitivity data drives qb-assign-precision on a float model too.
// RUN: %python %S/Inputs/make_bundle.py %t/measured --sensitivity
// RUN: quant-bert-translate --import-bundle %t/measured | quant-bert-opt -qb-assign-precision="policy=budget budget=0.5" 2>&1 | FileCheck %s --check-prefix=ASSIGN
// ASSIGN: remark: qb-assign-precision: 4 modules
//
// A structurally pruned model (quant-bert-train prune): config.json's
// pruned_heads leaves layer 0 two of its four heads (Q, K, V 16 wide, the
// output projection 16 -> 32), intermediate_sizes gives each layer its own
// FFN width; the module still lowers to LLVM.
// RUN: %python %S/Inputs/make_bundle.py %t/pruned --heads 4 --pruned-heads "0:1,3" --ffn-widths 48,64
// RUN: quant-bert-translate --import-bundle %t/pruned -o %t/pruned.mlir
// RUN: FileCheck %s --check-prefix=PRUNED < %t/pruned.mlir
// PRUNED: qb.encoder_layer layer 0
// PRUNED: qb.linear {{.*}} role<query> : (tensor<?x?x32xf32>, tensor<16x32xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
// PRUNED: qb.split_heads %{{.*}} {num_heads = 2 : i64} : tensor<?x?x16xf32> -> tensor<?x2x?x8xf32>
// PRUNED: qb.merge_heads %{{.*}} : tensor<?x2x?x8xf32> -> tensor<?x?x16xf32>
// PRUNED: qb.linear {{.*}} role<attention_output> : (tensor<?x?x16xf32>, tensor<32x16xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
// PRUNED: qb.linear {{.*}} role<intermediate> : (tensor<?x?x32xf32>, tensor<48x32xf32>, tensor<48xf32>) -> tensor<?x?x48xf32>
// PRUNED: qb.linear {{.*}} role<output> : (tensor<?x?x48xf32>, tensor<32x48xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
// PRUNED: qb.encoder_layer layer 1
// PRUNED: qb.split_heads %{{.*}} {num_heads = 4 : i64} : tensor<?x?x32xf32> -> tensor<?x4x?x8xf32>
// PRUNED: role<intermediate> : (tensor<?x?x32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// RUN: quant-bert-opt %t/pruned.mlir -qb-lower-to-llvm | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVM
//
// Pruned and SensiMix together: layer 1's binary FFN of 40 neurons packs its
// 40 activations into one word; the int8 attention of layer 0 is 16 wide.
// RUN: %python %S/Inputs/make_bundle.py %t/pruned-sensimix --quant sensimix --heads 4 --pruned-heads "0:0,2;1:3" --ffn-widths 64,40
// RUN: quant-bert-translate --import-bundle %t/pruned-sensimix | quant-bert-opt -qb-materialize-quant -o %t/pruned-sensimix.mlir
// RUN: FileCheck %s --check-prefix=PRUNED-SENSIMIX < %t/pruned-sensimix.mlir
// PRUNED-SENSIMIX: qb.encoder_layer layer 0
// PRUNED-SENSIMIX: qb.int8_linear {{.*}} -> tensor<?x?x16xf32>
// PRUNED-SENSIMIX: qb.encoder_layer layer 1
// PRUNED-SENSIMIX: qb.int8_linear {{.*}} -> tensor<?x?x24xf32>
// PRUNED-SENSIMIX: qb.bitpack %{{.*}} : tensor<?x?x40xf32> -> tensor<?x?x1xi64>
// PRUNED-SENSIMIX: qb.binary_linear {{.*}} {in_features = 40 : i64}
// RUN: quant-bert-opt %t/pruned-sensimix.mlir -qb-lower-to-llvm | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVM
//
// Low-rank factorized linears (quant-bert-train factorize): each is two
// qb.linear ops with its role, the down factor without a bias.
// RUN: %python %S/Inputs/make_bundle.py %t/low-rank --low-rank 0.attention.self.query:4,1.intermediate.dense:8
// RUN: quant-bert-translate --import-bundle %t/low-rank -o %t/low-rank.mlir
// RUN: FileCheck %s --check-prefix=LOWRANK < %t/low-rank.mlir
// LOWRANK: qb.encoder_layer layer 0
// LOWRANK: %[[Q1:.*]] = qb.linear %{{.*}}, %{{.*}} role<query> : (tensor<?x?x32xf32>, tensor<4x32xf32>) -> tensor<?x?x4xf32>
// LOWRANK: qb.linear %[[Q1]], %{{.*}} bias(%{{.*}}) role<query> : (tensor<?x?x4xf32>, tensor<32x4xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
// LOWRANK: qb.encoder_layer layer 1
// LOWRANK: role<intermediate> : (tensor<?x?x32xf32>, tensor<8x32xf32>) -> tensor<?x?x8xf32>
// LOWRANK: role<intermediate> : (tensor<?x?x8xf32>, tensor<64x8xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// RUN: quant-bert-opt %t/low-rank.mlir -qb-lower-to-llvm | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVM
//
// Low-rank, pruned and int8 together: each factor an int8 linear with its
// own input scale; layer 0's query factor reads the layer input with key
// and value, so qb-merge-int8-linears makes one matmul of 4 + 16 + 16 rows.
// RUN: %python %S/Inputs/make_bundle.py %t/low-rank-int8 --quant q8bert --heads 4 --pruned-heads "0:1,3" --ffn-widths 48,64 --low-rank 0.attention.self.query:4,0.output.dense:8
// RUN: quant-bert-translate --import-bundle %t/low-rank-int8 | quant-bert-opt -qb-materialize-quant -cse -qb-merge-int8-linears -o %t/low-rank-int8.mlir
// RUN: FileCheck %s --check-prefix=LOWRANK-INT8 < %t/low-rank-int8.mlir
// LOWRANK-INT8: qb.encoder_layer layer 0
// LOWRANK-INT8: qb.int8_linear {{.*}} : (tensor<?x?x32xi8>, tensor<36x32xi8>, tensor<36xf32>, tensor<36xf32>) -> tensor<?x?x36xf32>
// LOWRANK-INT8: qb.int8_linear {{.*}} : (tensor<?x?x4xi8>, tensor<16x4xi8>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
// LOWRANK-INT8: qb.int8_linear {{.*}} : (tensor<?x?x48xi8>, tensor<8x48xi8>, tensor<8xf32>) -> tensor<?x?x8xf32>
// LOWRANK-INT8: qb.int8_linear {{.*}} : (tensor<?x?x8xi8>, tensor<32x8xi8>, tensor<32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
// RUN: quant-bert-opt %t/low-rank-int8.mlir -qb-lower-to-llvm | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVM
//
// A config that prunes heads the tensors still have is a shape error naming
// the tensor.
// RUN: %python %S/Inputs/make_bundle.py %t/unpruned --heads 4
// RUN: sed -i 's/"num_labels"/"pruned_heads": {"1": [2]}, "num_labels"/' %t/unpruned/config.json
// RUN: not quant-bert-translate --import-bundle %t/unpruned 2>&1 | FileCheck %s --check-prefix=UNPRUNED
// UNPRUNED: error: bundle '{{.*}}unpruned': model.safetensors: tensor 'bert.encoder.layer.1.attention.self.query.weight' has shape [32, 32], expected [24, 32]
// RUN: sed -i 's/"pruned_heads": {"1": \[2\]}/"pruned_heads": {"1": [0, 1, 2, 3]}/' %t/unpruned/config.json
// RUN: not quant-bert-translate --import-bundle %t/unpruned 2>&1 | FileCheck %s --check-prefix=ALLPRUNED
// ALLPRUNED: config.json: field 'pruned_heads["1"]' prunes every head of the layer; quant-bert needs at least one
//
// Bad input: an error naming the file, tensor or field, exit status 1.
// RUN: %python %S/Inputs/make_bundle.py %t/missing --break missing-tensor
// RUN: not quant-bert-translate --import-bundle %t/missing 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: bundle '{{.*}}missing': model.safetensors: missing tensor 'bert.encoder.layer.1.attention.self.key.weight'
// RUN: %python %S/Inputs/make_bundle.py %t/shape --break wrong-shape
// RUN: not quant-bert-translate --import-bundle %t/shape 2>&1 | FileCheck %s --check-prefix=SHAPE
// SHAPE: error: bundle '{{.*}}shape': model.safetensors: tensor 'bert.encoder.layer.0.output.dense.bias' has shape [33], expected [32]
// RUN: %python %S/Inputs/make_bundle.py %t/config --break bad-config
// RUN: not quant-bert-translate --import-bundle %t/config 2>&1 | FileCheck %s --check-prefix=CONFIG
// CONFIG: config.json: field 'hidden_size' (32) must be divisible by 'num_attention_heads' (5)
// RUN: %python %S/Inputs/make_bundle.py %t/truncated --break truncated
// RUN: not quant-bert-translate --import-bundle %t/truncated 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// TRUNCATED: model.safetensors: tensor '{{.*}}': data_offsets [{{[0-9]+}}, {{[0-9]+}}] run past the end of the data buffer
// RUN: not quant-bert-translate --import-bundle %t/does-not-exist 2>&1 | FileCheck %s --check-prefix=NODIR
// NODIR: error: bundle '{{.*}}does-not-exist': not a directory
// RUN: mkdir -p %t/empty && not quant-bert-translate --import-bundle %t/empty 2>&1 | FileCheck %s --check-prefix=EMPTY
// EMPTY: error: bundle '{{.*}}empty': {{.*}}config.json: cannot open: No such file or directory
