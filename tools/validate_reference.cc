#include "validate_reference.h"

#include <cmath>
#include <cstring>

#include "lib/format/formats.h"
#include "lib/format/fp16.h"

namespace q4r::validate {
namespace {

// xorshift32 with a per-stream seed mixed by a multiplicative hash (never zero).
struct Rng {
  explicit Rng(uint64_t seed) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    z ^= z >> 29;
    s = static_cast<uint32_t>(z ^ (z >> 32)) | 1u;
  }
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
  float u01() { return static_cast<float>(next() >> 8) * 5.9604644775390625e-8f; }
  // Sum of two 16-bit uniforms from one step: a cheap triangular bell in (-1, 1).
  float bell() {
    const uint32_t r = next();
    return static_cast<float>(int(r >> 16) + int(r & 0xFFFF) - 65535) * (1.f / 65536.f);
  }
  uint32_t s;
};

double half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return static_cast<double>(fp16_to_fp32(h));
}

int level(q4r_type type, int nibble) {
  return type == Q4R_TYPE_Q4_0 ? nibble - 8 : kIq4nlValues[nibble];
}

}  // namespace

void synthetic_weights(uint32_t seed, int64_t r0, int64_t r1, int64_t k, float* out) {
  for (int64_t r = r0; r < r1; ++r) {
    float* row = out + (r - r0) * k;
    Rng rng(uint64_t(seed) << 32 | uint64_t(r));
    const float scale = 0.005f + 0.05f * rng.u01();
    for (int64_t j = 0; j < k; ++j) row[j] = rng.bell() * scale;
    switch (r % 97) {  // edge rows, spread over the tensor
      case 1:
        std::memset(row, 0, sizeof(float) * k);
        break;
      case 2:
        row[k / 2] = 50.f;
        break;
      case 3:
        for (int64_t j = 0; j < k; ++j) row[j] = j % 2 ? -0.75f : 0.75f;
        break;
      default:
        break;
    }
  }
}

std::vector<float> synthetic_activations(uint32_t seed, int64_t m, int64_t k) {
  std::vector<float> x(m * k);
  for (int64_t r = 0; r < m; ++r) {
    Rng rng(uint64_t(seed) << 32 | uint64_t(0x80000000u + r));
    const float scale = 0.1f + 2.f * rng.u01();
    for (int64_t j = 0; j < k; ++j) x[r * k + j] = rng.bell() * scale;
  }
  // Last block of row 0: amax 127 gives a q8_0 scale of exactly 1, and x.5 values are exact
  // rounding ties (roundf and round-to-even differ there).
  float* tie = &x[k - 32];
  tie[0] = 127.f;
  for (int j = 1; j < 32; ++j) tie[j] = (j % 2 ? 1.f : -1.f) * (float((j * 37) % 127) + 0.5f);
  return x;
}

void random_blocks(uint32_t seed, int64_t r0, int64_t r1, int64_t k, uint8_t* rows_out) {
  const int64_t nb = k / kBlockValues;
  for (int64_t r = r0; r < r1; ++r) {
    Rng rng(uint64_t(seed) << 32 | uint64_t(r) | (uint64_t(1) << 31));
    uint8_t* row = rows_out + (r - r0) * nb * kQ4BlockBytes;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = row + b * kQ4BlockBytes;
      const uint16_t d = fp32_to_fp16(rng.bell() * 0.0005f);
      std::memcpy(blk, &d, 2);
      for (int i = 0; i < 16; i += 4) {
        const uint32_t v = rng.next();
        std::memcpy(blk + 2 + i, &v, 4);
      }
    }
  }
}

Exact exact_dots(q4r_type type, const uint8_t* w, const uint8_t* a, int64_t k, int64_t m,
                 const std::vector<int64_t>& cols) {
  const int64_t nb = k / kBlockValues;
  const std::size_t nc = cols.size();
  Exact e{std::vector<double>(m * nc), std::vector<double>(m * nc)};
  for (int64_t i = 0; i < m; ++i) {
    const uint8_t* arow = a + i * nb * kQ8BlockBytes;
    for (std::size_t ci = 0; ci < nc; ++ci) {
      const uint8_t* wrow = w + cols[ci] * nb * kQ4BlockBytes;
      double sum = 0, abs = 0;
      for (int64_t l = 0; l < nb; ++l) {
        const uint8_t* wb = wrow + l * kQ4BlockBytes;
        const uint8_t* ab = arow + l * kQ8BlockBytes;
        const double scale = half_at(wb) * half_at(ab);  // exact in double
        int64_t isum = 0, iabs = 0;
        for (int j = 0; j < 16; ++j) {
          const int lo = level(type, wb[2 + j] & 0xF), hi = level(type, wb[2 + j] >> 4);
          const int alo = static_cast<int8_t>(ab[2 + j]), ahi = static_cast<int8_t>(ab[2 + j + 16]);
          isum += lo * alo + hi * ahi;
          iabs += std::abs(lo * alo) + std::abs(hi * ahi);
        }
        sum += double(isum) * scale;
        abs += double(iabs) * std::fabs(scale);
      }
      e.value[i * nc + ci] = sum;
      e.abs_sum[i * nc + ci] = abs;
    }
  }
  return e;
}

std::vector<double> abs_sum_bounds(q4r_type type, const uint8_t* w, const uint8_t* a, int64_t n,
                                   int64_t k, int64_t m) {
  const int64_t nb = k / kBlockValues;
  const double wmax = type == Q4R_TYPE_Q4_0 ? 8 : 127;
  // Per activation row and block: |dA| * sum |a|.
  std::vector<double> act(m * nb);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t l = 0; l < nb; ++l) {
      const uint8_t* ab = a + (i * nb + l) * kQ8BlockBytes;
      int s = 0;
      for (int j = 0; j < 32; ++j) s += std::abs(int(static_cast<int8_t>(ab[2 + j])));
      act[i * nb + l] = std::fabs(half_at(ab)) * s;
    }
  }
  std::vector<double> bound(m * n);
  std::vector<double> wscale(nb);
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t l = 0; l < nb; ++l)
      wscale[l] = std::fabs(half_at(w + (c * nb + l) * kQ4BlockBytes));
    for (int64_t i = 0; i < m; ++i) {
      double s = 0;
      for (int64_t l = 0; l < nb; ++l) s += wscale[l] * act[i * nb + l];
      bound[i * n + c] = s * wmax;
    }
  }
  return bound;
}

double error_factor(int64_t k) {
  const double u = std::ldexp(1.0, -24);
  const double terms = double(4 * (k / kBlockValues) + 2);
  return terms * u / (1 - terms * u);
}

}  // namespace q4r::validate
