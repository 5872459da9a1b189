// IEEE binary16 <-> binary32, round-to-nearest-even, bit-exact with GGML's
// ggml_compute_fp32_to_fp16 (NaN -> 0x7E00 with the sign kept) and exact in the other direction.
// Baseline code only: ISA kernels decode scales with F16C / NEON conversions instead.
#ifndef Q4R_LIB_FP16_H_
#define Q4R_LIB_FP16_H_

#include <cstdint>
#include <cstring>

namespace q4r {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return bits_float(sign | 0x7F800000u | (man << 13));  // inf / NaN
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
  // Zero or subnormal: man * 2^-24, exact in binary32.
  const float mag = static_cast<float>(man) * bits_float(0x33800000u);  // 2^-24
  return bits_float(sign | float_bits(mag));
}

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // rounds to >= 65536: infinity
  if (abs >= 0x38800000u) {                       // normal half (>= 2^-14)
    // Re-bias the exponent and round the 13 dropped mantissa bits to nearest even; a carry out of
    // the mantissa correctly bumps the exponent.
    const uint32_t rebased = abs - (112u << 23);
    const uint32_t lsb = (rebased >> 13) & 1u;
    return sign | static_cast<uint16_t>((rebased + 0xFFFu + lsb) >> 13);
  }
  if (abs < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25): zero
  // Subnormal half: value / 2^-24, rounded to nearest even. The implicit bit is made explicit and
  // the shift rounds at the right position.
  const uint32_t exp = abs >> 23;  // 102..112
  const uint32_t man = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - exp;  // 14..24
  const uint32_t half = 1u << (shift - 1);
  const uint32_t rest = man & ((1u << shift) - 1u);
  uint32_t q = man >> shift;
  if (rest > half || (rest == half && (q & 1u))) ++q;
  return sign | static_cast<uint16_t>(q);
}

}  // namespace q4r

#endif  // Q4R_LIB_FP16_H_
