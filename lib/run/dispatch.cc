#include "dispatch.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "kernel_sets.h"
#include "lib/error.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <cpuinfo_x86.h>
#define Q4R_ARCH_X86 1
#elif defined(__aarch64__)
#include <cpuinfo_aarch64.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#define Q4R_ARCH_ARM64 1
#endif

namespace q4r {
namespace {

#if defined(Q4R_ARCH_ARM64)
// The SVE vector length in bytes of this thread (0 if unknown). Asked from the kernel (prctl), not
// with an SVE instruction, so that this baseline file stays free of SVE code.
int sve_vector_bytes() {
#if defined(__linux__) && defined(PR_SVE_GET_VL)
  const int vl = prctl(PR_SVE_GET_VL);
  return vl < 0 ? 0 : (vl & PR_SVE_VL_LEN_MASK);
#else
  return 0;
#endif
}
#endif

struct Detected {
  bool isa[Q4R_ISA_COUNT] = {};
  CpuReport report;
  CpuClass cpu_class = CpuClass::kOther;
};

#if defined(Q4R_ARCH_X86)
// AVX-VNNI (VEX vpdpbusd): CPUID leaf 7 sub-leaf 1, EAX bit 4 (cpu_features 0.7 does not know it;
// TOOLCHAIN.md). The OS support for ymm state is implied by cpu_features' avx2 flag.
bool cpuid_avxvnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a >> 4) & 1;
}
#endif

const Detected& detected() {
  static const Detected d = [] {
    Detected r;
    r.isa[Q4R_ISA_SCALAR] = true;
#if defined(Q4R_ARCH_X86)
    const cpu_features::X86Info info = cpu_features::GetX86Info();
    const cpu_features::X86Features& f = info.features;
    r.report.arch = "x86_64";
    r.report.vendor = info.vendor;
    r.report.brand = info.brand_string;
    const bool avx2 = f.avx2 && f.fma3 && f.f16c;
    const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
    const bool avxvnni = avx2 && cpuid_avxvnni();
    r.isa[Q4R_ISA_AVX2] = avx2;
    r.isa[Q4R_ISA_AVXVNNI] = avxvnni;
    r.isa[Q4R_ISA_AVX512VNNI] = avx512 && f.avx512vnni;
    r.isa[Q4R_ISA_AVX512VNNI256] = r.isa[Q4R_ISA_AVX512VNNI];
    r.isa[Q4R_ISA_AVX512VNNI512] = r.isa[Q4R_ISA_AVX512VNNI];
    r.cpu_class = classify_x86(info.vendor, info.family, info.model);
    char fm[64];
    std::snprintf(fm, sizeof fm, "family 0x%x model 0x%x", info.family, info.model);
    r.report.model = fm;
    r.report.cpu_class = cpu_class_name(r.cpu_class);
    r.report.features = {
        {"avx2", !!f.avx2},         {"fma3", !!f.fma3},         {"f16c", !!f.f16c},
        {"avxvnni", avxvnni},       {"avx512f", !!f.avx512f},   {"avx512bw", !!f.avx512bw},
        {"avx512vl", !!f.avx512vl}, {"avx512dq", !!f.avx512dq}, {"avx512vnni", !!f.avx512vnni}};
#elif defined(Q4R_ARCH_ARM64)
    const cpu_features::Aarch64Info info = cpu_features::GetAarch64Info();
    const cpu_features::Aarch64Features& f = info.features;
    r.report.arch = "aarch64";
    r.isa[Q4R_ISA_NEON] = !!f.asimd;
    r.isa[Q4R_ISA_DOTPROD] = f.asimd && f.asimddp;
    r.isa[Q4R_ISA_I8MM] = f.asimd && f.asimddp && f.i8mm;
    // The sve256 kernels use fixed 256-bit vectors: only for exactly that length (other lengths
    // keep the i8mm / dotprod kernels).
    const int sve_bytes = f.sve ? sve_vector_bytes() : 0;
    r.isa[Q4R_ISA_SVE256] = r.isa[Q4R_ISA_I8MM] && f.sve && sve_bytes == 32;
    r.report.features = {{"asimd", !!f.asimd},       {"asimddp", !!f.asimddp}, {"i8mm", !!f.i8mm},
                         {"sve", !!f.sve},           {"sve2", !!f.sve2},       {"bf16", !!f.bf16},
                         {"sve256", sve_bytes == 32}};
#else
    r.report.arch = "other";
#endif
    for (int i = 0; i < Q4R_ISA_COUNT; ++i) r.isa[i] = r.isa[i] && isa_compiled(q4r_isa(i));
    return r;
  }();
  return d;
}

// The AVX-512 VNNI vector width of this CPU, decided once (class table, else a short probe).
const VnniWidth& vnni_width() {
  static const VnniWidth w = [] {
#if defined(Q4R_KERNELS_X86)
    if (detected().isa[Q4R_ISA_AVX512VNNI]) {
      return choose_vnni_width(detected().cpu_class, probe_zmm_dpbusd_speedup);
    }
#endif
    return VnniWidth{false, "no AVX-512 VNNI"};
  }();
  return w;
}

KernelTable build_table(q4r_isa isa) {
  const KernelSet* set = kernel_set(isa, isa == Q4R_ISA_AVX512VNNI && vnni_width().zmm);
  KernelTable t = build_kernel_table(set ? *set : *kernel_set(Q4R_ISA_SCALAR, false));
  t.name = q4r_isa_name(isa);
  return t;
}

std::atomic<int> g_active{-1};
std::once_flag g_active_once;

void init_active() {
  q4r_isa isa = best_isa();
  if (const char* env = std::getenv("Q4REPACK_ISA"); env && *env) {
    q4r_isa forced;
    if (q4r_parse_isa(env, &forced) != Q4R_OK) {
      std::fprintf(stderr, "q4repack: Q4REPACK_ISA=%s is not an ISA name; using %s\n", env,
                   q4r_isa_name(isa));
    } else if (!isa_available(forced)) {
      std::fprintf(stderr, "q4repack: Q4REPACK_ISA=%s is not available on this CPU; using %s\n",
                   env, q4r_isa_name(isa));
    } else {
      isa = forced;
    }
  }
  g_active.store(isa);
}

}  // namespace

bool isa_compiled(q4r_isa isa) {
  switch (isa) {
    case Q4R_ISA_SCALAR:
      return true;
#if defined(Q4R_KERNELS_X86)
    case Q4R_ISA_AVX2:
    case Q4R_ISA_AVXVNNI:
    case Q4R_ISA_AVX512VNNI:
    case Q4R_ISA_AVX512VNNI256:
    case Q4R_ISA_AVX512VNNI512:
      return true;
#endif
#if defined(Q4R_KERNELS_ARM)
    case Q4R_ISA_NEON:
    case Q4R_ISA_DOTPROD:
    case Q4R_ISA_I8MM:
    case Q4R_ISA_SVE256:
      return true;
#endif
    default:
      return false;
  }
}

bool isa_available(q4r_isa isa) {
  return isa >= 0 && isa < Q4R_ISA_COUNT && detected().isa[isa];
}

q4r_isa best_isa() {
  // Best first. avx512vnni256 / avx512vnni512 only force a width: avx512vnni runs the chosen one.
  constexpr q4r_isa kOrder[] = {Q4R_ISA_AVX512VNNI, Q4R_ISA_AVXVNNI, Q4R_ISA_AVX2, Q4R_ISA_SVE256,
                                Q4R_ISA_I8MM,       Q4R_ISA_DOTPROD, Q4R_ISA_NEON};
  for (q4r_isa isa : kOrder) {
    if (isa_available(isa)) return isa;
  }
  return Q4R_ISA_SCALAR;
}

std::string kernel_choice(q4r_isa isa) {
  switch (isa) {
    case Q4R_ISA_AVX512VNNI:
      return std::string(vnni_width().zmm ? "512-bit" : "256-bit") + " 8x8 GEMV/GEMM; " +
             vnni_width().reason;
    case Q4R_ISA_AVX512VNNI512:
      return "512-bit 8x8 GEMV/GEMM (forced)";
    case Q4R_ISA_AVX512VNNI256:
      return "256-bit (forced)";
    default:
      return "";
  }
}

const KernelTable& kernels_for(q4r_isa isa) {
  static const struct Tables {
    KernelTable t[Q4R_ISA_COUNT];
    Tables() {
      for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
        t[i] = isa_available(q4r_isa(i)) ? build_table(q4r_isa(i)) : build_table(Q4R_ISA_SCALAR);
      }
    }
  } tables;
  return tables.t[isa];
}

q4r_isa active_isa() {
  std::call_once(g_active_once, init_active);
  return q4r_isa(g_active.load(std::memory_order_relaxed));
}

q4r_status set_active_isa(q4r_isa isa) {
  std::call_once(g_active_once, init_active);
  if (isa < 0 || isa >= Q4R_ISA_COUNT) {
    return fail(Q4R_E_ARGUMENT, "isa %d is not a q4r_isa value", int(isa));
  }
  if (!isa_available(isa)) {
    return fail(Q4R_E_ISA, "isa %s is not available on this CPU or not compiled in",
                q4r_isa_name(isa));
  }
  g_active.store(isa);
  return Q4R_OK;
}

q4r_layout preferred_layout(q4r_type type, q4r_isa isa) {
  (void)type;
  switch (isa) {
    case Q4R_ISA_SVE256:
      return Q4R_LAYOUT_8X8;  // GGML's layout there too; the only one with SVE kernels
    case Q4R_ISA_I8MM:
      return Q4R_LAYOUT_4X8;
    case Q4R_ISA_DOTPROD:
    case Q4R_ISA_NEON:
      return Q4R_LAYOUT_4X4;
    case Q4R_ISA_AVX2:
    case Q4R_ISA_AVXVNNI:
    case Q4R_ISA_AVX512VNNI:
    case Q4R_ISA_AVX512VNNI256:
    case Q4R_ISA_AVX512VNNI512:
      // Measured (docs/KERNELS.md): 8x8 is the fastest x86 layout for both types, GEMV and GEMM
      // (4x8 ties on GEMM, trails on GEMV; 4x4 is 15-30% slower), and it is GGML's x86 layout.
      return Q4R_LAYOUT_8X8;
    default:
      return Q4R_LAYOUT_8X8;
  }
}

CpuReport cpu_report() {
  return detected().report;
}

}  // namespace q4r
