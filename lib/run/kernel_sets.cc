#include "kernel_sets.h"

#include <cstdio>

namespace q4r {

const char* cpu_class_name(CpuClass c) {
  switch (c) {
    case CpuClass::kZen4:
      return "AMD Zen 4";
    case CpuClass::kZen5:
      return "AMD Zen 5";
    case CpuClass::kIntelServer512:
      return "Intel Ice Lake-SP .. Granite Rapids";
    case CpuClass::kIntelClient256:
      return "Intel Ice Lake / Tiger Lake / Rocket Lake client";
    case CpuClass::kOther:
      break;
  }
  return "unknown";
}

CpuClass classify_x86(const std::string& vendor, int family, int model) {
  if (vendor == "AuthenticAMD" || vendor == "HygonGenuine") {
    // Family 0x19 is Zen 3 and Zen 4; only Zen 4 has AVX-512, the only case asked about here.
    if (family == 0x19) return CpuClass::kZen4;
    if (family == 0x1A) return CpuClass::kZen5;
    return CpuClass::kOther;
  }
  if (vendor == "GenuineIntel" && family == 6) {
    switch (model) {
      case 0x6A:  // Ice Lake-SP
      case 0x6C:  // Ice Lake-D
      case 0x8F:  // Sapphire Rapids
      case 0xCF:  // Emerald Rapids
      case 0xAD:  // Granite Rapids
      case 0xAE:  // Granite Rapids-D
        return CpuClass::kIntelServer512;
      case 0x7D:  // Ice Lake client
      case 0x7E:
      case 0x8C:  // Tiger Lake
      case 0x8D:
      case 0xA7:  // Rocket Lake
        return CpuClass::kIntelClient256;
      default:
        break;
    }
  }
  return CpuClass::kOther;
}

VnniWidth choose_vnni_width(CpuClass c, double (*zmm_speedup)()) {
  const std::string cls = cpu_class_name(c);
  switch (c) {
    case CpuClass::kZen5:
    case CpuClass::kIntelServer512:
      return {true, cls + " (class table): zmm vpdpbusd at full rate"};
    case CpuClass::kZen4:
    case CpuClass::kIntelClient256:
      return {false, cls + " (class table): zmm vpdpbusd at half rate"};
    case CpuClass::kOther:
      break;
  }
  if (!zmm_speedup) return {false, "unknown CPU, no probe: 256-bit"};
  const double s = zmm_speedup();
  char buf[128];
  std::snprintf(buf, sizeof buf, "unknown CPU; probe: zmm/ymm vpdpbusd throughput %.2fx (%s %.1f)",
                s, s >= kZmmMinSpeedup ? ">=" : "<", kZmmMinSpeedup);
  return {s >= kZmmMinSpeedup, buf};
}

namespace {

// ---------------------------------------------------------------- the kernel sets
// Read across: for each operation, the kernel files an ISA level takes its entries from, first
// file first (a file may fill only some types and layouts: kernels_avx512vnni512.cc fills the 8x8
// GEMV, GEMV rows and GEMM, so 4x4 and 4x8 come from the 256-bit file). Evidence per choice in
// docs/KERNELS.md ("Kernel sets"): on Zen 5, VNNI beats AVX2 in every operation once the VNNI file
// is built with -O3, and zmm beats ymm for the 8x8 GEMV and GEMM.
#if defined(Q4R_KERNELS_X86)
constexpr FillFn kAvx2 = fill_kernels_avx2;
constexpr FillFn kAvxVnni = fill_kernels_avxvnni;
constexpr FillFn kVnni256 = fill_kernels_avx512vnni;
constexpr FillFn kVnni512 = fill_kernels_avx512vnni512;
constexpr FillFn kQuant = fill_kernels_avx2;  // the x86 activation quantizers (quant_x86.h)

const KernelSet kSets[] = {
    //  level                  name             quant     plain        gemv
    //                                                    gemv_rows    gemm
    {Q4R_ISA_AVX2, "avx2", {kQuant}, {kAvx2}, {kAvx2}, {kAvx2}, {kAvx2}},
    {Q4R_ISA_AVXVNNI, "avxvnni", {kQuant}, {kAvxVnni}, {kAvxVnni}, {kAvxVnni}, {kAvxVnni}},
    {Q4R_ISA_AVX512VNNI256,
     "avx512vnni256",
     {kQuant},
     {kVnni256},
     {kVnni256},
     {kVnni256},
     {kVnni256}},
    {Q4R_ISA_AVX512VNNI512,
     "avx512vnni512",
     {kQuant},
     {kVnni512, kVnni256},
     {kVnni512, kVnni256},
     {kVnni512, kVnni256},
     {kVnni512, kVnni256}},
};
#elif defined(Q4R_KERNELS_ARM)
const KernelSet kSets[] = {
    {Q4R_ISA_NEON,
     "neon",
     {fill_kernels_neon},
     {fill_kernels_neon},
     {fill_kernels_neon},
     {fill_kernels_neon},
     {fill_kernels_neon}},
    {Q4R_ISA_DOTPROD,
     "dotprod",
     {fill_kernels_dotprod},
     {fill_kernels_dotprod},
     {fill_kernels_dotprod},
     {fill_kernels_dotprod},
     {fill_kernels_dotprod}},
    {Q4R_ISA_I8MM,
     "i8mm",
     {fill_kernels_i8mm},
     {fill_kernels_i8mm},
     {fill_kernels_i8mm},
     {fill_kernels_i8mm},
     {fill_kernels_i8mm}},
    // 8x8 from the SVE 256 file, everything else from i8mm (fill_kernels_sve256 stacks on it).
    {Q4R_ISA_SVE256,
     "sve256",
     {fill_kernels_sve256},
     {fill_kernels_sve256},
     {fill_kernels_sve256},
     {fill_kernels_sve256},
     {fill_kernels_sve256}},
};
#else
const KernelSet kSets[] = {{Q4R_ISA_SCALAR, "scalar", {}, {}, {}, {}, {}}};
#endif
const KernelSet kScalarSet = {Q4R_ISA_SCALAR, "scalar", {}, {}, {}, {}, {}};

// The entries of one source file (scalar excluded), filled once per call.
KernelTable own_table(FillFn fill) {
  KernelTable t{};
  fill(&t);
  return t;
}

}  // namespace

const KernelSet* kernel_set(q4r_isa isa, bool zmm) {
  if (isa == Q4R_ISA_SCALAR) return &kScalarSet;
  if (isa == Q4R_ISA_AVX512VNNI) isa = zmm ? Q4R_ISA_AVX512VNNI512 : Q4R_ISA_AVX512VNNI256;
  for (const KernelSet& s : kSets) {
    if (s.isa == isa) return &s;
  }
  return nullptr;
}

KernelTable build_kernel_table(const KernelSet& set) {
  KernelTable t{};
  fill_kernels_scalar(&t);
  t.name = set.name;
  // Activation quantizers go together (same rounding for plain rows and interleaved groups).
  for (FillFn f : set.quant.fill) {
    if (!f) break;
    const KernelTable o = own_table(f);
    if (o.quant_rows && o.quant_x4[kChunk4] && o.quant_x4[kChunk8]) {
      t.quant_rows = o.quant_rows;
      t.quant_x4[kChunk4] = o.quant_x4[kChunk4];
      t.quant_x4[kChunk8] = o.quant_x4[kChunk8];
      break;
    }
  }
  for (int w = 0; w < kWeightTypes; ++w) {
    for (int l = 0; l < kPackedLayouts; ++l) t.gemv_rows[w][l] = nullptr;  // never the scalar one
  }
  // Later sources only fill slots that earlier ones left empty: walk each list backwards.
  auto take = [](const Sources& src, auto&& copy) {
    int n = 0;
    while (n < kMaxSources && src.fill[n]) ++n;
    for (int i = n - 1; i >= 0; --i) copy(own_table(src.fill[i]));
  };
  take(set.plain, [&](const KernelTable& o) {
    for (int w = 0; w < kWeightTypes; ++w) {
      if (o.plain[w]) t.plain[w] = o.plain[w];
    }
  });
  take(set.gemv, [&](const KernelTable& o) {
    for (int w = 0; w < kWeightTypes; ++w) {
      for (int l = 0; l < kPackedLayouts; ++l) {
        if (o.gemv[w][l]) t.gemv[w][l] = o.gemv[w][l];
      }
    }
  });
  take(set.gemv_rows, [&](const KernelTable& o) {
    for (int w = 0; w < kWeightTypes; ++w) {
      for (int l = 0; l < kPackedLayouts; ++l) {
        if (o.gemv_rows[w][l]) t.gemv_rows[w][l] = o.gemv_rows[w][l];
      }
    }
  });
  // The optional GEMM + leftover rows goes with the GEMM (never the scalar one).
  for (int w = 0; w < kWeightTypes; ++w) {
    for (int l = 0; l < kPackedLayouts; ++l) t.gemm_plus_rows[w][l] = nullptr;
  }
  take(set.gemm, [&](const KernelTable& o) {
    for (int w = 0; w < kWeightTypes; ++w) {
      for (int l = 0; l < kPackedLayouts; ++l) {
        if (o.gemm[w][l]) t.gemm[w][l] = o.gemm[w][l];
        if (o.gemm[w][l]) t.gemm_plus_rows[w][l] = o.gemm_plus_rows[w][l];
      }
    }
  });
  return t;
}

}  // namespace q4r
