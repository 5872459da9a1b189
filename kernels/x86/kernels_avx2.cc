// Placeholder: the avx2 kernels land here. Until then the dispatcher uses the scalar entries.
#include "kernel_table.h"

namespace q4r {
void fill_kernels_avx2(KernelTable* t) {
  t->name = "avx2";
}
}  // namespace q4r
