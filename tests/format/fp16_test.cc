// lib/fp16.h against independent references: an exact double-precision model written here, and the
// hardware conversions where the build has them (x86 F16C through a function-level target
// attribute, aarch64 __fp16).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "lib/format/fp16.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace q4r::test {
namespace {

// binary16 -> value, from the definition (sign, 5-bit exponent with bias 15, 10-bit fraction).
double half_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  double v;
  if (exp == 0x1F) {
    v = man ? NAN : INFINITY;
  } else if (exp == 0) {
    v = std::ldexp(double(man), -24);
  } else {
    v = std::ldexp(double(1024 + man), exp - 25);
  }
  return sign ? -v : v;
}

// float -> nearest binary16, ties to even, overflow to infinity, NaN -> 0x7E00 with the sign.
// Works on the exact value in double: scaling by a power of two is exact and std::nearbyint rounds
// to nearest even in the default rounding mode.
uint16_t reference_to_half(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (std::isnan(f)) return sign | 0x7E00;
  const double a = std::fabs(double(f));
  if (std::isinf(f)) return sign | 0x7C00;
  if (a == 0) return sign;
  int e = std::ilogb(a);  // a in [2^e, 2^(e+1))
  if (e < -14) e = -14;   // subnormal halfs share the quantum 2^-24
  const double q = std::nearbyint(std::ldexp(a, 10 - e));  // units of the quantum 2^(e-10)
  uint32_t bits;
  if (e == -14 && q <= 1024) {
    bits = uint32_t(q);  // subnormal (q == 1024 is the smallest normal, 0x0400)
  } else {
    bits = (uint32_t(e + 15) << 10) + (uint32_t(q) - 1024);  // q == 2048 carries into the exponent
  }
  if (bits >= 0x7C00) bits = 0x7C00;
  return sign | uint16_t(bits);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t f16c_to_half(float f) {
  return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float f16c_to_float(uint16_t h) {
  return _cvtsh_ss(h);
}
bool have_hw() {
  // CPUID.1:ECX.F16C (clang 14 rejects __builtin_cpu_supports("f16c")).
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
uint16_t hw_to_half(float f) {
  return f16c_to_half(f);
}
float hw_to_float(uint16_t h) {
  return f16c_to_float(h);
}
#elif defined(__aarch64__)
bool have_hw() {
  return true;
}
uint16_t hw_to_half(float f) {
  const __fp16 h = static_cast<__fp16>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}
float hw_to_float(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
}
#else
bool have_hw() {
  return false;
}
uint16_t hw_to_half(float) {
  return 0;
}
float hw_to_float(uint16_t) {
  return 0;
}
#endif

TEST(Fp16, AllHalfsToFloatAreExact) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_fp32(uint16_t(h));
    const double want = half_value(uint16_t(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;
      // The payload is kept (shifted into the float fraction).
      ASSERT_EQ(float_bits(f) & 0x7FFFFFu, uint32_t(h & 0x3FF) << 13) << std::hex << h;
      continue;
    }
    ASSERT_EQ(double(f), want) << std::hex << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;  // -0 stays -0
    if (have_hw()) {
      ASSERT_EQ(float_bits(f), float_bits(hw_to_float(uint16_t(h)))) << std::hex << h;
    }
  }
}

TEST(Fp16, AllHalfsRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(uint16_t(h)));
    const bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0;
    if (nan) {
      ASSERT_EQ(back, uint16_t((h & 0x8000) | 0x7E00)) << std::hex << h;
    } else {
      ASSERT_EQ(back, uint16_t(h)) << std::hex << h;
    }
  }
}

// Floats that probe every rounding decision: for each pair of neighbouring finite halfs, both
// halfs, their exact midpoint (a tie) and the floats one and two ulps either side of it; the
// overflow threshold; plus every float exponent with random fractions and random bit patterns.
std::vector<float> probe_floats() {
  std::vector<float> v;
  auto around = [&v](float x) {
    float lo = x, hi = x;
    v.push_back(x);
    for (int i = 0; i < 2; ++i) {
      lo = std::nextafter(lo, -INFINITY);
      hi = std::nextafter(hi, INFINITY);
      v.push_back(lo);
      v.push_back(hi);
    }
  };
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const float a = fp16_to_fp32(uint16_t(h));
    const double next =
        h + 1 < 0x7C00 ? half_value(uint16_t(h + 1)) : 65536.0;  // 2^16: where inf begins
    around(a);
    around(float((double(a) + next) / 2));  // exact: halfs have 11 significant bits
  }
  around(65504.f);
  around(65520.f);               // the tie between the largest half and 2^16: rounds to infinity
  around(std::ldexp(1.f, -25));  // half the smallest subnormal: a tie that rounds to 0
  around(std::ldexp(1.f, -24));
  around(std::ldexp(1.f, -14));
  v.push_back(0.f);
  v.push_back(INFINITY);
  v.push_back(std::numeric_limits<float>::max());
  v.push_back(std::numeric_limits<float>::denorm_min());
  v.push_back(std::numeric_limits<float>::min());
  std::mt19937 rng(12345);
  for (uint32_t e = 0; e < 255; ++e) {
    for (int i = 0; i < 64; ++i) v.push_back(bits_float((e << 23) | (rng() & 0x7FFFFF)));
  }
  for (int i = 0; i < 200000; ++i) {
    const float f = bits_float(rng() & 0x7FFFFFFF);
    if (!std::isnan(f)) v.push_back(f);
  }
  const size_t positive = v.size();
  for (size_t i = 0; i < positive; ++i) v.push_back(-v[i]);
  return v;
}

TEST(Fp16, FloatToHalfMatchesDoubleReference) {
  for (float f : probe_floats()) {
    ASSERT_EQ(fp32_to_fp16(f), reference_to_half(f)) << std::hexfloat << f;
  }
}

TEST(Fp16, FloatToHalfMatchesHardware) {
  if (!have_hw()) GTEST_SKIP() << "no hardware half conversion in this build / CPU";
  for (float f : probe_floats()) {
    ASSERT_EQ(fp32_to_fp16(f), hw_to_half(f)) << std::hexfloat << f;
  }
}

TEST(Fp16, NanBecomesCanonicalQuietNanWithSign) {
  const uint32_t payloads[] = {0x7FC00000u, 0x7F800001u, 0x7FFFFFFFu, 0x7FA00000u, 0x7F802000u};
  for (uint32_t p : payloads) {
    EXPECT_EQ(fp32_to_fp16(bits_float(p)), 0x7E00) << std::hex << p;
    EXPECT_EQ(fp32_to_fp16(bits_float(p | 0x80000000u)), 0xFE00) << std::hex << p;
  }
}

TEST(Fp16, SpecialValues) {
  EXPECT_EQ(fp32_to_fp16(0.f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(65504.f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.996f), 0x7BFF);  // just below the tie
  EXPECT_EQ(fp32_to_fp16(65520.f), 0x7C00);     // tie -> even -> infinity
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.f, -25)), 0x0002);  // 1.5 quanta: tie -> even (2)
  EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.f, -25), 1.f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(1.f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(1.f + std::ldexp(1.f, -11)), 0x3C00);      // tie -> even
  EXPECT_EQ(fp32_to_fp16(1.f + 3 * std::ldexp(1.f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.f, -14)), 0x0400);            // smallest normal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.5f, -24)), 0x0400);        // rounds up into the normals
}

}  // namespace
}  // namespace q4r::test
