/* main.c - a C program using the installed runtime: tokenize a sentence and
 * run a small int8 linear layer. Usage: qbrt-consumer VOCAB_TXT. Prints
 * "ok" and exits 0 when every result is the expected one. */
#include <quantbert/runtime.h>

#include <math.h>
#include <stdio.h>

static int check(qbrt_context *ctx, qb_status status, const char *what) {
  if (status == QB_OK)
    return 1;
  fprintf(stderr, "%s: %s: %s\n", what, qbrt_status_string(status),
          qbrt_last_error(ctx));
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s VOCAB_TXT\n", argv[0]);
    return 2;
  }
  qbrt_context *ctx = NULL;
  if (!check(NULL, qbrt_context_create(0, &ctx), "context"))
    return 1;

  int ok = 1;
  qbrt_tokenizer *tok = NULL;
  if (check(ctx, qbrt_tokenizer_create(ctx, argv[1], &tok), "tokenizer")) {
    int32_t ids[8];
    int64_t length = 0;
    const int32_t expected[6] = {101, 1045, 2066, 13137, 20968, 102};
    ok = check(ctx,
               qbrt_tokenizer_encode(
                   tok, "I like strawberries", QBRT_NUL_TERMINATED, NULL, 0, 8,
                   QBRT_PAD_TO_LONGEST, ids, NULL, NULL, &length),
               "encode");
    ok = ok && length == 6;
    for (int i = 0; ok && i < 6; ++i)
      ok = ids[i] == expected[i];
    if (!ok)
      fprintf(stderr, "unexpected token ids\n");
    qbrt_tokenizer_destroy(tok);
  } else {
    ok = 0;
  }

  /* y = 0.5 * [0.1, 0.2] * (x . w) + bias, exact in f32. */
  const int8_t x[2 * 3] = {1, 2, 3, -4, 5, -6};
  const int8_t w[2 * 3] = {10, 20, 30, -1, 0, 1};
  const float wScales[2] = {0.1f, 0.2f}, bias[2] = {1.0f, -1.0f};
  const float expectedY[2 * 2] = {8.0f, -0.8f, -5.0f, -1.2f};
  float y[2 * 2];
  if (check(ctx,
            qbrt_int8_linear(ctx, x, 2, 3, 0.5f, 0, w, wScales, bias, 2, y),
            "int8 linear")) {
    for (int i = 0; i < 4; ++i)
      if (fabsf(y[i] - expectedY[i]) > 1e-5f) {
        fprintf(stderr, "y[%d] = %g, expected %g\n", i, y[i], expectedY[i]);
        ok = 0;
      }
  } else {
    ok = 0;
  }

  qbrt_context_destroy(ctx);
  if (ok)
    printf("ok\n");
  return ok ? 0 : 1;
}
