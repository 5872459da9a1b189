// Thread-local error messages behind q4r_last_error().
#ifndef Q4R_LIB_ERROR_H_
#define Q4R_LIB_ERROR_H_

#include "q4repack/q4repack.h"

namespace q4r {

// Records a printf-style message for this thread and returns `status`.
q4r_status fail(q4r_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Clears the message (called at the start of every API entry point).
void clear_error();

}  // namespace q4r

#endif  // Q4R_LIB_ERROR_H_
