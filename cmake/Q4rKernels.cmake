# Per-ISA kernel files and their flags. One ISA family per file; the ISA is the file name's suffix
# (gemm_avx2.cc, quant_avx512vnni.cc, kernels_dotprod.cc, ...), and each file is compiled with
# exactly its own flags, nothing else (TOOLCHAIN.md section 3).
set(Q4R_KERNEL_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels/scalar/scalar_kernels.cc)
set(Q4R_KERNEL_DEFINES)

function(q4r_isa_sources out dir suffix)
  file(GLOB files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/kernels/${dir}/*_${suffix}.cc)
  set_source_files_properties(${files} PROPERTIES COMPILE_OPTIONS "${ARGN}")
  set(${out} ${${out}} ${files} PARENT_SCOPE)
endfunction()

if(Q4R_ARCH STREQUAL "x86")
  # -O3 in every build type (the last -O on the command line wins). At -O2 g++ 12 does not fully
  # unroll the template's small per-vector loops, so the decoded weights and activation vectors
  # of lut_kernels_x86.inc live in stack arrays: the VNNI GEMV, once built with -O2 here, ran at
  # 15-17 GB/s instead of 31-49 (4096x4096 warm, Zen 5, docs/KERNELS.md). -O3 also keeps Debug
  # builds compiling (g++ 12 cannot compile some AVX-512 intrinsics at -O0, TOOLCHAIN.md).
  q4r_isa_sources(Q4R_KERNEL_SOURCES x86 avx2 -mavx2 -mfma -mf16c -O3)
  q4r_isa_sources(Q4R_KERNEL_SOURCES x86 avxvnni -mavx2 -mfma -mf16c -mavxvnni -O3)
  set(q4r_avx512vnni_flags -mavx2 -mfma -mf16c -mavx512f -mavx512cd -mavx512dq -mavx512bw
      -mavx512vl -mavx512vnni -O3 -Wno-maybe-uninitialized)
  q4r_isa_sources(Q4R_KERNEL_SOURCES x86 avx512vnni ${q4r_avx512vnni_flags})     # 256-bit vectors
  q4r_isa_sources(Q4R_KERNEL_SOURCES x86 avx512vnni512 ${q4r_avx512vnni_flags})  # 512-bit vectors
  list(APPEND Q4R_KERNEL_DEFINES Q4R_KERNELS_X86)
elseif(Q4R_ARCH STREQUAL "arm")
  # -fno-schedule-insns: GCC's pre-register-allocation scheduler hoists every activation load of
  # a GEMM tile (and the NEON multi-row GEMV) to the top of the block and then spills accumulators
  # inside the K-loop (scripts/arm-speed.sh counts the stack traffic); the CPU's out-of-order core
  # reorders anyway.
  q4r_isa_sources(Q4R_KERNEL_SOURCES arm neon -march=armv8-a -fno-schedule-insns)
  q4r_isa_sources(Q4R_KERNEL_SOURCES arm dotprod -march=armv8.2-a+dotprod -fno-schedule-insns)
  q4r_isa_sources(Q4R_KERNEL_SOURCES arm i8mm -march=armv8.2-a+dotprod+i8mm -fno-schedule-insns)
  # Fixed 256-bit SVE types: only dispatched where the vector length is 256 bits (lib/dispatch.cc).
  q4r_isa_sources(Q4R_KERNEL_SOURCES arm sve256 -march=armv8.2-a+dotprod+i8mm+sve
                  -msve-vector-bits=256 -fno-schedule-insns)
  list(APPEND Q4R_KERNEL_DEFINES Q4R_KERNELS_ARM)
endif()
