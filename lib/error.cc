#include "error.h"

#include <cstdarg>
#include <cstdio>

namespace q4r {

thread_local char g_message[512];

q4r_status fail(q4r_status status, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(g_message, sizeof g_message, fmt, args);
  va_end(args);
  return status;
}

void clear_error() {
  g_message[0] = '\0';
}

}  // namespace q4r

extern "C" const char* q4r_last_error(void) {
  return q4r::g_message;
}
