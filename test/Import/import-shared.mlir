// Weight-shared bundles (docs/formats.md: num_hidden_groups, embedding_size):
// each layer runs its group's tensors, each tensor is one dense_resource
// blob however many layers use it, and the lowered module holds one global
// per stored tensor, float or quantized.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_bundle.py %t/shared --layers 4 --groups 2 --embedding-size 16
// RUN: quant-bert-translate --import-bundle %t/shared -o %t/shared.mlir
// RUN: FileCheck %s --check-prefix=SHARED < %t/shared.mlir
// SHARED: qb.embedding {{.*}} : (tensor<?x?xi32>, tensor<?x?xi32>, tensor<50x16xf32>, tensor<16x16xf32>, tensor<2x16xf32>) -> tensor<?x?x16xf32>
// SHARED: qb.layer_norm %{{.*}} : tensor<?x?x16xf32>, tensor<16xf32>, tensor<16xf32>
// SHARED: arith.constant dense_resource<bert.encoder.embedding_hidden_mapping_in.weight> : tensor<32x16xf32>
// SHARED: qb.linear %{{.*}}, %{{.*}} bias(%{{.*}}) : (tensor<?x?x16xf32>, tensor<32x16xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
// SHARED: qb.encoder_layer layer 0 ({{.*}}) {qb.layer_group = 0 : i64}
// SHARED: dense_resource<bert.encoder.layer.0.attention.self.query.weight>
// SHARED: qb.encoder_layer layer 1 ({{.*}}) {qb.layer_group = 0 : i64}
// SHARED-NOT: dense_resource<bert.encoder.layer.1.
// SHARED: dense_resource<bert.encoder.layer.0.attention.self.query.weight>
// SHARED-NOT: dense_resource<bert.encoder.layer.1.
// SHARED: dense_resource<bert.encoder.layer.0.output.LayerNorm.bias>
// SHARED-NOT: dense_resource<bert.encoder.layer.1.
// SHARED: qb.encoder_layer layer 2 ({{.*}}) {qb.layer_group = 1 : i64}
// SHARED-NOT: dense_resource<bert.encoder.layer.0.
// SHARED: dense_resource<bert.encoder.layer.1.attention.self.query.weight>
// SHARED: qb.encoder_layer layer 3
// SHARED-NOT: dense_resource<bert.encoder.layer.0.
// SHARED: dense_resource<bert.encoder.layer.1.output.LayerNorm.bias>
// One blob per tensor: no renamed second copy (the blob manager would
// append a suffix).
// SHARED: dialect_resources
// SHARED-NOT: bert.encoder.layer.0.attention.self.query.weight{{[^:]+}}: "0x
// SHARED: bert.encoder.layer.0.attention.self.query.weight: "0x
// SHARED-NOT: bert.encoder.layer.0.attention.self.query.weight{{.*}}: "0x
// SHARED: bert.encoder.layer.1.attention.self.query.weight: "0x
// SHARED-NOT: bert.encoder.layer.1.attention.self.query.weight{{.*}}: "0x

// RUN: quant-bert-opt %t/shared.mlir -qb-lower-to-llvm | FileCheck %s --check-prefix=SHARED-LLVM
// SHARED-LLVM-COUNT-1: llvm.mlir.global private constant @{{.*}}(dense_resource<bert.encoder.layer.0.attention.self.query.weight>
// SHARED-LLVM-NOT: dense_resource<bert.encoder.layer.0.attention.self.query.weight>

// Quantized (SensiMix: group 0 int8, group 1 int8 attention + binary FFN):
// qb-materialize-quant's codes are uniqued attributes, so the merged int8
// Q/K/V weights of the two groups are two globals for four layers.
// RUN: %python %S/Inputs/make_bundle.py %t/shared-sensimix --layers 4 --groups 2 --quant sensimix
// RUN: quant-bert-translate --import-bundle %t/shared-sensimix | quant-bert-opt -qb-lower-to-llvm | FileCheck %s --check-prefix=SHARED-INT8
// SHARED-INT8-COUNT-2: llvm.mlir.global private constant @{{.*}} : !llvm.array<96 x array<32 x i8>>
// SHARED-INT8-NOT: : !llvm.array<96 x array<32 x i8>>

// Precision assignment treats a group as one unit in every layer that runs
// it, with the group's sensitivity: SensiMix with one MP group makes the FFN
// of layers 2 and 3 (group 1) binary, and counts each tensor once.
// RUN: %python %S/Inputs/make_bundle.py %t/shared-measured --layers 4 --groups 2 --sensitivity
// RUN: quant-bert-translate --import-bundle %t/shared-measured | quant-bert-opt -qb-assign-precision="policy=sensimix mp-layers=1" 2>%t/assign.txt | FileCheck %s --check-prefix=ASSIGN
// RUN: FileCheck %s --check-prefix=ASSIGN-REMARKS < %t/assign.txt
// ASSIGN: qb.encoder_layer layer 0
// ASSIGN: precision<i8> {{.*}} role<intermediate>
// ASSIGN: qb.encoder_layer layer 1
// ASSIGN: precision<i8> {{.*}} role<intermediate>
// ASSIGN: qb.encoder_layer layer 2
// ASSIGN: precision<binary> {{.*}} role<intermediate>
// ASSIGN: qb.encoder_layer layer 3
// ASSIGN: precision<binary> {{.*}} role<intermediate>
// ASSIGN-REMARKS: remark: layer group 0 attention (layers 0, 1): i8
// ASSIGN-REMARKS: remark: layer group 0 ffn (layers 0, 1): i8
// ASSIGN-REMARKS: remark: layer group 1 attention (layers 2, 3): i8
// ASSIGN-REMARKS: remark: layer group 1 ffn (layers 2, 3): binary
// ASSIGN-REMARKS-NOT: remark: layer {{[0-9]}} {{attention|ffn}}:
// ASSIGN-REMARKS: SensiMix with 1 MP layers of 2

// A sensitivity report of more layers than the shared model stores (one
// measured on the unshared model) is refused.
// RUN: %python %S/Inputs/make_bundle.py %t/wrong-report --layers 4 --sensitivity
// RUN: %python -c "import json, sys; p = sys.argv[1]; c = json.load(open(p)); c['num_hidden_groups'] = 2; json.dump(c, open(p, 'w'))" %t/wrong-report/config.json
// RUN: not quant-bert-translate --import-bundle %t/wrong-report 2>&1 | FileCheck %s --check-prefix=REPORT
// REPORT: sensitivity.json measures layer 2, but the weight-shared model stores 2 layer groups (measure the shared model)

// A shared config over a checkpoint with every layer's tensors: refused,
// not silently run on the first groups' layers.
// RUN: rm %t/wrong-report/sensitivity.json
// RUN: not quant-bert-translate --import-bundle %t/wrong-report 2>&1 | FileCheck %s --check-prefix=UNSHARED
// UNSHARED: model.safetensors has tensor 'bert.encoder.layer.{{[23]}}.{{.*}}', but config.json's num_hidden_groups (2) stores layers 0 to 1

// A shared bundle missing one of its groups' tensors: the error names it.
// RUN: %python %S/Inputs/make_bundle.py %t/bad-groups --layers 4 --groups 2 --break missing-tensor
// RUN: not quant-bert-translate --import-bundle %t/bad-groups 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: model.safetensors: missing tensor 'bert.encoder.layer.1.attention.self.key.weight'
