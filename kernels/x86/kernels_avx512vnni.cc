// Placeholder: the avx512vnni kernels land here. Until then the dispatcher uses the scalar entries.
#include "kernel_table.h"

namespace q4r {
void fill_kernels_avx512vnni(KernelTable* t) {
  t->name = "avx512vnni";
}
}  // namespace q4r
