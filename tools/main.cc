// q4repack command-line tool (placeholder: info only).
#include <cstdio>
#include <cstring>

#include "lib/dispatch.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "info") == 0) {
    const q4r::CpuReport r = q4r::cpu_report();
    std::printf("q4repack %s\ncpu: %s %s (%s)\n", q4r_version_string(), r.vendor.c_str(),
                r.brand.c_str(), r.arch.c_str());
    for (auto& [name, on] : r.features)
      std::printf("  %-12s %s\n", name.c_str(), on ? "yes" : "no");
    std::printf("active isa: %s\n", q4r_isa_name(q4r_active_isa()));
    return 0;
  }
  std::fprintf(stderr, "usage: q4repack info\n");
  return 2;
}
