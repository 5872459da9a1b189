#include "gguf_convert.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "lib/error.h"
#include "q4p.h"

namespace q4r {
namespace {

// llama.cpp's general.file_type values of files made of legacy tensors, and the plain one.
constexpr uint64_t kFileTypeQ4_0 = 2;
constexpr uint64_t kFileTypeQ4_0_4x4 = 33, kFileTypeQ4_0_8x8 = 35;

// Bytes of an integer GGUF value (general.file_type is written as u32 or i32 in the wild); 0 for
// anything that is not an integer.
int integer_bytes(uint32_t gguf_type) {
  const bool non_integer = gguf_type == kGgufF32 || gguf_type == kGgufF64 || gguf_type == kGgufBool;
  return non_integer ? 0 : gguf_scalar_size(gguf_type);
}

void store_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = uint8_t(v >> (8 * i));
}

// ---------------------------------------------------------------- row groups in chunks

// A range of whole rows of one legacy tensor: [row, row + rows) at byte `offset` of the tensor.
struct Chunk {
  int64_t row, rows;
  uint64_t offset, bytes;
};

// The chunks of an item: whole row groups, about `target` bytes each (at least one group).
std::vector<Chunk> chunks_of(const ConvertPlan::Item& it, std::size_t target) {
  std::vector<Chunk> out;
  if (it.bytes == 0) return out;
  const uint64_t row_bytes = it.bytes / uint64_t(it.rows);
  const int64_t n = q4r_layout_rows(it.tensor->layout);
  const int64_t groups = std::max<int64_t>(1, int64_t(target / (row_bytes * n)));
  for (int64_t r = 0; r < it.rows; r += groups * n) {
    const int64_t rows = std::min(groups * n, it.rows - r);
    out.push_back({r, rows, uint64_t(r) * row_bytes, uint64_t(rows) * row_bytes});
  }
  return out;
}

// Bytes of one read / unpack / write step: chunk_bytes per thread.
std::size_t step_bytes(const ConvertOptions& opt) {
  return opt.chunk_bytes * std::size_t(opt.context ? q4r_context_threads(opt.context) : 1);
}

// Unpacks (or, with `repack`, packs) `rows` rows of an item from src to dst, on the context's
// threads if there is one. The message of a failure names the tensor.
q4r_status permute_rows(const ConvertPlan::Item& it, bool repack, const uint8_t* src, uint8_t* dst,
                        int64_t rows, const q4r_context* ctx) {
  const GgufTensor& t = *it.tensor;
  const std::size_t bytes = std::size_t(it.bytes / uint64_t(it.rows)) * std::size_t(rows);
  q4r_status s;
  if (ctx) {
    s = repack ? q4r_context_repack(ctx, t.q4type, t.layout, src, dst, bytes, rows, it.k)
               : q4r_context_unpack(ctx, t.q4type, t.layout, src, dst, bytes, rows, it.k);
  } else {
    s = repack ? q4r_repack(t.q4type, t.layout, src, dst, bytes, rows, it.k)
               : q4r_unpack(t.q4type, t.layout, src, dst, bytes, rows, it.k);
  }
  if (s) {
    const std::string msg = q4r_last_error();
    return fail(s, "%s tensor '%.*s': %s", repack ? "repacking" : "unpacking", int(t.name.size()),
                t.name.data(), msg.c_str());
  }
  return Q4R_OK;
}

// A byte buffer that reports an allocation failure as Q4R_E_NOMEM.
q4r_status allocate(std::vector<uint8_t>& buf, std::size_t bytes) {
  try {
    buf.resize(bytes);
  } catch (const std::bad_alloc&) {
    return fail(Q4R_E_NOMEM, "convert: no memory for a %zu-byte buffer", bytes);
  }
  return Q4R_OK;
}

// The largest chunk of the plan, for the buffers.
std::size_t largest_chunk(const ConvertPlan& plan, std::size_t target) {
  std::size_t most = 0;
  for (const auto& it : plan.items)
    for (const Chunk& c : chunks_of(it, target)) most = std::max<std::size_t>(most, c.bytes);
  return most;
}

// ---------------------------------------------------------------- file descriptors

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

q4r_status io_error(const char* what, const std::string& path) {
  return fail(Q4R_E_IO, "convert: %s '%s': %s", what, path.c_str(), std::strerror(errno));
}

q4r_status pwrite_all(int fd, const uint8_t* p, uint64_t size, uint64_t at,
                      const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, p, std::min<uint64_t>(size, 1u << 30), off_t(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return io_error("writing", path);
    }
    p += n, at += uint64_t(n), size -= uint64_t(n);
  }
  return Q4R_OK;
}

q4r_status pread_all(int fd, uint8_t* p, uint64_t size, uint64_t at, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, std::min<uint64_t>(size, 1u << 30), off_t(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // the file shrank under us
      return io_error("reading", path);
    }
    p += n, at += uint64_t(n), size -= uint64_t(n);
  }
  return Q4R_OK;
}

q4r_status sync(int fd, const std::string& path) {
  return ::fsync(fd) == 0 ? Q4R_OK : io_error("syncing", path);
}

q4r_status write_patches(int fd, const std::vector<ConvertPlan::Patch>& patches,
                         const std::string& path) {
  for (const auto& p : patches) {
    uint8_t b[8];
    store_le(b, p.value, p.bytes);
    if (q4r_status s = pwrite_all(fd, b, uint64_t(p.bytes), p.offset, path)) return s;
  }
  return Q4R_OK;
}

// Copies [at, at + size) of the input to the same offset of the output: in the kernel where the
// file system allows it (copy_file_range), else from the mapping.
q4r_status copy_range(int in_fd, const uint8_t* in_map, int out_fd, uint64_t at, uint64_t size,
                      const std::string& out_path) {
  bool kernel_copy = true;
  while (size > 0) {
    if (kernel_copy) {
      loff_t from = loff_t(at), to = loff_t(at);
      const ssize_t n = ::copy_file_range(in_fd, &from, out_fd, &to,
                                          std::size_t(std::min<uint64_t>(size, 1u << 30)), 0);
      if (n > 0) {
        at += uint64_t(n), size -= uint64_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      kernel_copy = false;  // not supported here (or a short file): fall back to write()
      continue;
    }
    return pwrite_all(out_fd, in_map + at, size, at, out_path);
  }
  return Q4R_OK;
}

std::string name_of(const GgufTensor& t) {
  return std::string(t.name);
}

// Compares each converted tensor of `out` (a parsed output file) with the input: its type must be
// the plain one and its bytes, repacked to the input's layout, the input's bytes.
q4r_status check_output(const ConvertPlan& plan, const GgufFile& out, const GgufFile& in,
                        std::size_t chunk_bytes, const q4r_context* ctx,
                        const std::string& out_path) {
  std::vector<uint8_t> buf;
  if (q4r_status s = allocate(buf, largest_chunk(plan, chunk_bytes))) return s;
  for (const auto& it : plan.items) {
    const GgufTensor& t = *it.tensor;
    const GgufTensor* o = out.find_tensor(t.name);
    if (!o || o->type_id != ggml_plain_type(t.q4type) || o->offset != t.offset ||
        o->nbytes != t.nbytes) {
      return fail(Q4R_E_MISMATCH, "convert --check: '%s': tensor '%s' is not plain %s in place",
                  out_path.c_str(), name_of(t).c_str(), q4r_type_name(t.q4type));
    }
    for (const Chunk& c : chunks_of(it, chunk_bytes)) {
      if (q4r_status s = permute_rows(it, true, o->data + c.offset, buf.data(), c.rows, ctx))
        return s;
      if (std::memcmp(buf.data(), in.bytes() + it.offset + c.offset, c.bytes) != 0) {
        return fail(Q4R_E_MISMATCH,
                    "convert --check: '%s': tensor '%s' rows %" PRId64 "..%" PRId64
                    " do not repack to the input's bytes",
                    out_path.c_str(), name_of(t).c_str(), c.row, c.row + c.rows - 1);
      }
      out.mapping().release(it.offset + c.offset, c.bytes);
      in.mapping().release(it.offset + c.offset, c.bytes);
    }
  }
  return Q4R_OK;
}

}  // namespace

q4r_status plan_conversion(const GgufFile& in, ConvertPlan* plan) {
  *plan = ConvertPlan{};
  for (const GgufTensor& t : in.tensors) {
    if (!t.known_type) {
      std::string why = t.skip_reason;
      if (t.type_id != 37 && t.type_id != 38 && t.type_id - kGgmlTypeConvertingBase >= 64)
        why = "its size and meaning are unknown here";
      return fail(Q4R_E_UNSUPPORTED, "convert: tensor '%s' has type %u: %s; not converting",
                  name_of(t).c_str(), t.type_id, why.c_str());
    }
    if (!t.legacy()) continue;
    plan->items.push_back({&t, in.data_offset + t.offset, t.nbytes, t.all_rows(), t.ne[0]});
    plan->legacy_bytes += t.nbytes;
    plan->final_patches.push_back({t.type_offset, 4, ggml_plain_type(t.q4type)});
    plan->marker_patches.push_back({t.type_offset, 4, kGgmlTypeConvertingBase + t.type_id});
    plan->original_patches.push_back({t.type_offset, 4, t.type_id});
  }
  std::sort(
      plan->items.begin(), plan->items.end(),
      [](const ConvertPlan::Item& a, const ConvertPlan::Item& b) { return a.offset < b.offset; });
  if (const GgufKv* ft = in.find("general.file_type")) {
    const int bytes = integer_bytes(ft->value.type);
    const uint64_t v = ft->value.as_u64();
    if (bytes && v >= kFileTypeQ4_0_4x4 && v <= kFileTypeQ4_0_8x8) {
      // The value follows the key (u64 length + bytes) and the u32 value type.
      const uint64_t at = ft->offset + 8 + ft->key.size() + 4;
      plan->final_patches.push_back({at, bytes, kFileTypeQ4_0});
      plan->original_patches.push_back({at, bytes, v});
    }
  }
  return Q4R_OK;
}

q4r_status convert_buffer(const GgufFile& in, std::vector<uint8_t>* out) {
  ConvertPlan plan;
  if (q4r_status s = plan_conversion(in, &plan)) return s;
  std::vector<uint8_t> result;
  if (q4r_status s = allocate(result, in.size())) return s;
  if (in.size()) std::memcpy(result.data(), in.bytes(), in.size());
  for (const auto& p : plan.final_patches) store_le(result.data() + p.offset, p.value, p.bytes);
  for (const auto& it : plan.items) {
    if (it.bytes == 0) continue;
    if (q4r_status s = permute_rows(it, false, in.bytes() + it.offset, result.data() + it.offset,
                                    it.rows, nullptr))
      return s;
  }
  *out = std::move(result);
  return Q4R_OK;
}

q4r_status convert_file(const char* in_path, const char* out_path, const ConvertOptions& opt,
                        ConvertStats* stats) {
  if (!in_path || !out_path) return fail(Q4R_E_NULL, "convert: a path is NULL");
  GgufFile in;
  if (q4r_status s = in.open(in_path)) return s;
  ConvertPlan plan;
  if (q4r_status s = plan_conversion(in, &plan)) return s;
  Fd in_fd;
  in_fd.fd = ::open(in_path, O_RDONLY | O_CLOEXEC);
  if (in_fd.fd < 0) return io_error("opening", in_path);

  const std::string tmp = std::string(out_path) + ".tmp";
  Fd out_fd;
  out_fd.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (out_fd.fd < 0) return io_error("creating", tmp);
  // From here on every failure removes the temporary file.
  struct RemoveOnFailure {
    const std::string& path;
    bool keep = false;
    ~RemoveOnFailure() {
      if (!keep) ::unlink(path.c_str());
    }
  } guard{tmp};

  std::vector<uint8_t> buf;
  if (q4r_status s = allocate(
          buf, std::max<std::size_t>(in.data_offset, largest_chunk(plan, step_bytes(opt)))))
    return s;
  // Legacy chunks are read with pread rather than through the mapping: measured here (1 GB,
  // 1 thread), page faults on the mapping cost 1.8x the CPU time of the extra copy.
  std::vector<uint8_t> legacy;
  if (q4r_status s = allocate(legacy, largest_chunk(plan, step_bytes(opt)))) return s;
  // The header with the patched type ids and file type.
  std::memcpy(buf.data(), in.bytes(), in.data_offset);
  for (const auto& p : plan.final_patches) store_le(buf.data() + p.offset, p.value, p.bytes);
  if (q4r_status s = pwrite_all(out_fd.fd, buf.data(), in.data_offset, 0, tmp)) return s;

  const uint64_t total = in.size();
  uint64_t pos = in.data_offset;
  auto copy_to = [&](uint64_t end) -> q4r_status {
    // Verbatim bytes in steps, so that the progress moves over long runs of other tensors.
    while (pos < end) {
      const uint64_t n = std::min<uint64_t>(end - pos, uint64_t{64} << 20);
      if (q4r_status s = copy_range(in_fd.fd, in.bytes(), out_fd.fd, pos, n, tmp)) return s;
      in.mapping().release(pos, n);
      pos += n;
      if (opt.progress) opt.progress(pos, total);
    }
    return Q4R_OK;
  };
  for (const auto& it : plan.items) {
    if (q4r_status s = copy_to(it.offset)) return s;
    for (const Chunk& c : chunks_of(it, step_bytes(opt))) {
      const uint64_t at = it.offset + c.offset;
      if (q4r_status s = pread_all(in_fd.fd, legacy.data(), c.bytes, at, in_path)) return s;
      if (q4r_status s = permute_rows(it, false, legacy.data(), buf.data(), c.rows, opt.context))
        return s;
      if (q4r_status s = pwrite_all(out_fd.fd, buf.data(), c.bytes, at, tmp)) return s;
      pos = at + c.bytes;
      if (opt.progress) opt.progress(pos, total);
    }
    pos = it.offset + it.bytes;
  }
  if (q4r_status s = copy_to(total)) return s;
  const int closed = ::close(out_fd.fd);
  out_fd.fd = -1;
  if (closed != 0) return io_error("writing", tmp);

  if (opt.check) {
    GgufFile out;
    if (out.open(tmp.c_str()) != Q4R_OK) {
      const std::string msg = q4r_last_error();
      return fail(Q4R_E_MISMATCH, "convert --check: the output does not parse: %s", msg.c_str());
    }
    if (out.size() != in.size()) {
      return fail(Q4R_E_MISMATCH, "convert --check: '%s' has %zu bytes, the input %zu", tmp.c_str(),
                  out.size(), in.size());
    }
    if (q4r_status s = check_output(plan, out, in, step_bytes(opt), opt.context, tmp)) return s;
  }
  if (::rename(tmp.c_str(), out_path) != 0) return io_error("renaming the output to", out_path);
  guard.keep = true;
  if (stats) *stats = {plan.items.size(), plan.legacy_bytes, total};
  return Q4R_OK;
}

q4r_status convert_inplace(const char* path_c, const ConvertOptions& opt, ConvertStats* stats) {
  if (!path_c) return fail(Q4R_E_NULL, "convert: the path is NULL");
  const std::string path = path_c;
  GgufFile in;
  if (q4r_status s = in.open(path_c)) return s;
  ConvertPlan plan;
  if (q4r_status s = plan_conversion(in, &plan)) return s;
  if (stats) *stats = {plan.items.size(), plan.legacy_bytes, in.size()};
  if (plan.final_patches.empty()) return Q4R_OK;  // nothing to change
  Fd fd;
  fd.fd = ::open(path_c, O_RDWR | O_CLOEXEC);
  if (fd.fd < 0) return io_error("opening for writing", path);

  struct Done {
    std::size_t item;
    Chunk chunk;
    uint64_t checksum;  // of the legacy bytes, for --check
  };
  std::vector<Done> done;
  std::vector<uint8_t> a, b;
  const std::size_t most = largest_chunk(plan, step_bytes(opt));
  if (q4r_status s = allocate(a, most)) return s;
  if (q4r_status s = allocate(b, most)) return s;

  // Puts back the legacy bytes of every rewritten chunk and the legacy type ids; returns `why`
  // (the first failure) with a note on the state of the file.
  auto roll_back = [&](q4r_status why, bool restored = true) -> q4r_status {
    const std::string first = q4r_last_error();
    for (auto d = done.rbegin(); d != done.rend() && restored; ++d) {
      const auto& it = plan.items[d->item];
      const uint64_t at = it.offset + d->chunk.offset;
      restored = pread_all(fd.fd, a.data(), d->chunk.bytes, at, path) == Q4R_OK &&
                 permute_rows(it, true, a.data(), b.data(), d->chunk.rows, opt.context) == Q4R_OK &&
                 pwrite_all(fd.fd, b.data(), d->chunk.bytes, at, path) == Q4R_OK;
    }
    restored = restored && write_patches(fd.fd, plan.original_patches, path) == Q4R_OK &&
               sync(fd.fd, path) == Q4R_OK;
    return fail(why, "%s (%s)", first.c_str(),
                restored ? "the file was restored as it was"
                         : "restoring failed too: the file is damaged, readers will refuse it");
  };

  // 1. Mark the legacy tensors as being converted.
  if (q4r_status s = write_patches(fd.fd, plan.marker_patches, path)) return roll_back(s);
  if (q4r_status s = sync(fd.fd, path)) return roll_back(s);
  // 2. The data, chunk by chunk.
  uint64_t progress = 0;
  for (std::size_t i = 0; i < plan.items.size(); ++i) {
    const auto& it = plan.items[i];
    for (const Chunk& c : chunks_of(it, step_bytes(opt))) {
      const uint64_t at = it.offset + c.offset;
      if (q4r_status s = pread_all(fd.fd, a.data(), c.bytes, at, path)) return roll_back(s);
      const uint64_t sum = opt.check ? checksum64(a.data(), c.bytes) : 0;
      if (q4r_status s = permute_rows(it, false, a.data(), b.data(), c.rows, opt.context))
        return roll_back(s);
      if (q4r_status s = pwrite_all(fd.fd, b.data(), c.bytes, at, path)) {
        // Part of this chunk may be written: put its legacy bytes (still in `a`) back first.
        const std::string msg = q4r_last_error();
        const bool put_back = pwrite_all(fd.fd, a.data(), c.bytes, at, path) == Q4R_OK;
        return roll_back(fail(s, "%s", msg.c_str()), put_back);
      }
      done.push_back({i, c, sum});
      progress += c.bytes;
      if (opt.progress) opt.progress(progress, plan.legacy_bytes);
    }
  }
  if (q4r_status s = sync(fd.fd, path)) return roll_back(s);
  if (opt.check) {
    for (const Done& d : done) {
      const auto& it = plan.items[d.item];
      const uint64_t at = it.offset + d.chunk.offset;
      if (q4r_status s = pread_all(fd.fd, a.data(), d.chunk.bytes, at, path)) return roll_back(s);
      if (q4r_status s = permute_rows(it, true, a.data(), b.data(), d.chunk.rows, opt.context))
        return roll_back(s);
      if (checksum64(b.data(), d.chunk.bytes) != d.checksum) {
        return roll_back(fail(Q4R_E_MISMATCH,
                              "convert --check: tensor '%s' rows %" PRId64 "..%" PRId64
                              " do not repack to the original bytes",
                              name_of(*it.tensor).c_str(), d.chunk.row,
                              d.chunk.row + d.chunk.rows - 1));
      }
    }
  }
  // 3. The plain type ids and file type, last.
  if (q4r_status s = write_patches(fd.fd, plan.final_patches, path)) return roll_back(s);
  if (q4r_status s = sync(fd.fd, path)) return roll_back(s);
  return Q4R_OK;
}

}  // namespace q4r
