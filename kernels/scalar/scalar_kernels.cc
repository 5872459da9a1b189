// The scalar reference kernels: the oracle every SIMD kernel is tested against.
//
// Float order is GGML's generic C order (golden MANIFEST section 5): for each block, 16/B partial
// integer sums, each added as sumf = sumf + ((float)sumi * dW) * dA, every operation rounded
// separately (this file is built with -ffp-contract=off). That makes the packed GEMV/GEMM outputs
// bit-identical to the golden gemv_*.bin / gemm_*.bin files.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernel_table.h"
#include "lib/format/formats.h"
#include "lib/format/fp16.h"
#include "lib/format/quantize.h"

namespace q4r {
namespace {

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// Signed weight values of the two nibbles of a byte, per type and storage.
struct Q4_0Packed {  // XORed with 0x88: each nibble is 4-bit two's complement
  static int lo(uint8_t b) { return static_cast<int8_t>(b << 4) >> 4; }
  static int hi(uint8_t b) { return static_cast<int8_t>(b & 0xF0) >> 4; }
};
struct Q4_0Plain {  // biased nibbles
  static int lo(uint8_t b) { return (b & 0x0F) - 8; }
  static int hi(uint8_t b) { return (b >> 4) - 8; }
};
struct Iq4nl {  // codebook indices, never XORed
  static int lo(uint8_t b) { return kIq4nlValues[b & 0x0F]; }
  static int hi(uint8_t b) { return kIq4nlValues[b >> 4]; }
};

// Integer dot of one B-byte weight chunk (low nibbles with a_lo[0..B), high with a_hi[0..B)).
template <class W, int B>
inline int chunk_dot(const uint8_t* w, const int8_t* a_lo, const int8_t* a_hi) {
  int sum = 0;
  for (int i = 0; i < B; ++i) sum += W::lo(w[i]) * a_lo[i] + W::hi(w[i]) * a_hi[i];
  return sum;
}

template <class W, int N, int B>
void gemv(int k, float* s, const void* vw, const void* va, int nc) {
  const int nb = k / kBlockValues;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  for (int x = 0; x < nc / N; ++x) {
    float sumf[N] = {};
    for (int l = 0; l < nb; ++l) {
      const uint8_t* wb = w + (static_cast<int64_t>(x) * nb + l) * kQ4BlockBytes * N;
      const uint8_t* ab = a + l * kQ8BlockBytes;
      const auto* aq = reinterpret_cast<const int8_t*>(ab + 2);
      const float da = half_at(ab);
      for (int kk = 0; kk < 16 / B; ++kk) {
        for (int j = 0; j < N; ++j) {
          const uint8_t* chunk = wb + 2 * N + (kk * N + j) * B;
          const int sumi = chunk_dot<W, B>(chunk, aq + kk * B, aq + kk * B + 16);
          sumf[j] = sumf[j] + static_cast<float>(sumi) * half_at(wb + 2 * j) * da;
        }
      }
    }
    for (int j = 0; j < N; ++j) s[x * N + j] = sumf[j];
  }
}

template <class W, int N, int B>
void gemm(int k, float* s, std::size_t bs, const void* vw, const void* va, int nr, int nc) {
  const int nb = k / kBlockValues;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  for (int y = 0; y < nr / 4; ++y) {
    for (int x = 0; x < nc / N; ++x) {
      float sumf[4][N] = {};
      for (int l = 0; l < nb; ++l) {
        const uint8_t* wb = w + (static_cast<int64_t>(x) * nb + l) * kQ4BlockBytes * N;
        const uint8_t* ab = a + (static_cast<int64_t>(y) * nb + l) * kQ8x4BlockBytes;
        const auto* aq = reinterpret_cast<const int8_t*>(ab + 8);
        for (int kk = 0; kk < 16 / B; ++kk) {
          for (int m = 0; m < 4; ++m) {
            const int8_t* a_lo = aq + (kk * 4 + m) * B;
            const float da = half_at(ab + 2 * m);
            for (int j = 0; j < N; ++j) {
              const uint8_t* chunk = wb + 2 * N + (kk * N + j) * B;
              const int sumi = chunk_dot<W, B>(chunk, a_lo, a_lo + 64);
              sumf[m][j] = sumf[m][j] + static_cast<float>(sumi) * half_at(wb + 2 * j) * da;
            }
          }
        }
      }
      for (int m = 0; m < 4; ++m) {
        for (int j = 0; j < N; ++j) s[(y * 4 + m) * bs + x * N + j] = sumf[m][j];
      }
    }
  }
}

// GGML's vec_dot_*_q8_0 generic order: one integer dot per block, sumf += (sumi * dW) * dA.
template <class W>
void plain(int k, float* s, std::size_t bs, const void* vw, int nc, const void* va, int nr) {
  const int nb = k / kBlockValues;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  for (int m = 0; m < nr; ++m) {
    const uint8_t* arow = a + static_cast<int64_t>(m) * nb * kQ8BlockBytes;
    for (int c = 0; c < nc; ++c) {
      const uint8_t* wrow = w + static_cast<int64_t>(c) * nb * kQ4BlockBytes;
      float sumf = 0.f;
      for (int l = 0; l < nb; ++l) {
        const uint8_t* wb = wrow + l * kQ4BlockBytes;
        const uint8_t* ab = arow + l * kQ8BlockBytes;
        const auto* aq = reinterpret_cast<const int8_t*>(ab + 2);
        const int sumi = chunk_dot<W, 16>(wb + 2, aq, aq + 16);
        sumf += static_cast<float>(sumi) * half_at(wb) * half_at(ab);
      }
      s[m * bs + c] = sumf;
    }
  }
}

void quant_rows(const float* x, std::size_t x_stride, void* vy, int k, int nrows) {
  auto* y = static_cast<uint8_t*>(vy);
  const int64_t row_bytes = static_cast<int64_t>(k / kBlockValues) * kQ8BlockBytes;
  for (int r = 0; r < nrows; ++r) quantize_row_q8_0_ref(x + r * x_stride, y + r * row_bytes, k);
}

template <int B>
void quant_x4(const float* x, std::size_t x_stride, void* vy, int k, int ngroups) {
  auto* y = static_cast<uint8_t*>(vy);
  const int64_t row_bytes = static_cast<int64_t>(k / kBlockValues) * kQ8BlockBytes;
  uint8_t rows[4 * 64 * kQ8BlockBytes];  // up to 4 rows of 2048 values per pass
  for (int g = 0; g < ngroups; ++g) {
    // Quantize the 4 rows a slice of blocks at a time, then interleave the slice.
    for (int64_t k0 = 0; k0 < k; k0 += 64 * kBlockValues) {
      const int64_t kn = k - k0 < 64 * kBlockValues ? k - k0 : 64 * kBlockValues;
      const int64_t slice_bytes = kn / kBlockValues * kQ8BlockBytes;
      for (int r = 0; r < 4; ++r) {
        quantize_row_q8_0_ref(x + (4 * g + r) * x_stride + k0, rows + r * slice_bytes, kn);
      }
      interleave_q8_0_x4(rows, slice_bytes,
                         y + g * 4 * row_bytes + k0 / kBlockValues * kQ8x4BlockBytes, kn, B);
    }
  }
}

}  // namespace

void fill_kernels_scalar(KernelTable* t) {
  t->name = "scalar";
  t->quant_rows = quant_rows;
  t->quant_x4[kChunk4] = quant_x4<4>;
  t->quant_x4[kChunk8] = quant_x4<8>;
  t->plain[kQ4_0] = plain<Q4_0Plain>;
  t->plain[kIQ4_NL] = plain<Iq4nl>;
  t->gemv[kQ4_0][k4x4] = gemv<Q4_0Packed, 4, 4>;
  t->gemv[kQ4_0][k4x8] = gemv<Q4_0Packed, 4, 8>;
  t->gemv[kQ4_0][k8x8] = gemv<Q4_0Packed, 8, 8>;
  t->gemv[kIQ4_NL][k4x4] = gemv<Iq4nl, 4, 4>;
  t->gemv[kIQ4_NL][k4x8] = gemv<Iq4nl, 4, 8>;
  t->gemv[kIQ4_NL][k8x8] = gemv<Iq4nl, 8, 8>;
  t->gemm[kQ4_0][k4x4] = gemm<Q4_0Packed, 4, 4>;
  t->gemm[kQ4_0][k4x8] = gemm<Q4_0Packed, 4, 8>;
  t->gemm[kQ4_0][k8x8] = gemm<Q4_0Packed, 8, 8>;
  t->gemm[kIQ4_NL][k4x4] = gemm<Iq4nl, 4, 4>;
  t->gemm[kIQ4_NL][k4x8] = gemm<Iq4nl, 4, 8>;
  t->gemm[kIQ4_NL][k8x8] = gemm<Iq4nl, 8, 8>;
}

}  // namespace q4r
