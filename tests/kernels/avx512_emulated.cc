// The AVX-512 VNNI kernel file compiled against SIMDe with baseline flags, for tests only (never
// linked into the library): kernels_test.cc runs it against the exact reference and the golden
// files on machines (and qemu models) without AVX-512.
#define Q4R_EMULATE_AVX512 1
#include "kernels/x86/kernels_avx512vnni.cc"
