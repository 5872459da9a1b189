// Placeholder: the i8mm kernels land here. Until then the dispatcher uses the scalar entries.
#include "kernel_table.h"

namespace q4r {
void fill_kernels_i8mm(KernelTable* t) {
  t->name = "i8mm";
}
}  // namespace q4r
