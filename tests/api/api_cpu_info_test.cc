// q4r_cpu_info and q4r_isa_kernel_set report what the dispatcher detected: the same texts as the
// run-time's own report (lib/run/dispatch.h), and features consistent with the available ISAs.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "lib/run/dispatch.h"
#include "q4repack/q4repack.h"

namespace q4r::test {
namespace {

std::string cpu_text(q4r_cpu_info_key key) {
  size_t length = 0;
  EXPECT_EQ(q4r_cpu_info(key, nullptr, 0, &length), Q4R_OK) << q4r_last_error();
  std::string text(length + 1, '#');
  size_t again = 0;
  EXPECT_EQ(q4r_cpu_info(key, text.data(), text.size(), &again), Q4R_OK) << q4r_last_error();
  EXPECT_EQ(again, length);
  EXPECT_EQ(text[length], '\0');
  text.resize(length);
  return text;
}

std::set<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::set<std::string> out;
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

TEST(ApiCpuInfo, TextsAreTheDispatchersReport) {
  const CpuReport cpu = cpu_report();
  EXPECT_EQ(cpu_text(Q4R_CPU_ARCH), cpu.arch);
  // Vendor and brand without cpuid's space padding.
  const std::string brand = cpu_text(Q4R_CPU_BRAND), vendor = cpu_text(Q4R_CPU_VENDOR);
  EXPECT_NE(cpu.brand.find(brand), std::string::npos) << brand;
  EXPECT_NE(cpu.vendor.find(vendor), std::string::npos) << vendor;
  for (const std::string& s : {brand, vendor}) {
    if (!s.empty()) {
      EXPECT_TRUE(s.front() != ' ' && s.back() != ' ') << '"' << s << '"';
    }
  }
  EXPECT_EQ(cpu_text(Q4R_CPU_MODEL), cpu.model);
  EXPECT_EQ(cpu_text(Q4R_CPU_CLASS), cpu.cpu_class.empty() ? "unknown" : cpu.cpu_class);
  std::set<std::string> present, checked;
  for (const auto& [name, on] : cpu.features) {
    checked.insert(name);
    if (on) present.insert(name);
  }
  EXPECT_EQ(words(cpu_text(Q4R_CPU_FEATURES)), present);
  EXPECT_EQ(words(cpu_text(Q4R_CPU_FEATURES_CHECKED)), checked);
#if defined(__x86_64__)
  EXPECT_EQ(cpu_text(Q4R_CPU_ARCH), "x86_64");
  EXPECT_FALSE(checked.empty());
#elif defined(__aarch64__)
  EXPECT_EQ(cpu_text(Q4R_CPU_ARCH), "aarch64");
#endif
}

TEST(ApiCpuInfo, FeaturesAgreeWithTheAvailableIsas) {
  const std::set<std::string> f = words(cpu_text(Q4R_CPU_FEATURES));
  auto has = [&](const char* name) { return f.count(name) == 1; };
  if (q4r_isa_available(Q4R_ISA_AVX2)) {
    EXPECT_TRUE(has("avx2") && has("fma3") && has("f16c"));
  }
  if (q4r_isa_available(Q4R_ISA_AVXVNNI)) {
    EXPECT_TRUE(has("avxvnni"));
  }
  if (q4r_isa_available(Q4R_ISA_AVX512VNNI)) {
    EXPECT_TRUE(has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq") &&
                has("avx512vnni"));
  }
  if (q4r_isa_available(Q4R_ISA_NEON)) {
    EXPECT_TRUE(has("asimd"));
  }
  if (q4r_isa_available(Q4R_ISA_DOTPROD)) {
    EXPECT_TRUE(has("asimddp"));
  }
  if (q4r_isa_available(Q4R_ISA_I8MM)) {
    EXPECT_TRUE(has("i8mm"));
  }
}

TEST(ApiCpuInfo, KernelSetOfEveryAvailableIsa) {
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    const q4r_isa isa = q4r_isa(i);
    if (!q4r_isa_available(isa)) continue;
    size_t length = 99;
    ASSERT_EQ(q4r_isa_kernel_set(isa, nullptr, 0, &length), Q4R_OK) << q4r_last_error();
    std::string text(length + 1, '#');
    ASSERT_EQ(q4r_isa_kernel_set(isa, text.data(), text.size(), nullptr), Q4R_OK);
    text.resize(length);
    EXPECT_EQ(text, kernel_choice(isa)) << q4r_isa_name(isa);
    // Only the AVX-512 VNNI levels choose between kernel variants.
    const bool chooses =
        isa == Q4R_ISA_AVX512VNNI || isa == Q4R_ISA_AVX512VNNI256 || isa == Q4R_ISA_AVX512VNNI512;
    EXPECT_EQ(!text.empty(), chooses) << q4r_isa_name(isa) << ": " << text;
  }
}

}  // namespace
}  // namespace q4r::test
