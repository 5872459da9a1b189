// Which kernel each table slot gets, per ISA level and CPU class: the readable plan the dispatcher
// (dispatch.cc) builds its tables from, and the choice of the AVX-512 VNNI vector width. All pure
// functions of their inputs (CPU vendor/family/model and a probe result), so that the choice is
// unit-tested without the hardware (tests/run/kernel_sets_test.cc).
#ifndef Q4R_LIB_KERNEL_SETS_H_
#define Q4R_LIB_KERNEL_SETS_H_

#include <string>

#include "kernels/kernel_table.h"
#include "q4repack/q4repack.h"

namespace q4r {

// x86 microarchitecture classes that matter for the kernel choice.
enum class CpuClass {
  kOther,           // unknown (or not x86): decided by the startup probe where that matters
  kZen4,            // AMD family 0x19 with AVX-512: zmm integer ops as two 256-bit halves
  kZen5,            // AMD family 0x1A: full-rate 512-bit datapath
  kIntelServer512,  // Ice Lake-SP, Sapphire / Emerald / Granite Rapids: 2 zmm vpdpbusd per cycle
  kIntelClient256,  // Ice Lake / Tiger Lake / Rocket Lake clients: one 512-bit port
};
const char* cpu_class_name(CpuClass c);

// Vendor string as cpuid gives it ("AuthenticAMD", "GenuineIntel"), display family and model.
CpuClass classify_x86(const std::string& vendor, int family, int model);

// The vector width of the avx512vnni level and why.
struct VnniWidth {
  bool zmm;            // 512-bit 8x8 GEMV / GEMM kernels
  std::string reason;  // for `q4repack info`
};
// zmm_speedup: measures (once) how many times more int8 products per second zmm vpdpbusd does
// than ymm vpdpbusd on this core (about 2 on full-rate 512-bit cores, about 1 on Zen 4); called
// only when the class table does not know the CPU. Null: no probe (then 256-bit).
VnniWidth choose_vnni_width(CpuClass c, double (*zmm_speedup)());
// zmm must do at least this many times the products per second of ymm for the 512-bit kernels.
constexpr double kZmmMinSpeedup = 1.4;

// One ISA level's kernel set: for each operation, the kernel files its entries come from, in
// order; a (type, layout) slot takes the entry of the first file that has one, scalar last.
using FillFn = void (*)(KernelTable*);
constexpr int kMaxSources = 3;
struct Sources {
  FillFn fill[kMaxSources];  // null-terminated
};
struct KernelSet {
  q4r_isa isa;
  const char* name;
  Sources quant, plain, gemv, gemv_rows, gemm;
};
// The set of a level (avx512vnni resolves to its 256- or 512-bit set via `zmm`); null if this
// build has none for it.
const KernelSet* kernel_set(q4r_isa isa, bool zmm);
// The merged table of a set (scalar entries where no source has one; gemv_rows stays null then).
KernelTable build_kernel_table(const KernelSet& set);

}  // namespace q4r

#endif  // Q4R_LIB_KERNEL_SETS_H_
