#include "gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <random>

namespace q4r::test {

void GgufWriter::put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
void GgufWriter::put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
void GgufWriter::put_string(std::vector<uint8_t>& out, const std::string& s) {
  put_u64(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void GgufWriter::kv_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& value) {
  std::vector<uint8_t> rec;
  put_string(rec, key);
  put_u32(rec, type);
  rec.insert(rec.end(), value.begin(), value.end());
  kv_records_.push_back(std::move(rec));
}

void GgufWriter::kv_scalar(const std::string& key, uint32_t type, uint64_t bits) {
  static const int kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  std::vector<uint8_t> v;
  for (int i = 0; i < (type < 13 ? kSize[type] : 4); ++i) v.push_back(uint8_t(bits >> (8 * i)));
  kv_raw(key, type, v);
}

void GgufWriter::kv_f32(const std::string& key, float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  kv_scalar(key, 6, u);
}

void GgufWriter::kv_string(const std::string& key, const std::string& s) {
  std::vector<uint8_t> v;
  put_string(v, s);
  kv_raw(key, 8, v);
}

void GgufWriter::kv_array(const std::string& key, uint32_t elem_type, uint64_t count,
                          const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> v;
  put_u32(v, elem_type);
  put_u64(v, count);
  v.insert(v.end(), raw.begin(), raw.end());
  kv_raw(key, 9, v);
}

void GgufWriter::kv_string_array(const std::string& key, const std::vector<std::string>& s) {
  std::vector<uint8_t> v;
  put_u32(v, 8);
  put_u64(v, s.size());
  for (const std::string& e : s) put_string(v, e);
  kv_raw(key, 9, v);
}

void GgufWriter::tensor(const std::string& name, uint32_t type_id, const std::vector<int64_t>& ne,
                        std::vector<uint8_t> data) {
  const uint64_t n = data.size();
  tensors_.push_back({name, type_id, ne, n, std::move(data)});
}

void GgufWriter::tensor_sized(const std::string& name, uint32_t type_id,
                              const std::vector<int64_t>& ne, uint64_t nbytes) {
  tensors_.push_back({name, type_id, ne, nbytes, {}});
}

uint64_t GgufWriter::kv_offset(std::size_t i) const {
  uint64_t off = 24;
  for (std::size_t j = 0; j < i; ++j) off += kv_records_[j].size();
  return off;
}

uint64_t GgufWriter::tensor_info_offset(std::size_t i) const {
  uint64_t off = kv_offset(kv_records_.size());
  for (std::size_t j = 0; j < i; ++j)
    off += 8 + tensors_[j].name.size() + 4 + 8 * tensors_[j].ne.size() + 4 + 8;
  return off;
}

uint64_t GgufWriter::infos_end() const {
  return tensor_info_offset(tensors_.size());
}
uint64_t GgufWriter::data_offset() const {
  return padded(infos_end());
}
uint64_t GgufWriter::tensor_data_offset(std::size_t i) const {
  uint64_t off = 0;
  for (std::size_t j = 0; j < i; ++j) off += padded(tensors_[j].nbytes);
  return off;
}

std::vector<uint8_t> GgufWriter::header() const {
  std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
  put_u32(out, version_);
  put_u64(out, tensors_.size());
  put_u64(out, kv_records_.size());
  for (const auto& rec : kv_records_) out.insert(out.end(), rec.begin(), rec.end());
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    put_string(out, t.name);
    put_u32(out, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put_u64(out, uint64_t(d));
    put_u32(out, t.type_id);
    put_u64(out, tensor_data_offset(i));
  }
  out.resize(padded(out.size()), 0);
  return out;
}

std::vector<uint8_t> GgufWriter::bytes() const {
  std::vector<uint8_t> out = header();
  for (const Tensor& t : tensors_) {
    out.insert(out.end(), t.data.begin(), t.data.end());
    out.resize(padded(out.size()), 0);
  }
  return out;
}

bool GgufWriter::write(const std::string& path) const {
  const std::vector<uint8_t> b = bytes();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  return std::fclose(f) == 0 && ok;
}

std::vector<uint8_t> small_q4_gguf(int64_t rows, int64_t k, uint32_t type_id, uint32_t seed) {
  GgufWriter w;
  w.kv_string("general.architecture", "test");
  w.kv_u32("test.rows", uint32_t(rows));
  std::mt19937 rng(seed);
  std::vector<uint8_t> data(size_t(rows * (k / 32) * 18));
  for (size_t b = 0; b < data.size(); b += 18) {
    data[b] = uint8_t(rng());
    data[b + 1] = uint8_t(0x20 + rng() % 8);  // a modest fp16 scale
    for (int i = 2; i < 18; ++i) data[b + i] = uint8_t(rng());
  }
  w.tensor("w.weight", type_id, {k, rows}, std::move(data));
  return w.bytes();
}

}  // namespace q4r::test
