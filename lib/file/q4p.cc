#include "q4p.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <new>
#include <set>
#include <string>

#include "lib/format/checks.h"
#include "lib/error.h"
#include "mapped_file.h"

using namespace q4r;

namespace {

constexpr char kMagic[8] = {'Q', '4', 'R', 'P', 'A', 'C', 'K', '\0'};
constexpr uint64_t kHeaderChecksumAt = 120;
constexpr uint32_t kMaxAlignment = 1u << 20;

uint64_t load(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
void store(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

// One tensor as recorded in the directory.
struct Entry {
  std::string name;
  uint32_t type, layout, required_isa, target_isa, n_dims;
  int64_t ne[4];
  uint64_t offset, size, packed_checksum, source_checksum, source_offset;
};

void encode_entry(const Entry& e, uint8_t* p) {
  std::memset(p, 0, kQ4pEntryBytes);
  store(p, e.name.size(), 4);
  std::memcpy(p + 4, e.name.data(), e.name.size());
  store(p + 68, e.type, 4);
  store(p + 72, e.layout, 4);
  store(p + 76, e.required_isa, 4);
  store(p + 80, e.target_isa, 4);
  store(p + 84, e.n_dims, 4);
  for (int d = 0; d < 4; ++d) store(p + 88 + 8 * d, uint64_t(e.ne[d]), 8);
  store(p + 120, e.offset, 8);
  store(p + 128, e.size, 8);
  store(p + 136, e.packed_checksum, 8);
  store(p + 144, e.source_checksum, 8);
  store(p + 152, e.source_offset, 8);
}

// Bytes of one matrix (rows x k of an 18-byte-block type), overflow-checked.
bool matrix_bytes(int64_t rows, int64_t k, uint64_t* out) {
  return !__builtin_mul_overflow(uint64_t(rows), uint64_t(k / 32) * 18, out);
}

// ---------------------------------------------------------------- packer

class Sink {
 public:
  virtual ~Sink() = default;
  virtual q4r_status append(const void* data, std::size_t size) = 0;
  virtual q4r_status write_at(uint64_t offset, const void* data, std::size_t size) = 0;
};

class BufferSink : public Sink {
 public:
  explicit BufferSink(std::vector<uint8_t>* out) : out_(out) { out_->clear(); }
  q4r_status append(const void* data, std::size_t size) override {
    const auto* p = static_cast<const uint8_t*>(data);
    out_->insert(out_->end(), p, p + size);
    return Q4R_OK;
  }
  q4r_status write_at(uint64_t offset, const void* data, std::size_t size) override {
    std::memcpy(out_->data() + offset, data, size);
    return Q4R_OK;
  }

 private:
  std::vector<uint8_t>* out_;
};

class FileSink : public Sink {
 public:
  FileSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  q4r_status append(const void* data, std::size_t size) override {
    const auto* p = static_cast<const uint8_t*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return fail(Q4R_E_IO, "q4p: writing '%s': %s", path_.c_str(), std::strerror(errno));
      p += n;
      size -= std::size_t(n);
    }
    return Q4R_OK;
  }
  q4r_status write_at(uint64_t offset, const void* data, std::size_t size) override {
    if (::pwrite(fd_, data, size, off_t(offset)) != ssize_t(size)) {
      return fail(Q4R_E_IO, "q4p: writing '%s': %s", path_.c_str(), std::strerror(errno));
    }
    return Q4R_OK;
  }

 private:
  int fd_;
  std::string path_;
};

q4r_status pack(const GgufFile& src, const Q4pPackOptions& opt, Sink& sink) {
  if (opt.alignment < 64 || opt.alignment > kMaxAlignment ||
      (opt.alignment & (opt.alignment - 1)) != 0) {
    return fail(Q4R_E_ARGUMENT, "q4p: alignment %u is not a power of two in [64, 2^20]",
                opt.alignment);
  }
  if (opt.layout < Q4R_LAYOUT_PLAIN || opt.layout > Q4R_LAYOUT_8X8) {
    return fail(Q4R_E_ARGUMENT, "q4p: layout %d is not a q4r_layout value", int(opt.layout));
  }
  std::vector<const GgufTensor*> chosen;
  for (const GgufTensor& t : src.tensors)
    if (t.repackable) chosen.push_back(&t);
  if (chosen.empty()) {
    return fail(Q4R_E_UNSUPPORTED, "q4p: the GGUF file has no Q4_0 / IQ4_NL matrices to pack");
  }
  const q4r_isa isa = q4r_active_isa();
  const uint64_t dir_bytes = chosen.size() * kQ4pEntryBytes;
  const uint64_t data_offset = align_up(kQ4pHeaderBytes + dir_bytes, opt.alignment);
  std::vector<Entry> entries;
  uint64_t pos = data_offset;
  for (const GgufTensor* t : chosen) {
    Entry e{};
    e.name = std::string(t->name);
    e.type = t->q4type;
    e.layout = opt.layout != Q4R_LAYOUT_PLAIN ? opt.layout : q4r_preferred_layout(t->q4type, isa);
    e.required_isa = opt.require_isa ? isa : Q4R_ISA_SCALAR;
    e.target_isa = isa;
    e.n_dims = t->n_dims < 3 ? 2 : 3;
    for (int d = 0; d < 4; ++d) e.ne[d] = t->ne[d];
    e.size = t->nbytes;
    e.offset = align_up(pos, opt.alignment);
    e.source_offset = uint64_t(t->data - src.bytes());
    pos = e.offset + e.size;
    entries.push_back(std::move(e));
  }
  const uint64_t file_size = pos;

  std::vector<uint8_t> head(data_offset, 0);
  if (q4r_status s = sink.append(head.data(), head.size())) return s;
  uint64_t written = data_offset;
  std::vector<uint8_t> buf;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    const GgufTensor& t = *chosen[i];
    if (opt.progress) opt.progress(i, entries.size(), t.name);
    const std::vector<uint8_t> pad(e.offset - written, 0);
    if (q4r_status s = sink.append(pad.data(), pad.size())) return s;
    try {
      buf.resize(e.size);
    } catch (const std::bad_alloc&) {
      return fail(Q4R_E_NOMEM, "q4p: no memory for tensor '%s' (%" PRIu64 " bytes)", e.name.c_str(),
                  e.size);
    }
    const uint64_t mb = e.size / uint64_t(t.matrices);
    for (int64_t m = 0; m < t.matrices; ++m) {
      const uint8_t* in = t.data + m * mb;
      uint8_t* out = buf.data() + m * mb;
      if (e.layout == Q4R_LAYOUT_PLAIN) {
        std::memcpy(out, in, mb);
      } else if (q4r_status s =
                     opt.context
                         ? q4r_context_repack(opt.context, t.q4type, q4r_layout(e.layout), in, out,
                                              mb, t.rows, t.k)
                         : q4r_repack(t.q4type, q4r_layout(e.layout), in, out, mb, t.rows, t.k)) {
        const std::string msg = q4r_last_error();
        return fail(s, "q4p: repacking tensor '%s': %s", e.name.c_str(), msg.c_str());
      }
    }
    e.packed_checksum = checksum64(buf.data(), buf.size());
    e.source_checksum = checksum64(t.data, t.nbytes);
    if (q4r_status s = sink.append(buf.data(), buf.size())) return s;
    written = e.offset + e.size;
  }

  std::vector<uint8_t> dir(dir_bytes);
  for (std::size_t i = 0; i < entries.size(); ++i)
    encode_entry(entries[i], dir.data() + i * kQ4pEntryBytes);
  uint8_t h[kQ4pHeaderBytes] = {};
  std::memcpy(h, kMagic, 8);
  store(h + 8, Q4R_Q4P_VERSION, 4);
  store(h + 12, kQ4pHeaderBytes, 4);
  store(h + 16, opt.alignment, 4);
  store(h + 20, entries.size(), 4);
  store(h + 24, kQ4pHeaderBytes, 8);
  store(h + 32, dir_bytes, 8);
  store(h + 40, data_offset, 8);
  store(h + 48, file_size, 8);
  store(h + 56, src.size(), 8);
  store(h + 64, checksum64(src.bytes(), src.data_offset), 8);
  store(h + 72, checksum64(dir.data(), dir.size()), 8);
  store(h + 80, kQ4pEntryBytes, 4);
  store(h + kHeaderChecksumAt, checksum64(h, kHeaderChecksumAt), 8);
  if (q4r_status s = sink.write_at(kQ4pHeaderBytes, dir.data(), dir.size())) return s;
  return sink.write_at(0, h, sizeof h);
}

}  // namespace

// ---------------------------------------------------------------- reader

struct q4r_q4p {
  MappedFile file;
  const uint8_t* base = nullptr;
  uint64_t size = 0;
  uint32_t alignment = 0;
  uint64_t data_offset = 0;
  uint64_t source_size = 0;
  uint64_t source_meta_checksum = 0;
  std::vector<Entry> entries;
};

namespace {

q4r_status bad(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
q4r_status bad(const char* fmt, ...) {
  char msg[400];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, args);
  va_end(args);
  return fail(Q4R_E_FORMAT, "q4p: %s", msg);
}

bool all_zero(const uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

q4r_status check_entry(const q4r_q4p& f, std::size_t i, const uint8_t* p, Entry* e) {
  const uint64_t at = kQ4pHeaderBytes + i * kQ4pEntryBytes;
  const uint64_t name_len = load(p, 4);
  if (name_len < 1 || name_len > kQ4pMaxName) {
    return bad("entry %zu (byte %" PRIu64 "): name length %" PRIu64 " is not in 1..64", i, at,
               name_len);
  }
  e->name.assign(reinterpret_cast<const char*>(p + 4), name_len);
  if (e->name.find('\0') != std::string::npos ||
      !all_zero(p + 4 + name_len, kQ4pMaxName - name_len)) {
    return bad("entry %zu (byte %" PRIu64 "): name contains a NUL byte or unpadded garbage", i, at);
  }
  e->type = uint32_t(load(p + 68, 4));
  e->layout = uint32_t(load(p + 72, 4));
  e->required_isa = uint32_t(load(p + 76, 4));
  e->target_isa = uint32_t(load(p + 80, 4));
  e->n_dims = uint32_t(load(p + 84, 4));
  for (int d = 0; d < 4; ++d) e->ne[d] = int64_t(load(p + 88 + 8 * d, 8));
  e->offset = load(p + 120, 8);
  e->size = load(p + 128, 8);
  e->packed_checksum = load(p + 136, 8);
  e->source_checksum = load(p + 144, 8);
  e->source_offset = load(p + 152, 8);
  const char* n = e->name.c_str();
  if (e->type != Q4R_TYPE_Q4_0 && e->type != Q4R_TYPE_IQ4_NL) {
    return bad("tensor '%s' (entry byte %" PRIu64 "): type %u is not q4_0 or iq4_nl", n, at,
               e->type);
  }
  if (e->layout > Q4R_LAYOUT_8X8) return bad("tensor '%s': layout %u is unknown", n, e->layout);
  if (e->required_isa >= Q4R_ISA_COUNT || e->target_isa >= Q4R_ISA_COUNT) {
    return bad("tensor '%s': ISA id %u / %u is unknown", n, e->required_isa, e->target_isa);
  }
  if (e->n_dims != 2 && e->n_dims != 3)
    return bad("tensor '%s': %u dimensions (2 or 3)", n, e->n_dims);
  constexpr int64_t kMaxDim = int64_t{1} << 31;
  if (e->ne[0] <= 0 || e->ne[0] % 32 != 0 || e->ne[0] >= kMaxDim || e->ne[1] <= 0 ||
      e->ne[1] >= kMaxDim || e->ne[2] <= 0 || e->ne[2] >= kMaxDim || e->ne[3] != 1 ||
      (e->n_dims == 2 && e->ne[2] != 1)) {
    return bad("tensor '%s': shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
               "] is not a matrix stack with k a multiple of 32",
               n, e->ne[0], e->ne[1], e->ne[2], e->ne[3]);
  }
  uint64_t mb, want;
  if (!matrix_bytes(e->ne[1], e->ne[0], &mb) ||
      __builtin_mul_overflow(mb, uint64_t(e->ne[2]), &want)) {
    return bad("tensor '%s': size overflows", n);
  }
  if (e->size != want) {
    return bad("tensor '%s': size %" PRIu64 " does not match its shape (%" PRIu64 " bytes)", n,
               e->size, want);
  }
  if (e->offset < f.data_offset || e->offset % f.alignment != 0 || e->offset > f.size ||
      e->size > f.size - e->offset) {
    return bad("tensor '%s': data [%" PRIu64 ", +%" PRIu64
               ") is misaligned or outside the data "
               "section [%" PRIu64 ", %" PRIu64 ")",
               n, e->offset, e->size, f.data_offset, f.size);
  }
  if (!all_zero(p + 160, kQ4pEntryBytes - 160)) {
    return bad("tensor '%s': reserved bytes of its entry are not zero", n);
  }
  return Q4R_OK;
}

q4r_status parse(q4r_q4p& f, unsigned flags) {
  const uint8_t* h = f.base;
  if (f.size < kQ4pHeaderBytes) {
    return bad("file is %" PRIu64 " bytes, shorter than the 128-byte header", f.size);
  }
  if (std::memcmp(h, kMagic, 8) != 0) return bad("not a .q4p file (magic at byte 0)");
  const uint32_t version = uint32_t(load(h + 8, 4));
  if (version != Q4R_Q4P_VERSION) {
    return bad("version %u at byte 8 is not supported (this library reads version %d)", version,
               Q4R_Q4P_VERSION);
  }
  if (checksum64(h, kHeaderChecksumAt) != load(h + kHeaderChecksumAt, 8)) {
    return fail(Q4R_E_MISMATCH, "q4p: header checksum (byte 120) does not match: damaged header");
  }
  if (load(h + 12, 4) != kQ4pHeaderBytes || load(h + 80, 4) != kQ4pEntryBytes ||
      !all_zero(h + 84, kHeaderChecksumAt - 84)) {
    return bad("header size, entry size or reserved bytes (bytes 12, 80, 84..119) are wrong");
  }
  f.alignment = uint32_t(load(h + 16, 4));
  if (f.alignment < 64 || f.alignment > kMaxAlignment || (f.alignment & (f.alignment - 1))) {
    return bad("alignment %u at byte 16 is not a power of two in [64, 2^20]", f.alignment);
  }
  const uint64_t count = load(h + 20, 4);
  const uint64_t dir_offset = load(h + 24, 8), dir_bytes = load(h + 32, 8);
  f.data_offset = load(h + 40, 8);
  const uint64_t file_size = load(h + 48, 8);
  f.source_size = load(h + 56, 8);
  f.source_meta_checksum = load(h + 64, 8);
  if (file_size != f.size) {
    return bad("header says %" PRIu64 " bytes (byte 48) but the file has %" PRIu64
               ": truncated or extended",
               file_size, f.size);
  }
  if (dir_offset != kQ4pHeaderBytes || count > (f.size - kQ4pHeaderBytes) / kQ4pEntryBytes ||
      dir_bytes != count * kQ4pEntryBytes) {
    return bad("directory (offset %" PRIu64 ", %" PRIu64 " bytes, %" PRIu64
               " entries; bytes 20..39) does not fit the file",
               dir_offset, dir_bytes, count);
  }
  if (f.data_offset < dir_offset + dir_bytes || f.data_offset % f.alignment ||
      f.data_offset > f.size) {
    return bad("data offset %" PRIu64 " (byte 40) is misaligned or outside the file",
               f.data_offset);
  }
  const uint8_t* dir = h + dir_offset;
  if (checksum64(dir, dir_bytes) != load(h + 72, 8)) {
    return fail(Q4R_E_MISMATCH, "q4p: directory checksum does not match: damaged directory");
  }
  f.entries.resize(count);
  std::set<std::string> names;
  for (std::size_t i = 0; i < count; ++i) {
    if (q4r_status s = check_entry(f, i, dir + i * kQ4pEntryBytes, &f.entries[i])) return s;
    if (!names.insert(f.entries[i].name).second) {
      return bad("duplicate tensor name '%s' (entry %zu)", f.entries[i].name.c_str(), i);
    }
  }
  std::vector<const Entry*> sorted;
  for (const Entry& e : f.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry* a, const Entry* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i - 1]->offset + sorted[i - 1]->size > sorted[i]->offset) {
      return bad("tensors '%s' and '%s' overlap", sorted[i - 1]->name.c_str(),
                 sorted[i]->name.c_str());
    }
  }
  for (const Entry& e : f.entries) {
    if (!q4r_isa_available(q4r_isa(e.required_isa))) {
      return fail(Q4R_E_ISA,
                  "q4p: tensor '%s' was packed for layout %s requiring %s, which this CPU cannot "
                  "run (this CPU's best: %s); repack it with `q4repack pack`",
                  e.name.c_str(), q4r_layout_name(q4r_layout(e.layout)),
                  q4r_isa_name(q4r_isa(e.required_isa)), q4r_isa_name(q4r_best_isa()));
    }
  }
  if (flags & Q4R_Q4P_VERIFY) {
    for (const Entry& e : f.entries) {
      if (checksum64(f.base + e.offset, e.size) != e.packed_checksum) {
        return fail(Q4R_E_MISMATCH, "q4p: tensor '%s': data checksum does not match (damaged data)",
                    e.name.c_str());
      }
    }
  }
  return Q4R_OK;
}

q4r_status finish_open(std::unique_ptr<q4r_q4p> f, unsigned flags, q4r_q4p** out) {
  if (flags & ~Q4R_Q4P_VERIFY) return fail(Q4R_E_ARGUMENT, "q4p: unknown flags 0x%x", flags);
  if (q4r_status s = parse(*f, flags)) return s;
  *out = f.release();
  return Q4R_OK;
}

void fill_tensor(const q4r_q4p& f, const Entry& e, q4r_q4p_tensor* out) {
  out->name = e.name.c_str();
  out->type = q4r_type(e.type);
  out->layout = q4r_layout(e.layout);
  out->required_isa = q4r_isa(e.required_isa);
  out->target_isa = q4r_isa(e.target_isa);
  out->n_dims = int(e.n_dims);
  for (int d = 0; d < 4; ++d) out->ne[d] = e.ne[d];
  out->rows = e.ne[1];
  out->k = e.ne[0];
  out->matrices = e.ne[2];
  out->data = f.base + e.offset;
  out->size = std::size_t(e.size);
  out->matrix_bytes = std::size_t(e.size / uint64_t(e.ne[2]));
  out->packed_checksum = e.packed_checksum;
  out->source_checksum = e.source_checksum;
  out->source_offset = e.source_offset;
}

}  // namespace

namespace q4r {

// A fast 64-bit hash: four independent multiply-rotate lanes over 32-byte stripes, then the tail
// and a final avalanche. Not cryptographic: it detects damage and mismatched files, not attacks.
uint64_t checksum64(const void* data, std::size_t size) {
  constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full,
                     kP3 = 0x165667B19E3779F9ull;
  auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  auto mix = [&](uint64_t acc, uint64_t w) { return rotl(acc + w * kP2, 31) * kP1; };
  auto word = [](const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;  // little-endian hosts only (x86-64, aarch64)
  };
  const auto* p = static_cast<const uint8_t*>(data);
  std::size_t n = size;
  uint64_t a = kP1 + kP2, b = kP2, c = 0, d = 0 - kP1;
  for (; n >= 32; n -= 32, p += 32) {
    a = mix(a, word(p));
    b = mix(b, word(p + 8));
    c = mix(c, word(p + 16));
    d = mix(d, word(p + 24));
  }
  uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + uint64_t(size);
  for (; n >= 8; n -= 8, p += 8) h = rotl(h ^ mix(0, word(p)), 27) * kP1 + kP3;
  for (; n > 0; --n, ++p) h = rotl(h ^ (*p * kP3), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

q4r_status q4p_pack_buffer(const GgufFile& src, const Q4pPackOptions& options,
                           std::vector<uint8_t>* out) {
  std::vector<uint8_t> bytes;
  BufferSink sink(&bytes);
  if (q4r_status s = pack(src, options, sink)) return s;
  out->swap(bytes);
  return Q4R_OK;
}

q4r_status q4p_pack_file(const GgufFile& src, const char* out_path, const Q4pPackOptions& options) {
  if (!out_path) return fail(Q4R_E_NULL, "q4p: output path is NULL");
  std::string tmp = std::string(out_path) + ".tmpXXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0)
    return fail(Q4R_E_IO, "q4p: cannot create '%s': %s", tmp.c_str(), std::strerror(errno));
  FileSink sink(fd, tmp);
  q4r_status s = pack(src, options, sink);
  if (::close(fd) != 0 && s == Q4R_OK) s = fail(Q4R_E_IO, "q4p: closing '%s' failed", tmp.c_str());
  if (s == Q4R_OK && std::rename(tmp.c_str(), out_path) != 0) {
    s = fail(Q4R_E_IO, "q4p: cannot rename to '%s': %s", out_path, std::strerror(errno));
  }
  if (s != Q4R_OK) ::unlink(tmp.c_str());
  return s;
}

}  // namespace q4r

// ---------------------------------------------------------------- C API

extern "C" {

uint64_t q4r_checksum64(const void* data, size_t size) {
  return data || size == 0 ? checksum64(data, size) : 0;
}

q4r_status q4r_q4p_open(const char* path, unsigned flags, q4r_q4p** out) {
  clear_error();
  if (!out) return fail(Q4R_E_NULL, "out is NULL");
  *out = nullptr;
  std::unique_ptr<q4r_q4p> f(new (std::nothrow) q4r_q4p);
  if (!f) return fail(Q4R_E_NOMEM, "q4p: out of memory");
  if (q4r_status s = f->file.open(path)) return s;
  f->base = f->file.data();
  f->size = f->file.size();
  if (q4r_status s = finish_open(std::move(f), flags, out)) {
    const std::string msg = q4r_last_error();
    return fail(s, "%s: %s", path, msg.c_str());
  }
  return Q4R_OK;
}

q4r_status q4r_q4p_open_buffer(const void* data, size_t size, unsigned flags, q4r_q4p** out) {
  clear_error();
  if (!out) return fail(Q4R_E_NULL, "out is NULL");
  *out = nullptr;
  if (!data && size) return fail(Q4R_E_NULL, "data is NULL");
  std::unique_ptr<q4r_q4p> f(new (std::nothrow) q4r_q4p);
  if (!f) return fail(Q4R_E_NOMEM, "q4p: out of memory");
  f->base = static_cast<const uint8_t*>(data);
  f->size = size;
  return finish_open(std::move(f), flags, out);
}

void q4r_q4p_close(q4r_q4p* file) {
  delete file;
}

size_t q4r_q4p_tensor_count(const q4r_q4p* file) {
  return file ? file->entries.size() : 0;
}

q4r_status q4r_q4p_get_tensor(const q4r_q4p* file, size_t index, q4r_q4p_tensor* out) {
  clear_error();
  if (!file || !out) return fail(Q4R_E_NULL, "file or out is NULL");
  if (index >= file->entries.size()) {
    return fail(Q4R_E_ARGUMENT, "tensor index %zu is out of range (%zu tensors)", index,
                file->entries.size());
  }
  fill_tensor(*file, file->entries[index], out);
  return Q4R_OK;
}

q4r_status q4r_q4p_find_tensor(const q4r_q4p* file, const char* name, q4r_q4p_tensor* out) {
  clear_error();
  if (!file || !name || !out) return fail(Q4R_E_NULL, "file, name or out is NULL");
  for (const Entry& e : file->entries) {
    if (e.name == name) {
      fill_tensor(*file, e, out);
      return Q4R_OK;
    }
  }
  return fail(Q4R_E_ARGUMENT, "q4p: no tensor named '%s'", name);
}

q4r_status q4r_q4p_check_source(const q4r_q4p* file, const char* gguf_path, unsigned flags) {
  clear_error();
  if (!file || !gguf_path) return fail(Q4R_E_NULL, "file or gguf_path is NULL");
  if (flags & ~Q4R_Q4P_VERIFY) return fail(Q4R_E_ARGUMENT, "q4p: unknown flags 0x%x", flags);
  GgufFile g;
  if (q4r_status s = g.open(gguf_path)) return s;
  if (g.size() != file->source_size) {
    return fail(Q4R_E_MISMATCH,
                "q4p: '%s' is not the source GGUF: it has %zu bytes, the packed file was made from "
                "one of %" PRIu64,
                gguf_path, g.size(), file->source_size);
  }
  if (checksum64(g.bytes(), g.data_offset) != file->source_meta_checksum) {
    return fail(Q4R_E_MISMATCH,
                "q4p: '%s' is not the source GGUF: its metadata/tensor-info checksum differs",
                gguf_path);
  }
  for (const Entry& e : file->entries) {
    const GgufTensor* t = g.find_tensor(e.name);
    if (!t || !t->repackable || uint32_t(t->q4type) != e.type || t->ne[0] != e.ne[0] ||
        t->ne[1] != e.ne[1] || t->ne[2] != e.ne[2] ||
        uint64_t(t->data - g.bytes()) != e.source_offset) {
      return fail(Q4R_E_MISMATCH,
                  "q4p: tensor '%s' is missing from '%s' or differs in type, shape "
                  "or offset",
                  e.name.c_str(), gguf_path);
    }
    if ((flags & Q4R_Q4P_VERIFY) && checksum64(t->data, t->nbytes) != e.source_checksum) {
      return fail(Q4R_E_MISMATCH,
                  "q4p: tensor '%s': the bytes in '%s' differ from the ones it was "
                  "packed from (checksum)",
                  e.name.c_str(), gguf_path);
    }
  }
  return Q4R_OK;
}

q4r_status q4r_q4p_pack(const char* gguf_path, const char* out_path, q4r_layout layout,
                        unsigned flags) {
  clear_error();
  if (!gguf_path || !out_path) return fail(Q4R_E_NULL, "gguf_path or out_path is NULL");
  if (flags & ~Q4R_Q4P_REQUIRE_ISA) return fail(Q4R_E_ARGUMENT, "q4p: unknown flags 0x%x", flags);
  if (!valid_layout(layout)) {
    return fail(Q4R_E_ARGUMENT, "q4p: layout %d is not a q4r_layout value", int(layout));
  }
  GgufFile g;
  if (q4r_status s = g.open(gguf_path)) return s;
  Q4pPackOptions opt;
  opt.layout = layout;
  opt.require_isa = (flags & Q4R_Q4P_REQUIRE_ISA) != 0;
  return q4p_pack_file(g, out_path, opt);
}

}  // extern "C"
