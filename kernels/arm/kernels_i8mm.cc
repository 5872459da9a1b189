// Placeholder: the i8mm kernels land here. Until then the i8mm level runs the NEON kernels (and the
// NEON activation quantizers, which every ARM level shares).
#include "kernel_table.h"

namespace q4r {
void fill_kernels_i8mm(KernelTable* t) {
  fill_kernels_neon(t);
  t->name = "i8mm";
}
}  // namespace q4r
