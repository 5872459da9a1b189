// The contract between the dispatcher and the per-ISA kernel files.
//
// Every ISA file fills a KernelTable with plain function pointers. This header holds only POD
// types and pointer typedefs, so an ISA file (compiled with its own -m/-march flags) instantiates
// nothing that baseline code also uses (TOOLCHAIN.md: COMDAT copies of inline functions compiled
// for AVX-512 can be picked by the linker for baseline callers).
//
// Kernel semantics (FORMATS.md B.4): for output column c and activation row m,
//   y[m][c] = sum over blocks l of fp32(dW[c,l]) * fp32(dA[m,l]) * intdot(block l).
// Kernels have no K, row or column tails: k is a multiple of 32, nc a multiple of the layout's N,
// nr (GEMM) a multiple of 4. The driver handles every tail.
#ifndef Q4R_KERNELS_KERNEL_TABLE_H_
#define Q4R_KERNELS_KERNEL_TABLE_H_

#include <cstddef>

namespace q4r {

enum WeightType : int { kQ4_0 = 0, kIQ4_NL = 1, kWeightTypes = 2 };
// Packed layouts only (plain has its own kernel).
enum PackedLayout : int { k4x4 = 0, k4x8 = 1, k8x8 = 2, kPackedLayouts = 3 };
// Activation chunk (interleave) index.
enum Chunk : int { kChunk4 = 0, kChunk8 = 1, kChunks = 2 };

// One activation row (plain Q8_0, k/32 blocks) against nc packed weight rows (nc/N groups, each
// k/32 interleaved blocks, starting at w). Writes s[0..nc).
using GemvFn = void (*)(int k, float* s, const void* w, const void* a, int nc);

// nr (1 to 3) activation rows (plain Q8_0, consecutive, row stride (k/32)*34) against nc packed
// weight rows, each weight block decoded once for all of them. Writes s[r*bs + c], exactly what nr
// gemv calls would write. Optional (null: the driver calls gemv nr times); the driver uses it for
// the m % 4 rows that the GEMM leaves (docs/KERNELS.md).
using GemvRowsFn = void (*)(int k, float* s, std::size_t bs, const void* w, const void* a, int nr,
                            int nc);

// nr activation rows given as nr/4 groups of 4 interleaved rows (block_q8_0x4, chunk B of the
// layout; group g at a + g*(k/32)*136) against nc packed weight rows. Writes s[m*bs + c].
using GemmFn = void (*)(int k, float* s, std::size_t bs, const void* w, const void* a, int nr,
                        int nc);

// Optional: the GEMM of nr rows (as GemmFn; nr a multiple of 4, >= 4) plus nrem (1 to 3) plain
// Q8_0 rows (consecutive at a_rows, row stride (k/32)*34) in the same pass over each decoded weight
// block; plain row r writes s[(nr + r)*bs + c], exactly what gemv_rows writes for it. The driver
// uses it for batches with m % 4 != 0 and m > 4 (null, as on ARM and scalar: GEMM, then gemv_rows):
// one leftover row then costs about a GEMM row instead of a GEMV pass (docs/KERNELS.md, M scan).
using GemmPlusRowsFn = void (*)(int k, float* s, std::size_t bs, const void* w, const void* a,
                                int nr, const void* a_rows, int nrem, int nc);

// Plain (un-repacked) weights: nc rows of k/32 blocks (row stride (k/32)*18) against nr plain Q8_0
// activation rows (row stride (k/32)*34). Writes s[m*bs + c]. Any nr >= 1, nc >= 1.
using PlainFn = void (*)(int k, float* s, std::size_t bs, const void* w, int nc, const void* a,
                         int nr);

// nrows float rows (row stride x_stride floats) -> nrows plain Q8_0 rows, contiguous.
using QuantRowsFn = void (*)(const float* x, std::size_t x_stride, void* y, int k, int nrows);

// ngroups groups of 4 float rows (rows 4g..4g+3, row stride x_stride floats) -> ngroups groups of
// block_q8_0x4 with the chunk the function is registered for, contiguous.
using QuantX4Fn = void (*)(const float* x, std::size_t x_stride, void* y, int k, int ngroups);

struct KernelTable {
  const char* name;  // "scalar", "avx2", ...
  // Activation quantizers. An ISA provides all three or none, so that the plain rows and the
  // interleaved groups of one batch round the same way.
  QuantRowsFn quant_rows;
  QuantX4Fn quant_x4[kChunks];
  PlainFn plain[kWeightTypes];
  GemvFn gemv[kWeightTypes][kPackedLayouts];
  GemvRowsFn gemv_rows[kWeightTypes][kPackedLayouts];  // optional
  GemmFn gemm[kWeightTypes][kPackedLayouts];
  GemmPlusRowsFn gemm_plus_rows[kWeightTypes][kPackedLayouts];  // optional
};

// Per-ISA fill functions. Each sets the entries it implements and leaves the others untouched;
// the dispatcher starts from the scalar table and overlays the ISA's entries.
void fill_kernels_scalar(KernelTable* t);
void fill_kernels_avx2(KernelTable* t);
void fill_kernels_avxvnni(KernelTable* t);        // 256-bit VEX vpdpbusd, no AVX-512
void fill_kernels_avx512vnni(KernelTable* t);     // 256-bit EVEX vpdpbusd (every entry)
void fill_kernels_avx512vnni512(KernelTable* t);  // 512-bit: 8x8 GEMV, GEMV rows, GEMM only
// How many times more int8 products per second zmm vpdpbusd does than ymm vpdpbusd on this core
// (kernels_avx512vnni512.cc; a few hundred microseconds; call only where AVX-512 VNNI runs).
double probe_zmm_dpbusd_speedup();
void fill_kernels_neon(KernelTable* t);
void fill_kernels_dotprod(KernelTable* t);
void fill_kernels_i8mm(KernelTable* t);
void fill_kernels_sve256(KernelTable* t);

}  // namespace q4r

#endif  // Q4R_KERNELS_KERNEL_TABLE_H_
