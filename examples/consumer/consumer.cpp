// Installed-library smoke test for the C++ layer (q4repack.hpp): exceptions, RAII context.
#include <cstdio>
#include <vector>

#include <q4repack/q4repack.hpp>

int main() {
  const int64_t n = 16, k = 64, m = 4;
  std::vector<float> w(n * k, 0.25f), x(m * k, 1.f), y(m * n);
  std::vector<uint8_t> q = q4repack::quantize(Q4R_TYPE_IQ4_NL, w.data(), n, k);
  q4repack::repack_inplace(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, q.data(), q.size(), n, k);
  const q4repack::Context ctx;
  const q4repack::Weights desc{Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, q.data(), q.size(), n, k};
  ctx.matmul(desc, x.data(), m, y.data());
  try {
    q4repack::Weights bad = desc;
    bad.k = 65;
    ctx.matmul(bad, x.data(), m, y.data());
    return 1;
  } catch (const q4repack::Error& e) {
    std::printf("consumer_cpp ok: y[0] = %g, expected error: %s\n", y[0], e.what());
  }
  return 0;
}
