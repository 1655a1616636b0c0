// One compiled model run by 4 threads at once (Inputs/concurrent_callers.c)
// gives every caller the logits its inputs give when run alone, bit for
// bit: qbrt_model_run is thread-safe and a context serves several threads
// (runtime.h). The model mixes int8 linears (runtime plans shared by the
// callers), binary FFNs, int8 embeddings and attention. scripts/test
// --sanitize=thread runs this test under ThreadSanitizer.
// REQUIRES: runtime
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/bundle --quant sensimix --mp-layers 1 --int8-embeddings --layers 2 --hidden 64 --heads 4 --intermediate 256 --positions 64 --vocab 300
// RUN: quant-bert-compile %t/bundle -o %t/model.o --header %t/model.h --name model
// RUN: %cc %cflags -O1 -pthread -I%t -I%runtime_include -DMODEL_HEADER='"model.h"' -DMODEL=model %S/Inputs/concurrent_callers.c %t/model.o -L%runtime_lib -lquantbert_rt -lm -Wl,-rpath,%runtime_lib -o %t/concurrent_callers
// RUN: %t/concurrent_callers | FileCheck %s
// CHECK: ok: 4 serial runs
// CHECK-NEXT: ok: 4 threads x 3 concurrent runs: 0 failed, 0 differ from the serial logits
