/*
 * q4repack: .q4p packed-weights files.
 *
 * A .q4p file holds the Q4_0 / IQ4_NL weight matrices of one GGUF file already repacked into an
 * interleaved layout, so that a program can mmap it and hand the tensors to q4r_run / q4r_matmul
 * with no repack work at load time. The GGUF file stays the source of everything else (metadata,
 * other tensors); the .q4p records checksums of the GGUF's metadata and of every source tensor so a
 * mismatched pair is detected.
 *
 * C ABI, same conventions as q4repack.h: every function that can fail returns a q4r_status and
 * sets q4r_last_error(). Hostile or damaged files give Q4R_E_FORMAT (bad structure),
 * Q4R_E_MISMATCH (checksums), Q4R_E_ISA (a tensor requires an instruction set this CPU lacks), or
 * Q4R_E_IO; never a crash.
 *
 * File format, version 1 (all integers little-endian):
 *   header, 128 bytes:
 *     0  char[8]  magic "Q4RPACK\0"          64  u64 source_meta_checksum: checksum of the GGUF's
 *     8  u32      version = 1                     bytes [0, data section start)
 *     12 u32      header bytes = 128          72  u64 directory_checksum
 *     16 u32      data alignment (power of 2) 80  u32 directory entry bytes = 192
 *     20 u32      tensor count                84  reserved, zero, up to byte 120
 *     24 u64      directory offset = 128      120 u64 header_checksum of bytes [0, 120)
 *     32 u64      directory bytes = count * 192
 *     40 u64      data offset (aligned)
 *     48 u64      file size
 *     56 u64      source GGUF file size
 *   directory: `count` entries of 192 bytes:
 *     0 u32 name length (1..64), 4 char[64] name (zero padded), 68 u32 q4r_type, 72 u32 q4r_layout,
 *     76 u32 required q4r_isa (Q4R_ISA_SCALAR: none), 80 u32 q4r_isa the layout was chosen for,
 *     84 u32 n_dims (2 or 3), 88 i64 ne[4] (GGML order: ne0 = k, ne1 = rows, ne2 = matrices),
 *     120 u64 data offset (absolute, aligned), 128 u64 data bytes, 136 u64 packed-data checksum,
 *     144 u64 source-tensor checksum, 152 u64 absolute offset of the source tensor in the GGUF,
 *     160 reserved, zero, up to 192.
 *   data: each tensor at its aligned offset; a 3-D tensor is `matrices` matrices one after the
 *     other, each repacked on its own (its rows % N tail stays plain, as q4r_repack does).
 *   Checksums are q4r_checksum64 (below).
 */
#ifndef Q4REPACK_Q4P_H_
#define Q4REPACK_Q4P_H_

#include "q4repack/q4repack.h"

#ifdef __cplusplus
extern "C" {
#endif

#define Q4R_Q4P_VERSION 1

/* Flags of q4r_q4p_open / q4r_q4p_check_source. */
#define Q4R_Q4P_VERIFY 1u /* also verify every tensor's data checksum (reads all the data) */

typedef struct q4r_q4p q4r_q4p; /* an open .q4p file */

typedef struct q4r_q4p_tensor {
  const char* name; /* NUL-terminated, valid while the file is open */
  q4r_type type;
  q4r_layout layout;
  q4r_isa required_isa; /* Q4R_ISA_SCALAR: runs anywhere */
  q4r_isa target_isa;   /* the ISA the layout was chosen for (information) */
  int n_dims;
  int64_t ne[4];
  int64_t rows;     /* ne1: rows (output features) of one matrix */
  int64_t k;        /* ne0: values per row */
  int64_t matrices; /* ne2: 1, or the number of experts */
  const void* data; /* `matrices` repacked matrices of matrix_bytes each */
  size_t size;
  size_t matrix_bytes;
  uint64_t packed_checksum;
  uint64_t source_checksum;
  uint64_t source_offset;
} q4r_q4p_tensor;

/* Maps and checks a .q4p file: structure, bounds, checksums of header and directory, and that this
 * CPU can run every tensor's required ISA. With Q4R_Q4P_VERIFY also every tensor's data. */
Q4R_API q4r_status q4r_q4p_open(const char* path, unsigned flags, q4r_q4p** out);
/* The same on a buffer the caller keeps alive and unchanged until q4r_q4p_close. */
Q4R_API q4r_status q4r_q4p_open_buffer(const void* data, size_t size, unsigned flags,
                                       q4r_q4p** out);
Q4R_API void q4r_q4p_close(q4r_q4p* file); /* NULL is fine */

Q4R_API size_t q4r_q4p_tensor_count(const q4r_q4p* file);
Q4R_API q4r_status q4r_q4p_get_tensor(const q4r_q4p* file, size_t index, q4r_q4p_tensor* out);
/* Q4R_E_ARGUMENT if there is no tensor of that name. */
Q4R_API q4r_status q4r_q4p_find_tensor(const q4r_q4p* file, const char* name, q4r_q4p_tensor* out);

/* Checks that `gguf_path` is the GGUF this file was packed from: file size and metadata checksum,
 * and that every tensor exists there with the same type, shape and offset. With Q4R_Q4P_VERIFY
 * also the checksum of every source tensor's bytes. Q4R_E_MISMATCH names the first difference. */
Q4R_API q4r_status q4r_q4p_check_source(const q4r_q4p* file, const char* gguf_path, unsigned flags);

/* Packs every repackable Q4_0 / IQ4_NL tensor (2-D and 3-D) of a GGUF file into a .q4p file.
 * layout: Q4R_LAYOUT_4X4 / 4X8 / 8X8 for all tensors, or Q4R_LAYOUT_PLAIN for "auto" (the active
 * ISA's preferred layout per type). flags: Q4R_Q4P_REQUIRE_ISA records the active ISA as required
 * (opening then fails on CPUs without it). The output is written to a temporary file and renamed,
 * so a failure leaves `out_path` as it was. */
#define Q4R_Q4P_REQUIRE_ISA 2u
Q4R_API q4r_status q4r_q4p_pack(const char* gguf_path, const char* out_path, q4r_layout layout,
                                unsigned flags);

/* The 64-bit checksum the format uses (a fast non-cryptographic hash of the bytes). */
Q4R_API uint64_t q4r_checksum64(const void* data, size_t size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* Q4REPACK_Q4P_H_ */
