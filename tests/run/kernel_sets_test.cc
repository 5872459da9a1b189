// The kernel-set plan and the AVX-512 VNNI width choice, with the CPU class and the probe injected
// (no particular hardware needed).
#include "lib/run/kernel_sets.h"

#include <gtest/gtest.h>

#include "lib/run/dispatch.h"

namespace q4r {
namespace {

int g_probe_calls = 0;
double probe_full_rate() {
  ++g_probe_calls;
  return 1.85;
}
double probe_half_rate() {
  ++g_probe_calls;
  return 1.0;
}

TEST(KernelSets, ClassifiesKnownCpus) {
  EXPECT_EQ(classify_x86("AuthenticAMD", 0x19, 0x11), CpuClass::kZen4);         // EPYC 9004 (Genoa)
  EXPECT_EQ(classify_x86("AuthenticAMD", 0x19, 0x61), CpuClass::kZen4);         // Ryzen 7000
  EXPECT_EQ(classify_x86("AuthenticAMD", 0x1A, 0x02), CpuClass::kZen5);         // EPYC 9005 (Turin)
  EXPECT_EQ(classify_x86("AuthenticAMD", 0x1A, 0x44), CpuClass::kZen5);         // Ryzen 9000
  EXPECT_EQ(classify_x86("GenuineIntel", 6, 0xCF), CpuClass::kIntelServer512);  // Emerald Rapids
  EXPECT_EQ(classify_x86("GenuineIntel", 6, 0x8F), CpuClass::kIntelServer512);  // Sapphire Rapids
  EXPECT_EQ(classify_x86("GenuineIntel", 6, 0x6A), CpuClass::kIntelServer512);  // Ice Lake-SP
  EXPECT_EQ(classify_x86("GenuineIntel", 6, 0xAD), CpuClass::kIntelServer512);  // Granite Rapids
  EXPECT_EQ(classify_x86("GenuineIntel", 6, 0x8C), CpuClass::kIntelClient256);  // Tiger Lake
  EXPECT_EQ(classify_x86("GenuineIntel", 6, 0x55), CpuClass::kOther);  // Skylake-SP / Cascade Lake
  EXPECT_EQ(classify_x86("GenuineIntel", 6, 0x97), CpuClass::kOther);  // Alder Lake (no AVX-512)
  EXPECT_EQ(classify_x86("AuthenticAMD", 0x17, 0x31), CpuClass::kOther);  // Zen 2
  EXPECT_EQ(classify_x86("", 0, 0), CpuClass::kOther);
}

TEST(KernelSets, WidthFromClassTableWithoutProbe) {
  g_probe_calls = 0;
  EXPECT_TRUE(choose_vnni_width(CpuClass::kZen5, probe_half_rate).zmm);
  EXPECT_TRUE(choose_vnni_width(CpuClass::kIntelServer512, probe_half_rate).zmm);
  EXPECT_FALSE(choose_vnni_width(CpuClass::kZen4, probe_full_rate).zmm);
  EXPECT_FALSE(choose_vnni_width(CpuClass::kIntelClient256, probe_full_rate).zmm);
  EXPECT_EQ(g_probe_calls, 0);  // the table decides: no probe
  EXPECT_NE(choose_vnni_width(CpuClass::kZen5, nullptr).reason.find("Zen 5"), std::string::npos);
}

TEST(KernelSets, UnknownCpuUsesTheProbe) {
  g_probe_calls = 0;
  const VnniWidth fast = choose_vnni_width(CpuClass::kOther, probe_full_rate);
  EXPECT_TRUE(fast.zmm);
  EXPECT_NE(fast.reason.find("probe"), std::string::npos) << fast.reason;
  EXPECT_FALSE(choose_vnni_width(CpuClass::kOther, probe_half_rate).zmm);
  EXPECT_EQ(g_probe_calls, 2);
  EXPECT_FALSE(choose_vnni_width(CpuClass::kOther, nullptr).zmm);
}

TEST(KernelSets, AutoLevelResolvesToOneWidth) {
  const KernelSet* s512 = kernel_set(Q4R_ISA_AVX512VNNI, true);
  const KernelSet* s256 = kernel_set(Q4R_ISA_AVX512VNNI, false);
  if (!isa_compiled(Q4R_ISA_AVX512VNNI)) {
    EXPECT_EQ(s512, nullptr);
    GTEST_SKIP() << "no x86 kernels in this build";
  }
  ASSERT_NE(s512, nullptr);
  ASSERT_NE(s256, nullptr);
  EXPECT_EQ(s512->isa, Q4R_ISA_AVX512VNNI512);
  EXPECT_EQ(s256->isa, Q4R_ISA_AVX512VNNI256);
  // Even a fill function of an ISA file may execute that ISA's instructions (the compiler
  // vectorizes the pointer stores), so the tables are built only where AVX-512 VNNI runs (the
  // emulated tables in kernels_test.cc cover the layering elsewhere).
  if (!isa_available(Q4R_ISA_AVX512VNNI)) GTEST_SKIP() << "AVX-512 VNNI not available here";
  // The 512-bit set takes the 8x8 GEMV / GEMM and the plain kernel from the 512-bit file, the
  // rest from the 256-bit.
  const KernelTable t512 = build_kernel_table(*s512);
  const KernelTable t256 = build_kernel_table(*s256);
  for (int w = 0; w < kWeightTypes; ++w) {
    EXPECT_NE(t512.gemm[w][k8x8], t256.gemm[w][k8x8]);
    EXPECT_NE(t512.gemv[w][k8x8], t256.gemv[w][k8x8]);
    EXPECT_NE(t512.gemv_rows[w][k8x8], t256.gemv_rows[w][k8x8]);
    EXPECT_EQ(t512.gemm[w][k4x4], t256.gemm[w][k4x4]);
    EXPECT_EQ(t512.gemv[w][k4x8], t256.gemv[w][k4x8]);
    EXPECT_NE(t512.plain[w], t256.plain[w]);
    EXPECT_NE(t512.gemv_rows[w][k4x8], nullptr);
  }
  EXPECT_EQ(t512.quant_rows, t256.quant_rows);
}

TEST(KernelSets, ScalarSetHasNoMultiRowGemv) {
  const KernelTable t = build_kernel_table(*kernel_set(Q4R_ISA_SCALAR, false));
  for (int w = 0; w < kWeightTypes; ++w) {
    for (int l = 0; l < kPackedLayouts; ++l) {
      EXPECT_EQ(t.gemv_rows[w][l], nullptr);
      EXPECT_NE(t.gemv[w][l], nullptr);
    }
  }
}

}  // namespace
}  // namespace q4r
