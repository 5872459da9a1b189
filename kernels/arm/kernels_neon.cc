// Placeholder: the neon kernels land here. Until then the dispatcher uses the scalar entries.
#include "kernel_table.h"

namespace q4r {
void fill_kernels_neon(KernelTable* t) {
  t->name = "neon";
}
}  // namespace q4r
