// Block formats shared by the library, the scalar kernels and the tests (FORMATS.md Part A).
// Only constexpr data and types here: safe to include from any translation unit, ISA files too.
#ifndef Q4R_LIB_FORMATS_H_
#define Q4R_LIB_FORMATS_H_

#include <cstddef>
#include <cstdint>

namespace q4r {

constexpr int kBlockValues = 32;                    // values per block, all three types
constexpr int kQ4BlockBytes = 18;                   // fp16 d + 16 nibble bytes (Q4_0, IQ4_NL)
constexpr int kQ8BlockBytes = 34;                   // fp16 d + 32 int8 (Q8_0)
constexpr int kQ8x4BlockBytes = 4 * kQ8BlockBytes;  // block_q8_0x4: 4 fp16 d + 128 int8

// IQ4_NL codebook (GGML kvalues_iq4nl).
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

// Q4_0 nibbles are XORed with 0x88 when repacked, which turns each biased nibble u into the 4-bit
// two's-complement code of u - 8 (FORMATS.md B.2.4). IQ4_NL nibbles are stored unchanged.
constexpr uint8_t kQ4_0RepackXor = 0x88;

struct LayoutShape {
  int rows;   // N: weight rows interleaved per group
  int chunk;  // B: bytes per chunk
};

}  // namespace q4r

#endif  // Q4R_LIB_FORMATS_H_
