// GGUF reader (versions 2 and 3, little-endian), hardened against hostile files.
//
// The parser works on a byte span (a mapped file, or any buffer the caller keeps alive) and never
// copies tensor data. Every count, length, offset and size is checked against the bytes that are
// actually there, with overflow-safe arithmetic, before anything is allocated for it; a bad file
// gives one error (Q4R_E_FORMAT, message via q4r_last_error) that names what is wrong and the byte
// offset where it was found. Tensors of types this library does not know are listed, not touched.
#ifndef Q4R_LIB_GGUF_H_
#define Q4R_LIB_GGUF_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mapped_file.h"
#include "q4repack/q4repack.h"

namespace q4r {

// GGUF metadata value types (the numbers stored in the file).
enum GgufType : uint32_t {
  kGgufU8 = 0,
  kGgufI8 = 1,
  kGgufU16 = 2,
  kGgufI16 = 3,
  kGgufU32 = 4,
  kGgufI32 = 5,
  kGgufF32 = 6,
  kGgufBool = 7,
  kGgufString = 8,
  kGgufArray = 9,
  kGgufU64 = 10,
  kGgufI64 = 11,
  kGgufF64 = 12,
};
// "u8", "i8", ..., "str", "arr", "u64", ...; "?" for anything else.
const char* gguf_type_name(uint32_t type);
// Bytes of a scalar GGUF value type; 0 for string, array and unknown ids.
int gguf_scalar_size(uint32_t type);

// GGML tensor type ids used by this library.
constexpr uint32_t kGgmlTypeF32 = 0;
constexpr uint32_t kGgmlTypeF16 = 1;
constexpr uint32_t kGgmlTypeQ4_0 = 2;
constexpr uint32_t kGgmlTypeIQ4_NL = 20;
// Legacy pre-repacked types (GGML until December 2024; golden/gguf/MANIFEST.md section 6): Q4_0 /
// IQ4_NL blocks already interleaved in a q4repack layout, 18 bytes per 32 values like the plain
// types. 37 and 38 (iq4_nl_4x8, iq4_nl_8x8) were reserved but never defined: unknown here.
constexpr uint32_t kGgmlTypeQ4_0_4x4 = 31;
constexpr uint32_t kGgmlTypeQ4_0_4x8 = 32;
constexpr uint32_t kGgmlTypeQ4_0_8x8 = 33;
constexpr uint32_t kGgmlTypeIQ4_NL_4x4 = 36;
// What an interrupted `q4repack convert --in-place` leaves in a legacy tensor's type field while
// its data is being rewritten: this base plus the legacy type id. No reader knows these ids, so a
// half-converted file is refused instead of being read with the wrong layout.
constexpr uint32_t kGgmlTypeConvertingBase = 0x71340000u;
// ggml_type_name() of a tensor type id ("q4_0", "iq4_nl", "f32", ...), nullptr if unknown.
const char* ggml_type_name(uint32_t type_id);
// Block size in values and bytes of a known tensor type; false if unknown.
bool ggml_type_block(uint32_t type_id, int* block_values, int* block_bytes);
// The q4repack weight type and storage layout of a GGML type id: 2 and 20 are plain Q4_0 / IQ4_NL,
// 31-33 and 36 the legacy pre-repacked ones. False for every other id.
bool ggml_type_weights(uint32_t type_id, q4r_type* type, q4r_layout* layout);
// The plain GGML type id of a weight type (2 for Q4_0, 20 for IQ4_NL).
uint32_t ggml_plain_type(q4r_type type);

// One metadata value. Scalars are decoded; strings point into the file; arrays keep a pointer to
// their elements and decode an element on request (so a huge array costs at most 8 bytes of index
// per element of strings or nested arrays, and nothing for scalar elements).
struct GgufValue {
  uint32_t type = kGgufU8;
  uint64_t bits = 0;       // scalar payload: zero-extended (unsigned, bool), sign-extended, or
                           // the IEEE bits of f32/f64 as stored
  std::string_view str;    // kGgufString
  uint32_t elem_type = 0;  // kGgufArray: element type and count
  uint64_t count = 0;
  const uint8_t* elems = nullptr;      // first element (scalar arrays: count * size bytes)
  std::vector<uint64_t> elem_offsets;  // string / nested-array elements: offset from `elems`
  const uint8_t* end = nullptr;        // one past the array's last byte

  uint64_t as_u64() const { return bits; }
  int64_t as_i64() const { return static_cast<int64_t>(bits); }
  double as_f64() const;  // f32 / f64 values
  bool as_bool() const { return bits != 0; }
  // Element i of an array (i < count), decoded.
  GgufValue element(uint64_t i) const;
};

struct GgufKv {
  std::string_view key;
  uint64_t offset = 0;  // byte offset of the KV record in the file
  GgufValue value;
};

struct GgufTensor {
  std::string_view name;
  uint32_t type_id = 0;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  uint64_t offset = 0;       // relative to the data section, as stored
  uint64_t info_offset = 0;  // byte offset of the tensor-info record in the file
  uint64_t type_offset = 0;  // byte offset of the type id (u32) in the file
  bool known_type = false;
  uint64_t nbytes = 0;            // 0 for unknown types
  const uint8_t* data = nullptr;  // nullptr for unknown types

  // Repacking: Q4_0 / IQ4_NL matrices (2-D, or 3-D = ne2 experts of ne1 rows each).
  bool repackable = false;
  q4r_type q4type = Q4R_TYPE_Q4_0;
  // How the data is stored: plain, or (legacy types 31-33, 36) already interleaved in this layout,
  // full row groups only (the reader checks that ne1 is a multiple of the layout's rows).
  q4r_layout layout = Q4R_LAYOUT_PLAIN;
  int64_t rows = 0;         // ne1: rows of one matrix
  int64_t k = 0;            // ne0
  int64_t matrices = 0;     // ne2
  std::string skip_reason;  // why it is not repackable (empty if it is)

  bool legacy() const { return layout != Q4R_LAYOUT_PLAIN; }
  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  // Rows of all matrices, ne1 * ne2 * ne3: fits in int64 even when ne0 = 0 (the reader checks).
  int64_t all_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::string shape_string() const;  // "[256, 96]"
};

class GgufFile {
 public:
  // Maps the file and parses it.
  q4r_status open(const char* path, MappedFile::Mode mode = MappedFile::Mode::kReadOnly);
  // Parses a buffer the caller keeps alive (and does not change) as long as this object is used.
  q4r_status parse(const uint8_t* data, std::size_t size);

  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t infos_end = 0;    // first byte after the tensor infos
  uint64_t data_offset = 0;  // start of the data section
  std::vector<GgufKv> kvs;
  std::vector<GgufTensor> tensors;

  const uint8_t* bytes() const { return base_; }
  std::size_t size() const { return size_; }
  // Copy-on-write view after open(path, kCopyOnWrite): tensor data may be rewritten through it.
  uint8_t* writable_bytes() const { return file_.writable_data(); }
  // The mapping behind open() (streaming hints); unused after parse().
  const MappedFile& mapping() const { return file_; }
  const GgufKv* find(std::string_view key) const;
  const GgufTensor* find_tensor(std::string_view name) const;

 private:
  MappedFile file_;
  const uint8_t* base_ = nullptr;
  std::size_t size_ = 0;
};

// A value as JSON (strings escaped, floats in shortest round-trip form, arrays as JSON arrays).
std::string gguf_value_json(const GgufValue& v);

// The distinct Q4_0 / IQ4_NL weight matrix shapes of a file, for benchmarks: a 3-D tensor adds
// `matrices` matrices of `rows` x `k`. Sorted by type, then k, then rows.
struct GgufWeightShape {
  q4r_type type;
  int64_t rows;   // n: output features
  int64_t k;      // reduction dimension
  int64_t count;  // number of matrices of this shape in the file
};
std::vector<GgufWeightShape> gguf_weight_shapes(const GgufFile& file);

}  // namespace q4r

#endif  // Q4R_LIB_GGUF_H_
