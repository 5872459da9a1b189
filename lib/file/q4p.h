// .q4p packed-weights files (format: include/q4repack/q4p.h): the packer, and the reader behind the
// C API. The reader checks every field against the file size with overflow-safe arithmetic before
// using it, like the GGUF reader.
#ifndef Q4R_LIB_Q4P_H_
#define Q4R_LIB_Q4P_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "gguf.h"
#include "q4repack/q4p.h"

namespace q4r {

constexpr uint64_t kQ4pHeaderBytes = 128;
constexpr uint64_t kQ4pEntryBytes = 192;
constexpr uint64_t kQ4pMaxName = 64;

uint64_t checksum64(const void* data, std::size_t size);

struct Q4pPackOptions {
  q4r_layout layout = Q4R_LAYOUT_PLAIN;  // PLAIN: the active ISA's preferred layout per type
  uint32_t alignment = 4096;             // data alignment (a power of two, >= 64)
  bool require_isa = false;              // record the active ISA as required
  const q4r_context* context = nullptr;  // repack on its threads (NULL: the calling thread)
  // Called before each tensor is packed (index, count, name).
  std::function<void(std::size_t, std::size_t, std::string_view)> progress;
};

// Packs a parsed GGUF file into .q4p bytes in memory (tests, fuzz seeds) or into a file (written to
// a temporary name, then renamed).
q4r_status q4p_pack_buffer(const GgufFile& src, const Q4pPackOptions& options,
                           std::vector<uint8_t>* out);
q4r_status q4p_pack_file(const GgufFile& src, const char* out_path, const Q4pPackOptions& options);

}  // namespace q4r

#endif  // Q4R_LIB_Q4P_H_
