// A minimal GGUF writer for tests and fuzz seeds: metadata of every type, tensors laid out at the
// chosen alignment (each tensor padded to it, like GGML's writer), version 2 or 3.
// It writes what it is told, including things a reader must reject (the tests corrupt its output).
#ifndef Q4R_TESTS_GGUF_WRITER_H_
#define Q4R_TESTS_GGUF_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace q4r::test {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3, uint32_t alignment = 32)
      : version_(version), alignment_(alignment) {}

  // Scalars: `bits` is the little-endian payload (sign- or zero-extended; f32/f64 as IEEE bits).
  void kv_scalar(const std::string& key, uint32_t type, uint64_t bits);
  void kv_u32(const std::string& key, uint32_t v) { kv_scalar(key, 4, v); }
  void kv_i32(const std::string& key, int32_t v) { kv_scalar(key, 5, uint64_t(uint32_t(v))); }
  void kv_f32(const std::string& key, float v);
  void kv_u64(const std::string& key, uint64_t v) { kv_scalar(key, 10, v); }
  void kv_bool(const std::string& key, bool v) { kv_scalar(key, 7, v); }
  void kv_string(const std::string& key, const std::string& v);
  // Array of scalars: `raw` holds count elements of the element type, little-endian.
  void kv_array(const std::string& key, uint32_t elem_type, uint64_t count,
                const std::vector<uint8_t>& raw);
  void kv_string_array(const std::string& key, const std::vector<std::string>& v);
  // Any value: type id + the encoded value bytes (for nested arrays and hand-made records).
  void kv_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& value);

  // A tensor. `data` must be the tensor's byte size (or empty with `nbytes` given, for writers
  // that stream the data themselves: header() then data in tensor order, padded).
  void tensor(const std::string& name, uint32_t type_id, const std::vector<int64_t>& ne,
              std::vector<uint8_t> data);
  void tensor_sized(const std::string& name, uint32_t type_id, const std::vector<int64_t>& ne,
                    uint64_t nbytes);

  // Everything up to the data section (header, KVs, tensor infos, padding).
  std::vector<uint8_t> header() const;
  // The whole file (tensor data must have been given).
  std::vector<uint8_t> bytes() const;
  bool write(const std::string& path) const;

  // Layout facts of the file bytes() produces.
  uint64_t kv_offset(std::size_t i) const;           // start of KV record i
  uint64_t tensor_info_offset(std::size_t i) const;  // start of tensor info i
  uint64_t infos_end() const;
  uint64_t data_offset() const;
  uint64_t tensor_data_offset(std::size_t i) const;  // relative to the data section
  uint32_t alignment() const { return alignment_; }

  // Encoding helpers for kv_raw.
  static void put_u32(std::vector<uint8_t>& out, uint32_t v);
  static void put_u64(std::vector<uint8_t>& out, uint64_t v);
  static void put_string(std::vector<uint8_t>& out, const std::string& s);

 private:
  struct Tensor {
    std::string name;
    uint32_t type_id;
    std::vector<int64_t> ne;
    uint64_t nbytes;
    std::vector<uint8_t> data;
  };
  uint64_t padded(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }

  uint32_t version_;
  uint32_t alignment_;
  std::vector<std::vector<uint8_t>> kv_records_;
  std::vector<Tensor> tensors_;
};

// Builds a file with one Q4_0 tensor of rows x k random blocks (and some metadata): used by tests
// and fuzz seeds.
std::vector<uint8_t> small_q4_gguf(int64_t rows, int64_t k, uint32_t type_id = 2,
                                   uint32_t seed = 1);

}  // namespace q4r::test

#endif  // Q4R_TESTS_GGUF_WRITER_H_
