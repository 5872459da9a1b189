// The 512-bit AVX-512 VNNI kernel file compiled against SIMDe with baseline flags, for tests only
// (never linked into the library): kernels_test.cc layers it over the emulated 256-bit table and
// runs it against the exact reference and the golden files where the CPU has no AVX-512.
#define Q4R_EMULATE_AVX512 1
#include "kernels/x86/kernels_avx512vnni512.cc"
