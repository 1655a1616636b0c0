/* concurrent_callers.c: one model compiled by quant-bert-compile
 * (MODEL_HEADER, prefix MODEL), created once, run by CALLERS threads at
 * once, each on its own inputs, ROUNDS times; every call's logits must
 * equal, bit for bit, the logits of the same inputs run alone beforehand.
 * runtime.h promises this (qbrt_model_run is thread-safe, a context may be
 * used by several threads at once); scripts/test --sanitize=thread runs it
 * under ThreadSanitizer. Prints "ok" lines that the lit test checks. */
#include MODEL_HEADER

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define CONST(suffix) CAT(MODEL, suffix)

enum {
  CALLERS = 4,
  ROUNDS = 3,
  BATCH = 2,
  SEQ = CONST(_MAX_SEQ_LEN),
  LABELS = CONST(_NUM_LABELS)
};

struct caller {
  FN(_model) * model;
  int32_t ids[BATCH * SEQ], types[BATCH * SEQ], mask[BATCH * SEQ];
  float reference[BATCH * LABELS];
  int mismatches, failures;
};

static void make_inputs(struct caller *c, int seed) {
  for (int b = 0; b < BATCH; ++b)
    for (int s = 0; s < SEQ; ++s) {
      int i = b * SEQ + s;
      c->ids[i] = (i * 7919 + seed * 104729 + 13) % CONST(_VOCAB_SIZE);
      c->types[i] = s >= SEQ / 2;
      c->mask[i] = s < SEQ - 5 * (b + seed);
    }
}

static void *call(void *arg) {
  struct caller *c = arg;
  for (int round = 0; round < ROUNDS; ++round) {
    float logits[BATCH * LABELS];
    if (FN(_run)(c->model, c->ids, c->types, c->mask, BATCH, SEQ, logits) !=
        QB_OK) {
      ++c->failures;
      continue;
    }
    c->mismatches += memcmp(logits, c->reference, sizeof logits) != 0;
  }
  return NULL;
}

int main(void) {
  qbrt_context *ctx = NULL;
  FN(_model) *model = NULL;
  if (qbrt_context_create(2, &ctx) != QB_OK ||
      FN(_create)(ctx, &model) != QB_OK) {
    printf("FAILED: create: %s\n", qbrt_last_error(ctx));
    return 1;
  }
  static struct caller callers[CALLERS];
  for (int t = 0; t < CALLERS; ++t) {
    callers[t].model = model;
    make_inputs(&callers[t], t);
    if (FN(_run)(model, callers[t].ids, callers[t].types, callers[t].mask,
                 BATCH, SEQ, callers[t].reference) != QB_OK) {
      printf("FAILED: serial run %d: %s\n", t, qbrt_last_error(ctx));
      return 1;
    }
  }
  printf("ok: %d serial runs\n", CALLERS);
  pthread_t threads[CALLERS];
  for (int t = 0; t < CALLERS; ++t)
    if (pthread_create(&threads[t], NULL, call, &callers[t]) != 0) {
      printf("FAILED: pthread_create\n");
      return 1;
    }
  int mismatches = 0, failures = 0;
  for (int t = 0; t < CALLERS; ++t) {
    pthread_join(threads[t], NULL);
    mismatches += callers[t].mismatches;
    failures += callers[t].failures;
  }
  printf("%s: %d threads x %d concurrent runs: %d failed, %d differ from the "
         "serial logits\n",
         mismatches || failures ? "FAILED" : "ok", CALLERS, ROUNDS, failures,
         mismatches);
  FN(_destroy)(model);
  qbrt_context_destroy(ctx);
  return mismatches || failures ? 1 : 0;
}
