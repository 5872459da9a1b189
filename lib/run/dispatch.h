// Run-time dispatch, in one place: detect the CPU once (cpu_features), build one merged kernel
// table per ISA (scalar entries overlaid with the ISA's own), and keep the process-wide active ISA
// (best available, or forced by Q4REPACK_ISA / q4r_set_isa).
#ifndef Q4R_LIB_DISPATCH_H_
#define Q4R_LIB_DISPATCH_H_

#include <string>
#include <utility>
#include <vector>

#include "kernels/kernel_table.h"
#include "q4repack/q4repack.h"

namespace q4r {

// Kernels for this ISA were compiled into the library.
bool isa_compiled(q4r_isa isa);
// Compiled in and runnable on this CPU/OS.
bool isa_available(q4r_isa isa);
q4r_isa best_isa();

// The merged table of an available ISA (undefined for an unavailable one: check first).
const KernelTable& kernels_for(q4r_isa isa);

q4r_isa active_isa();
// Q4R_E_ISA (with a message) if unavailable.
q4r_status set_active_isa(q4r_isa isa);
inline const KernelTable& active_kernels() {
  return kernels_for(active_isa());
}

q4r_layout preferred_layout(q4r_type type, q4r_isa isa);

// Which kernels a level runs on this CPU and why ("512-bit 8x8 GEMV/GEMM; AMD Zen 5 (class
// table): ..."); empty for levels without a choice.
std::string kernel_choice(q4r_isa isa);

struct CpuReport {
  std::string arch;                                    // "x86_64" / "aarch64" / other
  std::string vendor;                                  // may be empty
  std::string brand;                                   // may be empty
  std::string model;                                   // "family 0x1a model 0x2" (x86)
  std::string cpu_class;                               // kernel_sets.h CpuClass name (x86)
  std::vector<std::pair<std::string, bool>> features;  // the flags the dispatcher reads
};
CpuReport cpu_report();

}  // namespace q4r

#endif  // Q4R_LIB_DISPATCH_H_
