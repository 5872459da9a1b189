// Rescuing legacy pre-repacked GGUF files: every tensor of type 31-33 / 36 (Q4_0 / IQ4_NL already
// interleaved in 4x4 / 4x8 / 8x8, golden/gguf/MANIFEST.md section 6) is unpacked to plain Q4_0 /
// IQ4_NL (type 2 / 20), and everything else stays byte for byte: KV pairs and their order, tensor
// order, names, shapes, offsets, alignment, padding. The sizes do not change, so the output has the
// input's length, and a file made by interleaving a plain file converts back to that file exactly.
// `general.file_type` 33 / 34 / 35 (llama.cpp's MOSTLY_Q4_0_4_4 / 4_8 / 8_8) becomes 2
// (MOSTLY_Q4_0).
//
// The file versions stream: the metadata is parsed from a mapping, other tensors' bytes are copied
// in the kernel, legacy tensors are read, unpacked and written in chunks of whole row groups, so
// memory use does not grow with the file.
#ifndef Q4R_LIB_GGUF_CONVERT_H_
#define Q4R_LIB_GGUF_CONVERT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "gguf.h"

namespace q4r {

// What converting a parsed file changes.
struct ConvertPlan {
  // A little-endian integer field of the header (a tensor's type id, general.file_type's value).
  struct Patch {
    uint64_t offset;
    int bytes;
    uint64_t value;
  };
  // One legacy tensor: all its rows (every dimension above ne0 flattened; groups never straddle
  // matrices since ne1 is a multiple of N).
  struct Item {
    const GgufTensor* tensor;
    uint64_t offset;  // file offset of the data
    uint64_t bytes;
    int64_t rows;
    int64_t k;
  };
  std::vector<Item> items;           // in file order
  std::vector<Patch> final_patches;  // plain type ids, general.file_type
  std::vector<Patch>
      marker_patches;  // in place, while the data is rewritten (kGgmlTypeConvertingBase)
  std::vector<Patch> original_patches;  // the legacy type ids, to restore after a failed rewrite
  uint64_t legacy_bytes = 0;
};

// Q4R_E_UNSUPPORTED if a tensor has a type that is unknown here (37 / 38 included): its size and
// meaning cannot be checked, so the file is not converted.
q4r_status plan_conversion(const GgufFile& in, ConvertPlan* plan);

struct ConvertOptions {
  // Re-read what was written and check that each converted tensor repacks to the input's bytes.
  bool check = false;
  // Bytes per read / unpack / write step and thread. Small enough that the three passes over a
  // chunk run in the core's L2: measured here (1 GB, 1 thread), 1 MB chunks took 0.3 s of system
  // time, 8 MB chunks 0.8-1.8 s.
  std::size_t chunk_bytes = std::size_t{1} << 20;
  // NULL: unpack on the calling thread. A context: each chunk (chunk_bytes per thread of it) is
  // unpacked on its threads (q4r_context_unpack).
  const q4r_context* context = nullptr;
  // Called after each chunk with the bytes done and the total (file bytes, or legacy bytes in
  // place).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct ConvertStats {
  std::size_t tensors = 0;    // legacy tensors converted
  uint64_t tensor_bytes = 0;  // their bytes
  uint64_t file_bytes = 0;    // size of the file
};

// In memory (tests, fuzzing): `out` becomes the converted file.
q4r_status convert_buffer(const GgufFile& in, std::vector<uint8_t>* out);

// IN -> OUT: writes OUT.tmp (OUT with ".tmp" appended) next to OUT, checks it if asked, then
// renames it over OUT. On any failure OUT is untouched and OUT.tmp removed. Like cp, it does not
// fsync OUT.
q4r_status convert_file(const char* in_path, const char* out_path, const ConvertOptions& options,
                        ConvertStats* stats);

// Rewrites the file itself, so it needs no second copy:
//   1. each legacy tensor's type id becomes kGgmlTypeConvertingBase + id (no reader accepts those),
//      fsync; 2. the tensor data is unpacked in place, chunk by chunk, fsync; (--check here);
//   3. the plain type ids and general.file_type are written, fsync.
// A failure (I/O error, failed check) repacks what was already rewritten and restores the type
// ids: the file is as it was. A crash (power loss, kill -9) in steps 1-2 leaves a file every
// reader refuses (unknown type ids); in step 3, a file whose tensors are either plain or refused.
q4r_status convert_inplace(const char* path, const ConvertOptions& options, ConvertStats* stats);

}  // namespace q4r

#endif  // Q4R_LIB_GGUF_CONVERT_H_
