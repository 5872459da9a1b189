// Placeholder: the dotprod kernels land here. Until then the dotprod level runs the NEON kernels (and the
// NEON activation quantizers, which every ARM level shares).
#include "kernel_table.h"

namespace q4r {
void fill_kernels_dotprod(KernelTable* t) {
  fill_kernels_neon(t);
  t->name = "dotprod";
}
}  // namespace q4r
