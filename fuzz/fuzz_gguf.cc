// libFuzzer target: the GGUF reader on arbitrary bytes. Every input must parse or be rejected with
// Q4R_E_FORMAT; whatever parses must be safe to walk completely, and converting its legacy
// pre-repacked tensors (types 31-33, 36) must either work, giving a file that parses with plain
// types at the same offsets, or refuse the file for a tensor of an unknown type.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "lib/file/gguf.h"
#include "lib/file/gguf_convert.h"

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

  std::vector<uint8_t> out;
  const q4r_status c = q4r::convert_buffer(f, &out);
  if (c == Q4R_E_UNSUPPORTED) return 0;
  if (c != Q4R_OK || out.size() != size) std::abort();
  q4r::GgufFile g;
  if (g.parse(out.data(), out.size()) != Q4R_OK || g.tensors.size() != f.tensors.size())
    std::abort();
  for (std::size_t i = 0; i < g.tensors.size(); ++i) {
    const q4r::GgufTensor &a = f.tensors[i], &b = g.tensors[i];
    // The public type map agrees with the reader.
    q4r_type type;
    q4r_layout layout;
    if (q4r_gguf_type_info(a.type_id, &type, &layout) == Q4R_OK &&
        (type != a.q4type || layout != a.layout))
      std::abort();
    if (b.legacy() || b.offset != a.offset || b.nbytes != a.nbytes) std::abort();
    if (a.legacy() && b.type_id != q4r::ggml_plain_type(a.q4type)) std::abort();
  }
  return 0;
}
