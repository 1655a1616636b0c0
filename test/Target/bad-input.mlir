// quant-bert-compile on bad input: every case is one clear error line naming
// the file, tensor or field, exit status 1, no crash, and no output files.
// Under scripts/test --sanitize the same cases run with ASan and UBSan.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/good --quant sensimix
//
// Missing input, missing files.
// RUN: not quant-bert-compile %t/does-not-exist -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: quant-bert-compile: error: '{{.*}}does-not-exist' does not exist
// RUN: cp -r %t/good %t/no-config && rm %t/no-config/config.json
// RUN: not quant-bert-compile %t/no-config -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=NOCONFIG
// NOCONFIG: error: bundle '{{.*}}no-config': {{.*}}config.json: cannot open: No such file or directory
// RUN: cp -r %t/good %t/no-weights && rm %t/no-weights/model.safetensors
// RUN: not quant-bert-compile %t/no-weights -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=NOWEIGHTS
// NOWEIGHTS: error: bundle '{{.*}}no-weights': {{.*}}model.safetensors: cannot open: No such file or directory
//
// Corrupt bundles.
// RUN: cp -r %t/good %t/bad-json && echo '{"hidden_size": 32,' > %t/bad-json/config.json
// RUN: not quant-bert-compile %t/bad-json -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=BADJSON
// BADJSON: error: bundle '{{.*}}bad-json': {{.*}}config.json: not valid JSON:
// RUN: cp -r %t/good %t/empty && : > %t/empty/model.safetensors
// RUN: not quant-bert-compile %t/empty -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=EMPTY
// EMPTY: model.safetensors: file is truncated: 0 bytes, need at least 8 for the header length
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/truncated --quant sensimix --break truncated
// RUN: not quant-bert-compile %t/truncated -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// TRUNCATED: model.safetensors: tensor '{{.*}}': data_offsets [{{[0-9]+}}, {{[0-9]+}}] run past the end of the data buffer
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/missing --break missing-tensor
// RUN: not quant-bert-compile %t/missing -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=BROKEN
// BROKEN: missing tensor 'bert.encoder.layer.1.attention.self.key.weight'
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/shape --break wrong-shape
// RUN: not quant-bert-compile %t/shape -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=SHAPE
// SHAPE: tensor 'bert.encoder.layer.0.output.dense.bias' has shape [33], expected [32]
// RUN: cp -r %t/good %t/quant-json && echo '[1, 2' > %t/quant-json/quant.json
// RUN: not quant-bert-compile %t/quant-json -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=QUANTJSON
// QUANTJSON: error: bundle '{{.*}}quant-json': {{.*}}quant.json: not valid JSON:
// RUN: cp -r %t/good %t/precision
// RUN: %python -c "import json, sys; p = sys.argv[1]; q = json.load(open(p)); q['linears']['bert.encoder.layer.0.attention.self.query']['precision'] = 'i4'; json.dump(q, open(p, 'w'))" %t/precision/quant.json
// RUN: not quant-bert-compile %t/precision -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=PRECISION
// PRECISION: quant.json: linears['bert.encoder.layer.0.attention.self.query']: field 'precision' must be one of "f32", "f16", "bf16", "i8", "ternary", "binary", got "i4"
// RUN: cp -r %t/good %t/no-scale
// RUN: %python -c "import json, sys; p = sys.argv[1]; q = json.load(open(p)); del q['linears']['bert.encoder.layer.0.attention.output.dense']['scale']; json.dump(q, open(p, 'w'))" %t/no-scale/quant.json
// RUN: not quant-bert-compile %t/no-scale -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=NOSCALE
// NOSCALE: quant.json: linears['bert.encoder.layer.0.attention.output.dense']: quantizer 'symmetric-ema' needs field 'scale'
//
// Unsupported configurations.
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/heads --break bad-config
// RUN: not quant-bert-compile %t/heads -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=HEADS
// HEADS: config.json: field 'hidden_size' (32) must be divisible by 'num_attention_heads' (5)
// RUN: cp -r %t/good %t/relu && sed -i 's/"gelu"/"relu"/' %t/relu/config.json
// RUN: not quant-bert-compile %t/relu -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=RELU
// RELU: config.json: field 'hidden_act' must be "gelu", "gelu_new" or "gelu_pytorch_tanh" (the activations quant-bert compiles), got "relu"
// RUN: cp -r %t/good %t/relative
// RUN: %python -c "import json, sys; p = sys.argv[1]; c = json.load(open(p)); c['position_embedding_type'] = 'relative_key'; json.dump(c, open(p, 'w'))" %t/relative/config.json
// RUN: not quant-bert-compile %t/relative -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=RELATIVE
// RELATIVE: config.json: field 'position_embedding_type' must be "absolute" (the only kind quant-bert supports), got "relative_key"
// RUN: echo 'func.func @f() { return }' > %t/not-a-model.mlir
// RUN: not quant-bert-compile %t/not-a-model.mlir -o %t/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=NOMODEL
// NOMODEL: is not an imported model (no qb.model attribute or no @forward function
//
// Bad options.
// RUN: not quant-bert-compile %t/good -o %t/9lives.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=NAME
// NAME: quant-bert-compile: error: model name '9lives' is not a C identifier (use --name)
// RUN: not quant-bert-compile %t/good -o %t/x.o --header %t/x.h --cpu pentium9 2>&1 | FileCheck %s --check-prefix=CPU
// CPU: quant-bert-compile: error: --cpu: unknown CPU 'pentium9' for {{.*}} (use host, or an LLVM CPU name such as znver5, skylake-avx512 or x86-64-v3)
// RUN: not quant-bert-compile %t/good -o %t/x.o --header %t/x.h --block-sparse 1.5 2>&1 | FileCheck %s --check-prefix=SPARSE
// RUN: not quant-bert-compile %t/good -o %t/x.o --header %t/x.h --block-sparse half 2>&1 | FileCheck %s --check-prefix=SPARSE
// SPARSE: quant-bert-compile: error: --block-sparse: '{{1.5|half}}' is not a number in [0, 1] or 'off'
// RUN: not quant-bert-compile %t/good -o %t/no-dir/x.o --header %t/x.h 2>&1 | FileCheck %s --check-prefix=OUTDIR
// OUTDIR: quant-bert-compile: error: cannot write '{{.*}}no-dir/x.o': directory '{{.*}}no-dir' does not exist
// RUN: not quant-bert-compile %t/good -o %t/x.o --header %t/no-dir/x.h 2>&1 | FileCheck %s --check-prefix=HEADERDIR
// HEADERDIR: quant-bert-compile: error: cannot write '{{.*}}no-dir/x.h': directory '{{.*}}no-dir' does not exist
// RUN: not quant-bert-compile %t/good -o %t/x.o --header %t/x.h --pipeline 'no-such-pass' 2>&1 | FileCheck %s --check-prefix=PIPELINE
// PIPELINE: quant-bert-compile: error: invalid --pipeline 'no-such-pass'
//
// A pipeline that fails prints its diagnostics and one summary line, not
// the module it failed on: an infeasible budget (the token-type table and
// biases alone exceed 1%) on a float checkpoint is 2 lines, however large
// the model.
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/float --sensitivity
// RUN: not quant-bert-compile %t/float -o %t/x.o --header %t/x.h --pipeline 'qb-assign-precision{budget=0.01}' 2>%t/budget.txt
// RUN: FileCheck %s --check-prefix=BUDGET < %t/budget.txt
// BUDGET: error: qb-assign-precision: budget 1.0% of FP32 ({{[0-9]+}} bytes) is infeasible
// BUDGET-NEXT: quant-bert-compile: error: the pass pipeline failed
// BUDGET-NOT: {{.}}
// RUN: test $(wc -c < %t/budget.txt) -lt 400
//
// None of the failures above wrote an object or a header.
// RUN: not ls %t/x.o %t/x.h %t/9lives.o
