/* run_model.c: links a model compiled by quant-bert-compile (MODEL_HEADER,
 * prefix MODEL) and exercises its C API: a batch of padded sequences (the
 * logits of a sequence must not depend on padding or on its batch
 * neighbours), then bad inputs, each of which must return an error status
 * with a message and leave the logits untouched. Prints "ok" lines that the
 * lit test checks. */
#include MODEL_HEADER

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define CONST(suffix) CAT(MODEL, suffix)

enum { SEQ = 8 };

static int check(int condition, const char *what) {
  printf("%s: %s\n", condition ? "ok" : "FAILED", what);
  return condition ? 0 : 1;
}

int main(void) {
  int failures = 0;
  qbrt_context *ctx = NULL;
  if (qbrt_context_create(1, &ctx) != QB_OK)
    return 2;
  FN(_model) *model = NULL;
  qb_status status = FN(_create)(ctx, &model);
  failures += check(status == QB_OK, "create");
  if (status != QB_OK) {
    printf("%s\n", qbrt_last_error(ctx));
    return 1;
  }

  /* Row 0: 5 tokens then padding; row 1: 8 tokens. */
  int32_t ids[2 * SEQ], types[2 * SEQ], mask[2 * SEQ];
  for (int i = 0; i < 2 * SEQ; ++i) {
    ids[i] = (i * 7 + 3) % CONST(_VOCAB_SIZE);
    types[i] = (i % SEQ) >= 4 ? 1 : 0;
    mask[i] = (i < SEQ && i >= 5) ? 0 : 1;
  }
  float logits[2 * CONST(_NUM_LABELS)];
  status = FN(_run)(model, ids, types, mask, 2, SEQ, logits);
  failures += check(status == QB_OK, "run batch of 2");
  int finite = 1;
  for (int i = 0; i < 2 * CONST(_NUM_LABELS); ++i)
    finite &= isfinite(logits[i]);
  failures += check(finite, "logits are finite");

  /* Row 0 alone, without its padding: same logits. */
  float alone[CONST(_NUM_LABELS)];
  status = FN(_run)(model, ids, types, mask, 1, 5, alone);
  failures += check(status == QB_OK, "run one unpadded row");
  float difference = 0.0f;
  for (int l = 0; l < CONST(_NUM_LABELS); ++l)
    difference = fmaxf(difference, fabsf(alone[l] - logits[l]));
  printf("max |padded - unpadded| = %g\n", difference);
  failures += check(difference <= 1e-4f, "padding does not change the logits");

  /* Bad inputs: an error status and message, logits untouched. */
  float untouched[2 * CONST(_NUM_LABELS)];
  for (int i = 0; i < 2 * CONST(_NUM_LABELS); ++i)
    untouched[i] = 12345.0f;
  int32_t bad[2 * SEQ];
  memcpy(bad, ids, sizeof bad);
  bad[3] = CONST(_VOCAB_SIZE);
  status = FN(_run)(model, bad, types, mask, 2, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT && untouched[0] == 12345.0f,
                    "token id outside the vocabulary");
  printf("  %s\n", qbrt_last_error(ctx));
  memcpy(bad, types, sizeof bad);
  bad[0] = -1;
  status = FN(_run)(model, ids, bad, mask, 2, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "negative token type id");
  printf("  %s\n", qbrt_last_error(ctx));
  memcpy(bad, mask, sizeof bad);
  bad[1] = 2;
  status = FN(_run)(model, ids, types, bad, 2, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "mask value 2");
  printf("  %s\n", qbrt_last_error(ctx));
  status = FN(_run)(model, ids, types, mask, 1, CONST(_MAX_SEQ_LEN) + 1, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "sequence too long");
  printf("  %s\n", qbrt_last_error(ctx));
  status = FN(_run)(model, NULL, types, mask, 1, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "null input_ids");
  printf("  %s\n", qbrt_last_error(ctx));
  status = FN(_run)(model, ids, types, mask, 0, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "batch 0");
  printf("  %s\n", qbrt_last_error(ctx));
  status = FN(_run)(model, ids, types, NULL, 1, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "null attention_mask");
  printf("  %s\n", qbrt_last_error(ctx));
  status = FN(_run)(model, ids, NULL, mask, 1, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "null token_type_ids");
  status = FN(_run)(model, ids, types, mask, 1, SEQ, NULL);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "null logits");
  status = FN(_run)(model, ids, types, mask, 1, -3, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "negative seq_len");
  printf("  %s\n", qbrt_last_error(ctx));
  status = FN(_run)(model, ids, types, mask, -1, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "negative batch");
  /* batch * seq_len overflows int64: refused before anything is read. */
  status = FN(_run)(model, ids, types, mask, INT64_MAX / 2, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "batch * seq_len overflows");
  printf("  %s\n", qbrt_last_error(ctx));
  status = FN(_run)(NULL, ids, types, mask, 1, SEQ, untouched);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "null model");
  int kept = 1;
  for (int i = 0; i < 2 * CONST(_NUM_LABELS); ++i)
    kept &= untouched[i] == 12345.0f;
  failures += check(kept, "failed runs leave the logits untouched");

  /* create without a context or an output pointer. */
  FN(_model) *other = NULL;
  status = FN(_create)(NULL, &other);
  failures += check(status == QB_ERR_INVALID_ARGUMENT && other == NULL,
                    "create without a context");
  status = FN(_create)(ctx, NULL);
  failures += check(status == QB_ERR_INVALID_ARGUMENT, "create without out");

  FN(_destroy)(model);
  FN(_destroy)(NULL); /* allowed, does nothing */
  qbrt_context_destroy(ctx);
  printf("%d failures\n", failures);
  return failures != 0;
}
