/* threads_match.c: runs a model compiled by quant-bert-compile (MODEL_HEADER,
 * prefix MODEL) on one batch with contexts of 1, 2 and 3 threads. The
 * parallel loops of the generated code (attention heads, binary-linear
 * column panels, rows of the element-wise ops) and the runtime's row split
 * of int8 linears compute every output element in one piece whatever the
 * thread count, so the logits must agree bit for bit. Prints "ok" lines
 * that the lit test checks. */
#include MODEL_HEADER

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define CONST(suffix) CAT(MODEL, suffix)

enum { BATCH = 4, SEQ = CONST(_MAX_SEQ_LEN), LABELS = CONST(_NUM_LABELS) };

static int run(int threads, const int32_t *ids, const int32_t *types,
               const int32_t *mask, float *logits) {
  qbrt_context *ctx = NULL;
  FN(_model) *model = NULL;
  if (qbrt_context_create(threads, &ctx) != QB_OK ||
      FN(_create)(ctx, &model) != QB_OK ||
      FN(_run)(model, ids, types, mask, BATCH, SEQ, logits) != QB_OK) {
    printf("FAILED: %d threads: %s\n", threads, qbrt_last_error(ctx));
    return 1;
  }
  FN(_destroy)(model);
  qbrt_context_destroy(ctx);
  return 0;
}

int main(void) {
  static int32_t ids[BATCH * SEQ], types[BATCH * SEQ], mask[BATCH * SEQ];
  /* Row b keeps SEQ - 9 * b tokens, so padding is exercised too. */
  for (int b = 0; b < BATCH; ++b)
    for (int s = 0; s < SEQ; ++s) {
      int i = b * SEQ + s;
      ids[i] = (i * 7919 + 13) % CONST(_VOCAB_SIZE);
      types[i] = s >= SEQ / 2;
      mask[i] = s < SEQ - 9 * b;
    }
  float reference[BATCH * LABELS];
  if (run(1, ids, types, mask, reference))
    return 1;
  printf("ok: 1 thread\n");
  int failures = 0;
  for (int threads = 2; threads <= 3; ++threads) {
    float logits[BATCH * LABELS];
    if (run(threads, ids, types, mask, logits))
      return 1;
    int same = memcmp(logits, reference, sizeof logits) == 0;
    printf("%s: %d threads give the 1-thread logits bit for bit\n",
           same ? "ok" : "FAILED", threads);
    failures += !same;
  }
  return failures ? 1 : 0;
}
