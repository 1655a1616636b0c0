// quant-bert-compile end to end: a SensiMix bundle and a float checkpoint
// (written by make_bundle.py) become an object and a header, which a C
// program links with libquantbert_rt; the program runs a padded batch and
// every kind of bad input (Inputs/run_model.c).
// REQUIRES: runtime
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/sensimix --quant sensimix
// RUN: quant-bert-compile %t/sensimix -o %t/tiny.o --header %t/tiny.h | FileCheck %s --check-prefix=SUMMARY
// SUMMARY: quant-bert-compile: tiny (3 labels, max sequence 16, 10 int8 linears in 6 runtime matmuls)
// SUMMARY-NEXT: layer 0: attention i8 ffn i8
// SUMMARY-NEXT: layer 1: attention i8 ffn binary
// SUMMARY-NEXT: weight bytes: binary 768 f32 13184 i8 12288
// SUMMARY-NEXT: object {{.*}}tiny.o: {{[0-9]+}} bytes
// RUN: FileCheck %s --check-prefix=HEADER < %t/tiny.h
// HEADER: #include <quantbert/runtime.h>
// HEADER: tiny_NUM_LABELS = 3,
// HEADER: tiny_VOCAB_SIZE = 50,
// HEADER: tiny_MAX_SEQ_LEN = 16
// HEADER: static const char *const tiny_LABELS[tiny_NUM_LABELS] = {
// HEADER-NEXT: "label_0",
// HEADER-NEXT: "label_1",
// HEADER-NEXT: "label_2",
// HEADER-NEXT: };
// HEADER: extern const qbrt_model_descriptor tiny_descriptor;
// HEADER: static inline qb_status tiny_create(qbrt_context *ctx, tiny_model **out) {
// HEADER: static inline qb_status tiny_run(tiny_model *m, const int32_t *input_ids,
// HEADER: static inline void tiny_destroy(tiny_model *m)
// RUN: %cc %cflags -O1 -I%t -I%runtime_include -DMODEL_HEADER='"tiny.h"' -DMODEL=tiny %S/Inputs/run_model.c %t/tiny.o -L%runtime_lib -lquantbert_rt -lm -Wl,-rpath,%runtime_lib -o %t/run_tiny
// RUN: %t/run_tiny | FileCheck %s --check-prefix=EXEC
// EXEC-NOT: FAILED
// EXEC: ok: create
// EXEC: ok: run batch of 2
// EXEC: ok: logits are finite
// EXEC: ok: padding does not change the logits
// EXEC: ok: token id outside the vocabulary
// EXEC-NEXT: qbrt_model_run: input_ids[3] = 50 is outside [0, 50)
// EXEC: ok: negative token type id
// EXEC-NEXT: qbrt_model_run: token_type_ids[0] = -1 is outside [0, 2)
// EXEC: ok: mask value 2
// EXEC: ok: sequence too long
// EXEC-NEXT: qbrt_model_run: seq_len 17 exceeds the model's 16 positions
// EXEC: ok: null input_ids
// EXEC: ok: batch 0
// EXEC: ok: null attention_mask
// EXEC-NEXT: qbrt_model_run: attention_mask is NULL
// EXEC: ok: null token_type_ids
// EXEC: ok: null logits
// EXEC: ok: negative seq_len
// EXEC-NEXT: qbrt_model_run: seq_len
// EXEC: ok: negative batch
// EXEC: ok: batch * seq_len overflows
// EXEC-NEXT: qbrt_model_run:
// EXEC: ok: null model
// EXEC: ok: failed runs leave the logits untouched
// EXEC: ok: create without a context
// EXEC: ok: create without out
// EXEC: 0 failures
//
// A float checkpoint: no int8 plans, the same C API. Its config.json has no
// id2label: the labels are transformers' defaults.
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/float --id2label none
// RUN: quant-bert-compile %t/float -o %t/plain.o --header %t/plain.h --cpu x86-64-v3 | FileCheck %s --check-prefix=FLOAT
// FLOAT: quant-bert-compile: plain (3 labels, max sequence 16, 0 int8 linears in 0 runtime matmuls)
// FLOAT: layer 1: attention f32 ffn f32
// RUN: FileCheck %s --check-prefix=PLAIN < %t/plain.h
// PLAIN: static const char *const plain_LABELS[plain_NUM_LABELS] = {
// PLAIN-NEXT: "LABEL_0",
// PLAIN-NEXT: "LABEL_1",
// PLAIN-NEXT: "LABEL_2",
// PLAIN-NEXT: };
// RUN: %cc %cflags -O1 -I%t -I%runtime_include -DMODEL_HEADER='"plain.h"' -DMODEL=plain %S/Inputs/run_model.c %t/plain.o -L%runtime_lib -lquantbert_rt -lm -Wl,-rpath,%runtime_lib -o %t/run_plain
// RUN: %t/run_plain | FileCheck %s --check-prefix=EXEC
//
// Label names that need escaping in C: quotes, backslashes, control
// characters, trigraphs, UTF-8 (octal escapes, so a digit after one stays a
// digit). Inputs/check_labels.c compares them with hand-written literals.
// RUN: %python %S/../Import/Inputs/make_bundle.py %t/tricky --layers 1 --labels 5 --id2label tricky
// RUN: quant-bert-compile %t/tricky -o %t/tricky.o --header %t/tricky.h > /dev/null
// RUN: FileCheck %s --check-prefix=TRICKY < %t/tricky.h
// TRICKY: static const char *const tricky_LABELS[tricky_NUM_LABELS] = {
// TRICKY-NEXT: "say \"hi\"",
// TRICKY-NEXT: "back\\slash",
// TRICKY-NEXT: "tab\011and\012newline",
// TRICKY-NEXT: "trigraph \?\?= */",
// TRICKY-NEXT: "na\303\257ve \346\227\245\346\234\2541",
// TRICKY-NEXT: };
// RUN: %cc %cflags -std=c11 -Wall -Wextra -Werror -I%t -I%runtime_include %S/Inputs/check_labels.c %t/tricky.o -L%runtime_lib -lquantbert_rt -lm -Wl,-rpath,%runtime_lib -o %t/check_labels
// RUN: %t/check_labels | FileCheck %s --check-prefix=LABELS
// LABELS: 5 labels ok
