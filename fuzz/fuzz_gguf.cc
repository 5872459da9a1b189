// libFuzzer target: the GGUF reader on arbitrary bytes. Every input must parse or be rejected with
// Q4R_E_FORMAT; whatever parses must be safe to walk completely.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "lib/file/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  q4r::GgufFile f;
  const q4r_status s = f.parse(data, size);
  if (s != Q4R_OK) {
    if (s != Q4R_E_FORMAT) std::abort();
    return 0;
  }
  for (const q4r::GgufKv& kv : f.kvs) (void)q4r::gguf_value_json(kv.value);
  for (const q4r::GgufTensor& t : f.tensors) {
    if (t.data && (t.data < data || t.data + t.nbytes > data + size)) std::abort();
    (void)t.shape_string();
    // Touch the first and last byte of every tensor the reader hands out.
    if (t.data && t.nbytes) {
      volatile uint8_t sink = t.data[0];
      sink = t.data[t.nbytes - 1];
      (void)sink;
    }
  }
  (void)q4r::gguf_weight_shapes(f);
  return 0;
}
