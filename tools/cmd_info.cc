// q4repack info: what this build and this CPU can do, and what the library will use.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli.h"
#include "lib/run/dispatch.h"

namespace {

const q4r_type kWeightTypes[] = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};

std::string isa_list(bool (*pred)(q4r_isa)) {
  std::string s;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (pred(q4r_isa(i))) s += std::string(s.empty() ? "" : " ") + q4r_isa_name(q4r_isa(i));
  }
  return s;
}

}  // namespace

int cmd_info(int argc, char** argv) {
  q4r::cli::ArgParser(
      "info", "",
      "Prints the library version, the CPU and the features the dispatcher reads, the\n"
      "kernels compiled in, the instruction sets usable here, the one selected (set\n"
      "Q4REPACK_ISA=NAME to force one), the kernel set it runs on this CPU and why\n"
      "(avx512vnni: 256- or 512-bit, from a CPU class table or a startup probe), and\n"
      "the preferred layout per weight type.")
      .parse(argc, argv);

  const q4r::CpuReport cpu = q4r::cpu_report();
  std::printf("version:          %s\n", q4r_version_string());
  std::string brand = cpu.vendor;
  if (!cpu.brand.empty()) brand += (brand.empty() ? "" : " ") + cpu.brand;
  std::printf("cpu:              %s%s(%s%s%s)\n", brand.c_str(), brand.empty() ? "" : " ",
              cpu.arch.c_str(), cpu.model.empty() ? "" : ", ", cpu.model.c_str());
  if (!cpu.cpu_class.empty()) std::printf("cpu class:        %s\n", cpu.cpu_class.c_str());
  std::string features;
  for (const auto& [name, on] : cpu.features) {
    features += (features.empty() ? "" : " ") + std::string(on ? "+" : "-") + name;
  }
  std::printf("features:         %s\n", features.empty() ? "(none detected)" : features.c_str());
  std::printf("kernels compiled: %s\n", isa_list(q4r::isa_compiled).c_str());
  std::printf("isa available:    %s\n", isa_list(q4r::isa_available).c_str());

  // Whether the selection was forced: the library reads Q4REPACK_ISA once and ignores (with its own
  // message on stderr) a name that is unknown or unavailable.
  const q4r_isa active = q4r_active_isa();
  const char* env = std::getenv("Q4REPACK_ISA");
  q4r_isa forced;
  std::string how = "best available";
  if (env && *env) {
    if (q4r_parse_isa(env, &forced) == Q4R_OK && forced == active && q4r_isa_available(forced)) {
      how = std::string("forced by Q4REPACK_ISA=") + env;
    } else {
      how = std::string("best available; Q4REPACK_ISA=") + env + " ignored";
    }
  }
  std::printf("isa selected:     %s (%s)\n", q4r_isa_name(active), how.c_str());
  if (const std::string k = q4r::kernel_choice(active); !k.empty()) {
    std::printf("kernel set:       %s\n", k.c_str());
  }

  std::string layouts;
  for (q4r_type t : kWeightTypes) {
    layouts += std::string(layouts.empty() ? "" : ", ") + q4r_type_name(t) + " " +
               q4r_layout_name(q4r_preferred_layout(t, active));
  }
  std::printf("preferred layout: %s\n", layouts.c_str());
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    const q4r_isa isa = q4r_isa(i);
    if (!q4r_isa_available(isa) || isa == active) continue;
    std::string other;
    for (q4r_type t : kWeightTypes) {
      other += std::string(other.empty() ? "" : ", ") + q4r_type_name(t) + " " +
               q4r_layout_name(q4r_preferred_layout(t, isa));
    }
    std::printf("  on %-14s %s\n", (std::string(q4r_isa_name(isa)) + ":").c_str(), other.c_str());
  }
  return q4r::cli::kExitOk;
}
