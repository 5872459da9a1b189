# Cross toolchain for aarch64 Linux (Debian's g++-aarch64-linux-gnu), TOOLCHAIN.md section 4.
# libc and libstdc++ come from the cross compiler's own /usr/aarch64-linux-gnu; the arm64 builds of
# cpu_features, googletest and benchmark come from a deps sysroot made by
# scripts/make-arm64-sysroot.sh and named by $ARM64_DEPS_SYSROOT (an environment variable, so that
# try_compile projects see it too). CMAKE_SYSROOT is deliberately not set.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(ARM64_DEPS_SYSROOT "$ENV{ARM64_DEPS_SYSROOT}")
if(NOT ARM64_DEPS_SYSROOT)
  message(FATAL_ERROR "ARM64_DEPS_SYSROOT is not set: run scripts/make-arm64-sysroot.sh and use "
                      "the arm64 preset (or export ARM64_DEPS_SYSROOT=<dir>/sysroot)")
endif()
set(CMAKE_FIND_ROOT_PATH "${ARM64_DEPS_SYSROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# A CACHE variable, so -DCMAKE_CROSSCOMPILING_EMULATOR=... still overrides it, and no -cpu, so
# QEMU_CPU=cortex-a72 / neoverse-n1 / max selects the emulated CPU (qemu's default is max).
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/usr/aarch64-linux-gnu" CACHE STRING
    "Runs aarch64 test binaries on the build host")
