/* Installed-library smoke test in C: quantize, repack in place to the context's layout, run a
 * context matmul and compare with the plain weights. Exits 0 and prints "consumer ok". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <q4repack/q4repack.h>

#define CHECK(call)                                                                       \
  do {                                                                                    \
    q4r_status s_ = (call);                                                               \
    if (s_ != Q4R_OK) {                                                                   \
      fprintf(stderr, "%s failed: %s (%s)\n", #call, q4r_strerror(s_), q4r_last_error()); \
      return 1;                                                                           \
    }                                                                                     \
  } while (0)

int main(void) {
  enum { N = 36, K = 128, M = 6 };
  static float w[N * K], x[M * K], y_plain[M * N], y_packed[M * N];
  for (int i = 0; i < N * K; ++i) w[i] = (float)((i * 37 % 101) - 50) / 50.f;
  for (int i = 0; i < M * K; ++i) x[i] = (float)((i * 13 % 29) - 14) / 14.f;

  size_t bytes = 0;
  CHECK(q4r_tensor_bytes(Q4R_TYPE_Q4_0, N, K, &bytes));
  unsigned char* plain = malloc(bytes);
  unsigned char* packed = malloc(bytes);
  if (!plain || !packed) return 1;
  CHECK(q4r_quantize(Q4R_TYPE_Q4_0, w, N, K, NULL, plain, bytes));
  memcpy(packed, plain, bytes);

  q4r_context* ctx = NULL;
  CHECK(q4r_context_create(NULL, &ctx));
  q4r_layout layout = q4r_context_layout(ctx, Q4R_TYPE_Q4_0);
  if (layout == Q4R_LAYOUT_PLAIN) layout = Q4R_LAYOUT_8X8;
  CHECK(q4r_repack_inplace(Q4R_TYPE_Q4_0, layout, packed, bytes, N, K));

  q4r_weights wp = {Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, plain, bytes, N, K};
  q4r_weights wr = {Q4R_TYPE_Q4_0, layout, packed, bytes, N, K};
  CHECK(q4r_context_matmul(ctx, &wp, x, K, M, y_plain, N, NULL, 0));
  CHECK(q4r_context_matmul(ctx, &wr, x, K, M, y_packed, N, NULL, 0));
  for (int i = 0; i < M * N; ++i) {
    if (fabsf(y_plain[i] - y_packed[i]) > 1e-4f * (1.f + fabsf(y_plain[i]))) {
      fprintf(stderr, "mismatch at %d: %g vs %g\n", i, y_plain[i], y_packed[i]);
      return 1;
    }
  }
  q4r_context_destroy(ctx);
  free(plain);
  free(packed);
  printf("consumer ok: q4repack %s, isa %s, layout %s\n", q4r_version_string(),
         q4r_isa_name(q4r_active_isa()), q4r_layout_name(layout));
  return q4r_version() == Q4R_VERSION ? 0 : 1;
}
