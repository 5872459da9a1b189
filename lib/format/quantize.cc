// Bit-exact re-implementations of GGML's reference quantizers, written from FORMATS.md B.1.
// This file must be compiled with -ffp-contract=off (see CMakeLists.txt): a fused multiply-add
// changes the IQ4_NL scale search and the importance-weighted Q4_0 search in some blocks.
#include "quantize.h"

#include <cmath>
#include <cstring>

#include "formats.h"
#include "fp16.h"

namespace q4r {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

void store_fp16(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

float load_fp16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// Round half to even through the 1.5*2^23 magic constant (GGML's nearest_int); |v| < 2^22.
int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &shifted, sizeof i);
  return (i & 0x007FFFFF) - 0x00400000;
}

// The first element with the strictly largest magnitude wins ties (signed value returned).
float signed_absmax(const float* x, int n, float* amax_out) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  *amax_out = amax;
  return max;
}

void pack_nibbles(const int8_t* levels, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>(levels[j] | (levels[j + 16] << 4));
  }
}

// make_qx_quants(n = 32, nmax = 8, rmse_type = 1) with importance weights w: returns the scale
// and the biased levels L (0..15).
float make_q4_levels(const float* x, const float* w, int8_t* levels) {
  constexpr int nmax = 8;
  float amax;
  const float max = signed_absmax(x, kBlockValues, &amax);
  if (amax < kGroupMaxEps) {
    std::memset(levels, 0, kBlockValues);
    return 0.f;
  }
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0.f, suml2 = 0.f;
  for (int i = 0; i < kBlockValues; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
    levels[i] = static_cast<int8_t>(l + nmax);
    const float fl = static_cast<float>(l);
    sumlx += w[i] * x[i] * fl;
    suml2 += w[i] * fl * fl;
  }
  float scale = suml2 != 0.f ? sumlx / suml2 : 0.f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0.f;
    for (int i = 0; i < kBlockValues; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
      const float fl = static_cast<float>(l);
      sumlx += w[i] * x[i] * fl;
      suml2 += w[i] * fl * fl;
    }
    if (suml2 > 0.f && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < kBlockValues; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
        levels[i] = static_cast<int8_t>(l + nmax);
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// best_index_int8: nearest codebook entry, an exact tie goes to the upper index.
int best_index_iq4nl(float x) {
  const int8_t* v = kIq4nlValues;
  if (x <= v[0]) return 0;
  if (x >= v[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < v[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

// Weighted least-squares sums of the block for inverse scale id.
void iq4nl_sums(const float* x, const float* w, float id, float* sumqx, float* sumq2) {
  float sx = 0.f, s2 = 0.f;
  for (int j = 0; j < kBlockValues; ++j) {
    const float q = kIq4nlValues[best_index_iq4nl(id * x[j])];
    sx += w[j] * q * x[j];
    s2 += w[j] * q * q;
  }
  *sumqx = sx;
  *sumq2 = s2;
}

// quantize_row_iq4_nl_impl(super = block = 32, ntry = 7) for one block.
void quantize_block_iq4_nl(const float* x, const float* imatrix, uint8_t* y) {
  constexpr int ntry = 7;
  float sigma2 = 0.f;
  for (int j = 0; j < kBlockValues; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / kBlockValues;

  float w[kBlockValues];
  for (int j = 0; j < kBlockValues; ++j) {
    w[j] = imatrix ? imatrix[j] * std::sqrt(sigma2 + x[j] * x[j]) : x[j] * x[j];
  }

  float amax;
  const float max = signed_absmax(x, kBlockValues, &amax);
  float d = 0.f;
  if (amax >= kGroupMaxEps) {
    const float v0 = kIq4nlValues[0];
    float sumqx, sumq2;
    iq4nl_sums(x, w, 1.f / (-max / v0), &sumqx, &sumq2);
    d = sumq2 > 0.f ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      const float id = static_cast<float>(itry + kIq4nlValues[0]) / max;
      iq4nl_sums(x, w, id, &sumqx, &sumq2);
      if (sumq2 > 0.f && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
  }
  store_fp16(y, d);
  // ntry > 0: re-quantize with the final fp32 scale (an all-zero block gets index 8: bytes 0x88).
  const float id = d != 0.f ? 1.f / d : 0.f;
  int8_t levels[kBlockValues];
  for (int j = 0; j < kBlockValues; ++j) {
    levels[j] = static_cast<int8_t>(best_index_iq4nl(id * x[j]));
  }
  pack_nibbles(levels, y + 2);
}

}  // namespace

void quantize_row_q4_0_ref(const float* x, uint8_t* y, int64_t k) {
  for (int64_t b = 0; b < k / kBlockValues; ++b, x += kBlockValues, y += kQ4BlockBytes) {
    float amax;
    const float max = signed_absmax(x, kBlockValues, &amax);
    const float d = max / -8.f;  // all-zero block: -0.0
    const float id = d != 0.f ? 1.f / d : 0.f;
    store_fp16(y, d);
    for (int j = 0; j < 16; ++j) {
      // Round half up, then clamp to 15; the fp32 d is used, not the fp16 one.
      const int lo = static_cast<int8_t>(x[j] * id + 8.5f);
      const int hi = static_cast<int8_t>(x[j + 16] * id + 8.5f);
      y[2 + j] = static_cast<uint8_t>((lo < 15 ? lo : 15) | ((hi < 15 ? hi : 15) << 4));
    }
  }
}

void quantize_row_q4_0_imatrix(const float* x, uint8_t* y, int64_t k, const float* imatrix) {
  float sum_x2 = 0.f;
  for (int64_t j = 0; j < k; ++j) sum_x2 += x[j] * x[j];
  const float sigma2 = sum_x2 / static_cast<float>(k);
  for (int64_t b = 0; b < k / kBlockValues; ++b) {
    const float* xb = x + b * kBlockValues;
    const float* qw = imatrix + b * kBlockValues;
    float w[kBlockValues];
    for (int j = 0; j < kBlockValues; ++j) w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    int8_t levels[kBlockValues];
    const float d = make_q4_levels(xb, w, levels);
    uint8_t* yb = y + b * kQ4BlockBytes;
    store_fp16(yb, d);
    pack_nibbles(levels, yb + 2);
  }
}

void quantize_row_iq4_nl(const float* x, uint8_t* y, int64_t k, const float* imatrix) {
  for (int64_t b = 0; b < k / kBlockValues; ++b) {
    quantize_block_iq4_nl(x + b * kBlockValues, imatrix ? imatrix + b * kBlockValues : nullptr,
                          y + b * kQ4BlockBytes);
  }
}

void quantize_row_q8_0_ref(const float* x, uint8_t* y, int64_t k) {
  for (int64_t b = 0; b < k / kBlockValues; ++b, x += kBlockValues, y += kQ8BlockBytes) {
    float amax = 0.f;
    for (int j = 0; j < kBlockValues; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    store_fp16(y, d);
    for (int j = 0; j < kBlockValues; ++j) {
      y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
    }
  }
}

void dequantize_row_q4_0(const uint8_t* x, float* y, int64_t k) {
  for (int64_t b = 0; b < k / kBlockValues; ++b, x += kQ4BlockBytes, y += kBlockValues) {
    const float d = load_fp16(x);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((x[2 + j] & 0x0F) - 8) * d;
      y[j + 16] = static_cast<float>((x[2 + j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_iq4_nl(const uint8_t* x, float* y, int64_t k) {
  for (int64_t b = 0; b < k / kBlockValues; ++b, x += kQ4BlockBytes, y += kBlockValues) {
    const float d = load_fp16(x);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kIq4nlValues[x[2 + j] & 0x0F];
      y[j + 16] = d * kIq4nlValues[x[2 + j] >> 4];
    }
  }
}

void dequantize_row_q8_0(const uint8_t* x, float* y, int64_t k) {
  for (int64_t b = 0; b < k / kBlockValues; ++b, x += kQ8BlockBytes, y += kBlockValues) {
    const float d = load_fp16(x);
    for (int j = 0; j < kBlockValues; ++j) y[j] = static_cast<int8_t>(x[2 + j]) * d;
  }
}

void interleave_q8_0_x4(const uint8_t* rows, int64_t row_bytes, uint8_t* y, int64_t k, int chunk) {
  for (int64_t b = 0; b < k / kBlockValues; ++b, y += kQ8x4BlockBytes) {
    for (int r = 0; r < 4; ++r) {
      const uint8_t* src = rows + r * row_bytes + b * kQ8BlockBytes;
      std::memcpy(y + 2 * r, src, 2);
      for (int e = 0; e < kBlockValues; ++e) {
        y[8 + (e / chunk * 4 + r) * chunk + e % chunk] = src[2 + e];
      }
    }
  }
}

}  // namespace q4r
