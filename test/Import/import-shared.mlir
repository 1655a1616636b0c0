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
// SHARED: qb.encoder_layer layer 0
// SHARED: dense_resource<bert.encoder.layer.0.attention.self.query.weight>
// SHARED: qb.encoder_layer layer 1
// SHARED-NOT: dense_resource<bert.encoder.layer.1.
// SHARED: dense_resource<bert.encoder.layer.0.attention.self.query.weight>
// SHARED-NOT: dense_resource<bert.encoder.layer.1.
// SHARED: dense_resource<bert.encoder.layer.0.output.LayerNorm.bias>
// SHARED-NOT: dense_resource<bert.encoder.layer.1.
// SHARED: qb.encoder_layer layer 2
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
// SHARED-LLVM-NOT: dense_resource<bert.encoder.layer.2.

// Quantized (SensiMix: group 0 int8, group 1 int8 attention + binary FFN):
// qb-materialize-quant's codes are uniqued attributes, so the merged int8
// Q/K/V weights of the two groups are two globals for four layers.
// RUN: %python %S/Inputs/make_bundle.py %t/shared-sensimix --layers 4 --groups 2 --quant sensimix
// RUN: quant-bert-translate --import-bundle %t/shared-sensimix | quant-bert-opt -qb-lower-to-llvm | FileCheck %s --check-prefix=SHARED-INT8
// SHARED-INT8-COUNT-2: llvm.mlir.global private constant @{{.*}} : !llvm.array<96 x array<32 x i8>>
// SHARED-INT8-NOT: : !llvm.array<96 x array<32 x i8>>

// A shared bundle missing one of its groups' tensors: the error names it.
// RUN: %python %S/Inputs/make_bundle.py %t/bad-groups --layers 4 --groups 2 --break missing-tensor
// RUN: not quant-bert-translate --import-bundle %t/bad-groups 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: model.safetensors: missing tensor 'bert.encoder.layer.1.attention.self.key.weight'
