// libFuzzer target: the .q4p reader. The first input byte selects whether the header and directory
// checksums are recomputed first (so the fuzzer gets past them and into the field checks); the
// rest is the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "q4repack/q4p.h"

namespace {

uint64_t load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
void store64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool reseal = data[0] & 1;
  const unsigned flags = (data[0] & 2) ? Q4R_Q4P_VERIFY : 0;
  std::vector<uint8_t> file(data + 1, data + size);
  if (reseal && file.size() >= 128) {
    const uint64_t dir_bytes = load64(&file[32]);
    if (dir_bytes <= file.size() - 128) store64(&file[72], q4r_checksum64(&file[128], dir_bytes));
    store64(&file[120], q4r_checksum64(file.data(), 120));
  }
  q4r_q4p* p = nullptr;
  const q4r_status s = q4r_q4p_open_buffer(file.data(), file.size(), flags, &p);
  if (s != Q4R_OK) {
    if (p || (s != Q4R_E_FORMAT && s != Q4R_E_MISMATCH && s != Q4R_E_ISA)) std::abort();
    return 0;
  }
  for (size_t i = 0; i < q4r_q4p_tensor_count(p); ++i) {
    q4r_q4p_tensor t;
    if (q4r_q4p_get_tensor(p, i, &t) != Q4R_OK) std::abort();
    const auto* d = static_cast<const uint8_t*>(t.data);
    if (d < file.data() || d + t.size > file.data() + file.size()) std::abort();
    if (t.size != t.matrix_bytes * size_t(t.matrices)) std::abort();
    // What a program does next: unpack the first matrix.
    if (t.matrix_bytes <= (1u << 20)) {
      std::vector<uint8_t> plain(t.matrix_bytes);
      if (t.layout != Q4R_LAYOUT_PLAIN &&
          q4r_unpack(t.type, t.layout, d, plain.data(), t.matrix_bytes, t.rows, t.k) != Q4R_OK) {
        std::abort();
      }
    }
    q4r_q4p_tensor again;
    if (q4r_q4p_find_tensor(p, t.name, &again) != Q4R_OK) std::abort();
  }
  q4r_q4p_close(p);
  return 0;
}
