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
  q4r_isa_sources(Q4R_KERNEL_SOURCES x86 avx2 -mavx2 -mfma -mf16c)
  # -O2 even in Debug: g++ 12 cannot compile xsimd's avx512 integer ops at -O0 (TOOLCHAIN.md).
  q4r_isa_sources(Q4R_KERNEL_SOURCES x86 avx512vnni -mavx2 -mfma -mf16c -mavx512f -mavx512cd
                  -mavx512dq -mavx512bw -mavx512vl -mavx512vnni -O2 -Wno-maybe-uninitialized)
  list(APPEND Q4R_KERNEL_DEFINES Q4R_KERNELS_X86)
elseif(Q4R_ARCH STREQUAL "arm")
  q4r_isa_sources(Q4R_KERNEL_SOURCES arm neon -march=armv8-a)
  q4r_isa_sources(Q4R_KERNEL_SOURCES arm dotprod -march=armv8.2-a+dotprod)
  q4r_isa_sources(Q4R_KERNEL_SOURCES arm i8mm -march=armv8.2-a+dotprod+i8mm)
  list(APPEND Q4R_KERNEL_DEFINES Q4R_KERNELS_ARM)
endif()
