// A compiled model gives the same logits, bit for bit, on 1, 2 and 3
// threads (Inputs/threads_match.c). The model is big enough (hidden 128,
// sequence 128, batch 4) that every kind of parallel loop splits: int8
// linears by rows, the binary FFN by column panels, attention by heads and
// query chunks, LayerNorm, GELU and the other element-wise ops by rows.
// REQUIRES: runtime
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/bundle --quant sensimix --mp-layers 1 --int8-embeddings --layers 2 --hidden 128 --heads 4 --intermediate 512 --positions 128 --vocab 300
// RUN: quant-bert-compile %t/bundle -o %t/mid.o --header %t/mid.h --name mid
// RUN: %cc %cflags -O1 -I%t -I%runtime_include -DMODEL_HEADER='"mid.h"' -DMODEL=mid %S/Inputs/threads_match.c %t/mid.o -L%runtime_lib -lquantbert_rt -lm -Wl,-rpath,%runtime_lib -o %t/threads_match
// RUN: %t/threads_match | FileCheck %s
// CHECK: ok: 1 thread
// CHECK-NEXT: ok: 2 threads give the 1-thread logits bit for bit
// CHECK-NEXT: ok: 3 threads give the 1-thread logits bit for bit
