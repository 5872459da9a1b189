// Placeholder: the dotprod kernels land here. Until then the dispatcher uses the scalar entries.
#include "kernel_table.h"

namespace q4r {
void fill_kernels_dotprod(KernelTable* t) {
  t->name = "dotprod";
}
}  // namespace q4r
