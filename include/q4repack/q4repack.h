/*
 * q4repack: GGML-compatible 4-bit weight formats, online repacking and matmul kernels for CPUs.
 *
 * C ABI. Every function that can fail returns a q4r_status; on failure the caller's output buffers
 * (and, for in-place operations, the input) are left exactly as they were, and q4r_last_error()
 * returns a one-line message naming the problem (thread-local).
 *
 * Conventions
 *  - A weight tensor has `n` rows (output features) of `k` values (the reduction dimension,
 *    contiguous); k must be a multiple of 32. Plain storage is GGML's: row r is k/32 blocks.
 *  - Repacked storage has the same byte size as plain storage (see docs/FORMATS.md): groups of N
 *    rows interleaved, and the last n % N rows kept as plain blocks after the last full group.
 *  - Activations X are m rows of k float32 values; outputs Y are m rows of n float32 values.
 *  - float pointers must be 4-byte aligned; block data (weights, workspaces) has no alignment
 *    requirement, but 64-byte aligned workspaces are faster.
 */
#ifndef Q4REPACK_H_
#define Q4REPACK_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(Q4R_BUILDING_SHARED)
#define Q4R_API __attribute__((visibility("default")))
#else
#define Q4R_API
#endif

#define Q4R_VERSION_MAJOR 0
#define Q4R_VERSION_MINOR 2
#define Q4R_VERSION_PATCH 0
#define Q4R_VERSION_STRING "0.2.0"
/* (major << 16) | (minor << 8) | patch */
#define Q4R_VERSION ((Q4R_VERSION_MAJOR << 16) | (Q4R_VERSION_MINOR << 8) | Q4R_VERSION_PATCH)

Q4R_API uint32_t q4r_version(void);
Q4R_API const char* q4r_version_string(void);

/* In C++ the enums below get a fixed underlying type (int): then every int a caller passes is a
 * valid value of the enum type and is rejected by the checks, instead of being undefined behaviour
 * inside the C++ implementation (UBSan -fsanitize=enum). Same size and calling convention as the
 * plain C enums. */
#if defined(__cplusplus)
#define Q4R_ENUM(name) enum name : int
#else
#define Q4R_ENUM(name) enum name
#endif

/* clang-format cannot read the Q4R_ENUM macro as an enum head: */
/* clang-format off */
/* ---------------------------------------------------------------- status codes */
typedef Q4R_ENUM(q4r_status) {
  Q4R_OK = 0,
  Q4R_E_NULL = 1,        /* a required pointer is NULL */
  Q4R_E_ARGUMENT = 2,    /* an enum, count or option is out of range */
  Q4R_E_SIZE = 3,        /* a buffer size does not match the shape */
  Q4R_E_SHAPE = 4,       /* k is not a multiple of 32, or a dimension is not positive */
  Q4R_E_ALIGNMENT = 5,   /* a float pointer is not 4-byte aligned */
  Q4R_E_UNSUPPORTED = 6, /* a valid combination this build cannot do */
  Q4R_E_ISA = 7,         /* the requested instruction set is not available on this CPU */
  Q4R_E_NOMEM = 8,       /* an allocation failed */
  Q4R_E_IO = 9,          /* a file could not be read or written */
  Q4R_E_FORMAT = 10,     /* a file or buffer is malformed */
  Q4R_E_OVERLAP = 11,    /* source and destination overlap (but are not identical) */
  Q4R_E_VALUE = 12,      /* an input value is not finite */
  Q4R_E_MISMATCH = 13    /* data does not match what it claims (checksum, source) */
} q4r_status;

/* Static description of a status code. */
Q4R_API const char* q4r_strerror(q4r_status status);
/* Detailed message of the last failed call on this thread ("" if none). */
Q4R_API const char* q4r_last_error(void);

/* ---------------------------------------------------------------- types, layouts, ISAs */
typedef Q4R_ENUM(q4r_type) {
  Q4R_TYPE_Q4_0 = 0,   /* 18-byte blocks: fp16 d, 16 bytes of nibbles, value (q-8)*d */
  Q4R_TYPE_IQ4_NL = 1, /* 18-byte blocks: fp16 d, 16 bytes of nibbles, value kvalues[q]*d */
  Q4R_TYPE_Q8_0 = 2    /* 34-byte blocks: fp16 d, 32 int8, value q*d (activations) */
} q4r_type;

typedef Q4R_ENUM(q4r_layout) {
  Q4R_LAYOUT_PLAIN = 0, /* GGML's plain row-major blocks */
  Q4R_LAYOUT_4X4 = 1,   /* 4 rows interleaved in 4-byte chunks */
  Q4R_LAYOUT_4X8 = 2,   /* 4 rows interleaved in 8-byte chunks */
  Q4R_LAYOUT_8X8 = 3    /* 8 rows interleaved in 8-byte chunks */
} q4r_layout;
#define Q4R_LAYOUT_COUNT 4

typedef Q4R_ENUM(q4r_isa) {
  Q4R_ISA_SCALAR = 0,     /* portable C++ reference, runs everywhere */
  Q4R_ISA_AVX2 = 1,       /* x86: AVX2 + FMA + F16C */
  Q4R_ISA_AVX512VNNI = 2, /* x86: AVX-512 F/BW/VL/DQ + VNNI, vector width chosen per CPU */
  Q4R_ISA_NEON = 3,       /* aarch64: ARMv8.0 Advanced SIMD */
  Q4R_ISA_DOTPROD = 4,    /* aarch64: + SDOT (ARMv8.2 dotprod) */
  Q4R_ISA_I8MM = 5,       /* aarch64: + SMMLA (i8mm) */
  Q4R_ISA_AVXVNNI = 6,    /* x86: AVX2 + FMA + F16C + AVX-VNNI (VEX vpdpbusd), no AVX-512 */
  Q4R_ISA_AVX512VNNI256 = 7, /* x86: Q4R_ISA_AVX512VNNI forced to its 256-bit kernels */
  Q4R_ISA_AVX512VNNI512 = 8, /* x86: Q4R_ISA_AVX512VNNI forced to its 512-bit kernels */
  Q4R_ISA_SVE256 = 9         /* aarch64: + SVE with a 256-bit vector length (Neoverse V1) */
} q4r_isa;
#define Q4R_ISA_COUNT 10
/* clang-format on */

Q4R_API const char* q4r_type_name(q4r_type type);       /* "q4_0", "iq4_nl", "q8_0" */
Q4R_API const char* q4r_layout_name(q4r_layout layout); /* "none", "4x4", "4x8", "8x8" */
Q4R_API const char* q4r_isa_name(q4r_isa isa); /* "scalar", "avx2", "avx512vnni", "avxvnni", ... */
Q4R_API q4r_status q4r_parse_type(const char* name, q4r_type* out);
Q4R_API q4r_status q4r_parse_layout(const char* name, q4r_layout* out); /* also accepts "plain" */
Q4R_API q4r_status q4r_parse_isa(const char* name, q4r_isa* out);

/* Rows per interleaved group: 1 (plain), 4 or 8. 0 for an invalid layout. */
Q4R_API int q4r_layout_rows(q4r_layout layout);
/* Activation interleave (bytes per chunk) the GEMM of a layout consumes: 4 or 8 (0 for plain). */
Q4R_API int q4r_layout_chunk(q4r_layout layout);

/* ---------------------------------------------------------------- GGUF tensor types */
/* The weight type and storage layout of a GGUF tensor type id (GGML's type number), so that an
 * engine loading GGUF files itself can run their tensors straight from its mapping:
 *   2 -> Q4_0 plain, 20 -> IQ4_NL plain, and the legacy pre-repacked types GGML wrote until
 *   December 2024 (removed from GGML since): 31 q4_0_4x4 -> Q4_0 4x4, 32 q4_0_4x8 -> Q4_0 4x8,
 *   33 q4_0_8x8 -> Q4_0 8x8, 36 iq4_nl_4x4 -> IQ4_NL 4x4.
 * A legacy tensor of ne1 rows (a multiple of the layout's rows) per matrix is exactly
 * q4r_repack(type, layout) of its plain rows: pass its bytes to q4r_run / q4r_matmul with that
 * layout (n = ne1, k = ne0; a 3-D tensor is ne2 such matrices back to back), or q4r_unpack them.
 * Any other id, including 37 and 38 (reserved by GGML, never defined), is Q4R_E_UNSUPPORTED with a
 * message naming it; outputs are then left untouched. */
Q4R_API q4r_status q4r_gguf_type_info(uint32_t ggml_type, q4r_type* type, q4r_layout* layout);

/* ---------------------------------------------------------------- CPU and dispatch */
/* Non-zero if this build has kernels for `isa` and the CPU (and OS) can run them. */
Q4R_API int q4r_isa_available(q4r_isa isa);
/* The best available ISA: x86 avx512vnni > avxvnni > avx2 > scalar, aarch64 i8mm > dotprod > neon
 * > scalar. avx512vnni256 and avx512vnni512 are never "best": avx512vnni already runs the width
 * chosen for this CPU (docs/KERNELS.md); they exist to force one width. */
Q4R_API q4r_isa q4r_best_isa(void);
/* The ISA whose kernels the library uses now. Initially the best one, or the one named by the
 * environment variable Q4REPACK_ISA (read once, at first use; an unavailable one is ignored with
 * a message on stderr). */
Q4R_API q4r_isa q4r_active_isa(void);
/* Force an ISA for the whole process. Q4R_E_ISA if it is not available. */
Q4R_API q4r_status q4r_set_isa(q4r_isa isa);
/* The layout this library prefers for `type` on `isa` (measured; see docs/PERFORMANCE.md). */
Q4R_API q4r_layout q4r_preferred_layout(q4r_type type, q4r_isa isa);

/* What the dispatcher detected about this CPU (cpu_features and cpuid, once per process), as
 * text, so that bindings and tools report the library's view instead of parsing /proc/cpuinfo. */
/* clang-format off */
typedef Q4R_ENUM(q4r_cpu_info_key) {
  Q4R_CPU_ARCH = 0,             /* "x86_64", "aarch64" or "other" */
  Q4R_CPU_VENDOR = 1,           /* cpuid vendor, e.g. "AuthenticAMD" ("" where unknown) */
  Q4R_CPU_BRAND = 2,            /* cpuid brand string ("" where unknown) */
  Q4R_CPU_MODEL = 3,            /* "family 0x1a model 0x2" (x86; "" elsewhere) */
  Q4R_CPU_CLASS = 4,            /* the class the kernel choice uses: "AMD Zen 5", ..., "unknown" */
  Q4R_CPU_FEATURES = 5,         /* the features the dispatcher reads that this CPU (and OS) has,
                                   space separated in a fixed order, e.g. "avx2 fma3 f16c" */
  Q4R_CPU_FEATURES_CHECKED = 6  /* every feature the dispatcher reads, present or not */
} q4r_cpu_info_key;
#define Q4R_CPU_INFO_COUNT 7
/* clang-format on */

/* Text results (q4r_cpu_info, q4r_isa_kernel_set) are copied like this: `*length` receives the
 * text's length without the NUL; with buf NULL and size 0 only the length is returned (a size
 * query); otherwise buf receives the text and a NUL, and a size <= length is Q4R_E_SIZE (nothing
 * written, *length included). length may be NULL when buf is given. */
Q4R_API q4r_status q4r_cpu_info(q4r_cpu_info_key key, char* buf, size_t size, size_t* length);
/* Which kernels level `isa` runs on this CPU and why, e.g. "512-bit 8x8 GEMV/GEMM; AMD Zen 5
 * (class table): zmm vpdpbusd at full rate" for avx512vnni; "" for levels without a choice.
 * Q4R_E_ISA if `isa` is not available here. */
Q4R_API q4r_status q4r_isa_kernel_set(q4r_isa isa, char* buf, size_t size, size_t* length);

/* ---------------------------------------------------------------- sizes */
/* Bytes of one row of k values (k/32 blocks). */
Q4R_API q4r_status q4r_row_bytes(q4r_type type, int64_t k, size_t* out);
/* Bytes of n rows of k values; also the size of any repacked form of them. */
Q4R_API q4r_status q4r_tensor_bytes(q4r_type type, int64_t n, int64_t k, size_t* out);

/* ---------------------------------------------------------------- quantize / dequantize */
/* Quantize n rows of k floats, bit-exact with GGML's reference quantizers:
 *   Q4_0   without imatrix: quantize_row_q4_0_ref; with imatrix: quantize_q4_0 (make_qx_quants)
 *   IQ4_NL (with or without imatrix): quantize_iq4_nl, scale search ntry = 7
 *   Q8_0   quantize_row_q8_0_ref (roundf); imatrix must be NULL
 * imatrix: NULL or k non-negative importance weights (one per column, shared by all rows).
 * Non-finite inputs are rejected (Q4R_E_VALUE). */
Q4R_API q4r_status q4r_quantize(q4r_type type, const float* src, int64_t n, int64_t k,
                                const float* imatrix, void* dst, size_t dst_size);
Q4R_API q4r_status q4r_dequantize(q4r_type type, const void* src, size_t src_size, int64_t n,
                                  int64_t k, float* dst);

/* ---------------------------------------------------------------- repack / unpack */
/* Plain -> layout. src and dst are `size` bytes each and must not overlap unless src == dst
 * (then it is done in place). Byte-identical to GGML's repacked blocks for every full group. */
Q4R_API q4r_status q4r_repack(q4r_type type, q4r_layout layout, const void* src, void* dst,
                              size_t size, int64_t n, int64_t k);
/* In place, with scratch of one row group. */
Q4R_API q4r_status q4r_repack_inplace(q4r_type type, q4r_layout layout, void* data, size_t size,
                                      int64_t n, int64_t k);
/* Layout -> plain: the exact inverse. */
Q4R_API q4r_status q4r_unpack(q4r_type type, q4r_layout layout, const void* src, void* dst,
                              size_t size, int64_t n, int64_t k);
Q4R_API q4r_status q4r_unpack_inplace(q4r_type type, q4r_layout layout, void* data, size_t size,
                                      int64_t n, int64_t k);

/* Row-group ranges, to spread one tensor over an engine's own threads. A tensor of n rows in
 * `layout` has q4r_row_groups(layout, n) = ceil(n / N) row groups (N = q4r_layout_rows):
 * group g is rows [g*N, min(n, (g+1)*N)) and occupies the same bytes in both forms; the last
 * group, when N does not divide n, is the plain tail (copied unchanged, or left as it is in
 * place). These calls do groups [g0, g1) only, with 0 <= g0 <= g1 <= q4r_row_groups (otherwise
 * Q4R_E_ARGUMENT; g0 == g1 does nothing): the pointers, size, n and k are the WHOLE tensor's, as
 * in the calls above, and nothing outside those groups' bytes is read or written. Calls on
 * disjoint ranges of one tensor may run at the same time on different threads; splitting
 * [0, q4r_row_groups) in any way gives exactly the whole call's result. The in-place forms
 * allocate the scratch of one row group per call. */
Q4R_API int64_t q4r_row_groups(q4r_layout layout, int64_t n); /* 0 if invalid */
Q4R_API q4r_status q4r_repack_range(q4r_type type, q4r_layout layout, const void* src, void* dst,
                                    size_t size, int64_t n, int64_t k, int64_t g0, int64_t g1);
Q4R_API q4r_status q4r_repack_inplace_range(q4r_type type, q4r_layout layout, void* data,
                                            size_t size, int64_t n, int64_t k, int64_t g0,
                                            int64_t g1);
Q4R_API q4r_status q4r_unpack_range(q4r_type type, q4r_layout layout, const void* src, void* dst,
                                    size_t size, int64_t n, int64_t k, int64_t g0, int64_t g1);
Q4R_API q4r_status q4r_unpack_inplace_range(q4r_type type, q4r_layout layout, void* data,
                                            size_t size, int64_t n, int64_t k, int64_t g0,
                                            int64_t g1);

/* ---------------------------------------------------------------- activations */
/* m rows of k floats (row stride x_stride floats, >= k) -> m plain Q8_0 rows, with the active
 * ISA's activation quantizer (scalar: roundf like GGML's reference; see docs/KERNELS.md). */
Q4R_API q4r_status q4r_quantize_q8_0_rows(const float* x, size_t x_stride, int64_t m, int64_t k,
                                          void* dst, size_t dst_size);
/* m rows (m % 4 == 0) -> m/4 groups of 4 interleaved rows with chunk `chunk` (4 or 8):
 * GGML's block_q8_0x4. */
Q4R_API q4r_status q4r_quantize_q8_0_x4(const float* x, size_t x_stride, int64_t m, int64_t k,
                                        int chunk, void* dst, size_t dst_size);

/* ---------------------------------------------------------------- stateless matmul core */
/* Y[m x n] = X[m x k] * W^T, in two steps with caller-owned memory:
 *   1. q4r_quantize_activations(layout, X) -> workspace (size from q4r_workspace_size);
 *   2. q4r_run(...) on any range of output columns [col_begin, col_end), from any thread.
 * col_begin must be a multiple of q4r_column_step(layout); col_end a multiple of it or n.
 * Workspace format: the first m - m%4 rows as 4-row interleaved groups (chunk of the layout),
 * then the rest as plain Q8_0 rows; if the layout is plain or n % N != 0, also all m rows as
 * plain Q8_0 rows after that. */
Q4R_API q4r_status q4r_workspace_size(q4r_layout layout, int64_t n, int64_t m, int64_t k,
                                      size_t* out);
Q4R_API int64_t q4r_column_step(q4r_layout layout);
Q4R_API q4r_status q4r_quantize_activations(q4r_layout layout, int64_t n, const float* x,
                                            size_t x_stride, int64_t m, int64_t k, void* workspace,
                                            size_t workspace_size);
/* Activation rows [row_begin, row_end) of the quantized batch: lets a caller split quantization
 * over threads. Row bounds must be multiples of 4 except row_end == m. */
Q4R_API q4r_status q4r_quantize_activations_rows(q4r_layout layout, int64_t n, const float* x,
                                                 size_t x_stride, int64_t m, int64_t k,
                                                 int64_t row_begin, int64_t row_end,
                                                 void* workspace, size_t workspace_size);
Q4R_API q4r_status q4r_run(q4r_type type, q4r_layout layout, const void* w, size_t w_size,
                           int64_t n, int64_t k, const void* workspace, size_t workspace_size,
                           int64_t m, float* y, size_t y_stride, int64_t col_begin,
                           int64_t col_end);

/* ---------------------------------------------------------------- convenience matmul */
/* Everything in one call (allocates the workspace). n_threads <= 0 means all cores;
 * y_stride is n. */
Q4R_API q4r_status q4r_matmul(q4r_type type, q4r_layout layout, const void* w, size_t w_size,
                              int64_t n, int64_t k, const float* x, int64_t m, float* y,
                              int n_threads);

/* ---------------------------------------------------------------- threads and contexts */
/* Row step of activation quantization: q4r_quantize_activations_rows ranges start at multiples of
 * this (4), the height of one interleaved activation group. */
Q4R_API int64_t q4r_row_step(void);

/* One unit of work: called once per task index by a parallel-for. */
typedef void (*q4r_task_fn)(void* arg, int task_index);
/* An engine's parallel-for hook: call task(arg, i) once for every i in [0, n_tasks), on any
 * threads and in any order, and return only when all calls have returned. Tasks never wait for
 * each other, so running them one after another on the calling thread is also correct.
 * `user` is the pointer given in q4r_context_options. */
typedef void (*q4r_parallel_for)(void* user, int n_tasks, q4r_task_fn task, void* arg);

/* A reusable matmul context: the ISA whose kernels it runs, and who runs the work (the library's
 * own thread pool, or the engine's parallel-for). Immutable after creation: any number of threads
 * may use one context (and the same weights) at once. */
typedef struct q4r_context q4r_context;

#define Q4R_ISA_AUTO (-1) /* q4r_context_options.isa: the active ISA when the context is made */

typedef struct q4r_context_options {
  size_t struct_size; /* sizeof(q4r_context_options); set by q4r_context_options_init */
  int isa;            /* a q4r_isa value, or Q4R_ISA_AUTO (default) */
  int n_threads;      /* own pool: threads per call; hook: tasks per phase. <= 0: all cores */
  q4r_parallel_for parallel_for; /* NULL (default): the library's internal pool */
  void* parallel_for_user;       /* passed to parallel_for as `user` */
  /* Own pool only (since 0.2): after a call, its workers poll this many microseconds for the next
   * call before they sleep, so that the next call of a loop starts them at once instead of
   * through a kernel wake-up (microseconds, tens on a VM). 0: sleep at once; at most 1000000;
   * < 0 (default): Q4REPACK_POLL_US if set, else 100. */
  int poll_us;
} q4r_context_options;

/* Fills the defaults (auto ISA, all cores, internal pool, default polling). A 0.1 caller's
 * struct (without poll_us) is still accepted by q4r_context_create. */
Q4R_API void q4r_context_options_init(q4r_context_options* options);
/* options may be NULL (defaults). Q4R_E_ISA if the requested ISA is not available. */
Q4R_API q4r_status q4r_context_create(const q4r_context_options* options, q4r_context** out);
/* NULL is ignored. Must not race with calls that use the context. */
Q4R_API void q4r_context_destroy(q4r_context* ctx);
/* The context's ISA, thread (task) count, and the layout to repack `type` weights into for it. */
Q4R_API q4r_isa q4r_context_isa(const q4r_context* ctx);
Q4R_API int q4r_context_threads(const q4r_context* ctx);
/* (Q4R_LAYOUT_PLAIN for a NULL context or a non-weight type.) */
Q4R_API q4r_layout q4r_context_layout(const q4r_context* ctx, q4r_type type);

/* q4r_repack / q4r_unpack on the context's threads (its own pool or the engine's parallel-for):
 * the row groups are split into runs done by q4r_*_range, up to one task per thread (fewer for
 * small tensors: 512 KiB per task at least). Same arguments, validation and result as the
 * single-threaded calls; src == dst works in place (one row group of scratch per task, allocated
 * before anything is written, so a failure leaves the data untouched). */
Q4R_API q4r_status q4r_context_repack(const q4r_context* ctx, q4r_type type, q4r_layout layout,
                                      const void* src, void* dst, size_t size, int64_t n,
                                      int64_t k);
Q4R_API q4r_status q4r_context_unpack(const q4r_context* ctx, q4r_type type, q4r_layout layout,
                                      const void* src, void* dst, size_t size, int64_t n,
                                      int64_t k);

/* A weight tensor as the matmul sees it: n rows of k values of `type`, stored in `layout`
 * (size bytes = q4r_tensor_bytes). The library never keeps the pointer after a call returns. */
typedef struct q4r_weights {
  q4r_type type;
  q4r_layout layout;
  const void* data;
  size_t size;
  int64_t n;
  int64_t k;
} q4r_weights;

/* Bytes of workspace q4r_context_matmul needs for m activation rows (a workspace of at least
 * this size can be reused for any m' <= m with the same weights shape). */
Q4R_API q4r_status q4r_context_workspace_size(const q4r_context* ctx, const q4r_weights* w,
                                              int64_t m, size_t* out);
/* Y[m x n] = X[m x k] * W^T: quantizes X (split over the tasks in groups of 4 rows), then runs
 * the output columns in chunks of whole row groups handed out dynamically.
 * x: m rows, row stride x_stride floats (>= k); y: m rows, row stride y_stride floats (>= n).
 * workspace: NULL (allocated per call; workspace_size must be 0) or at least
 * q4r_context_workspace_size bytes. */
Q4R_API q4r_status q4r_context_matmul(const q4r_context* ctx, const q4r_weights* w, const float* x,
                                      size_t x_stride, int64_t m, float* y, size_t y_stride,
                                      void* workspace, size_t workspace_size);

/* ---------------------------------------------------------------- expert (MoE) matmul */
/* GGML's MUL_MAT_ID. `experts` describes ONE expert (n rows of k, its type and layout);
 * experts->data holds n_experts of them back to back, each packed on its own, so
 * experts->size = n_experts * q4r_tensor_bytes(type, n, k).
 * ids: m rows of n_used int32 expert ids (row stride ids_stride >= n_used), the routing table.
 * x: if x_per_slot is 0, m rows (token t's row feeds all its experts); otherwise m * n_used rows,
 * row t * n_used + s feeding slot s of token t. Row stride x_stride floats.
 * y: m * n_used rows of n floats, row t * n_used + s = x_row(t, s) * W[ids[t][s]]^T, row stride
 * y_stride. Routed rows are batched per expert, so experts with 4 or more rows use the GEMM.
 * An id outside [0, n_experts) is Q4R_E_ARGUMENT (nothing written). */
Q4R_API q4r_status q4r_context_matmul_id(const q4r_context* ctx, const q4r_weights* experts,
                                         int64_t n_experts, const float* x, size_t x_stride,
                                         int x_per_slot, int64_t m, const int32_t* ids,
                                         size_t ids_stride, int64_t n_used, float* y,
                                         size_t y_stride);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* Q4REPACK_H_ */
