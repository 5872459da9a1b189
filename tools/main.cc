// q4repack command-line tool: a table of subcommands, one file per command (tools/cmd_<name>.cc,
// defining `int cmd_<name>(int argc, char** argv)` with argv[0] = the command name).
//
// To add a command: one line in Q4R_COMMANDS below and a new tools/cmd_<name>.cc.
#include <cstdio>
#include <cstring>
#include <new>

#include "cli.h"

// X(name, one-line help)
#define Q4R_COMMANDS(X)                                                                         \
  X(info, "library version, CPU features, kernels compiled in and available, ISA and layouts")  \
  X(quantize, "float32 file -> q4_0 / iq4_nl / q8_0 blocks (bit-exact with GGML's quantizers)") \
  X(dequantize, "q4_0 / iq4_nl / q8_0 blocks -> float32 file")                                  \
  X(repack, "plain blocks -> interleaved layout 4x4 / 4x8 / 8x8 (IN may equal OUT: in place)")  \
  X(unpack, "interleaved layout -> plain blocks (the exact inverse of repack)")                 \
  X(matmul, "Y = X * W^T with weights in any layout, on the selected instruction set")          \
  X(validate, "check every layout and instruction set here against the scalar reference")       \
  X(bench, "plain baseline vs repacked layouts on model shapes: time, GB/s, GOPS, speedup")     \
  X(inspect, "GGUF file: metadata and tensor table, which tensors repack to which layout here") \
  X(pack, "GGUF file -> .q4p file of repacked weights, mapped at load with no repack work")     \
  X(convert, "legacy pre-repacked GGUF (types 31-33, 36) -> plain q4_0 / iq4_nl GGUF")

#define Q4R_DECLARE(name, help) int cmd_##name(int argc, char** argv);
Q4R_COMMANDS(Q4R_DECLARE)
#undef Q4R_DECLARE

namespace {

struct Command {
  const char* name;
  const char* help;
  int (*run)(int argc, char** argv);
};

#define Q4R_ENTRY(name, help) {#name, help, cmd_##name},
const Command kCommands[] = {Q4R_COMMANDS(Q4R_ENTRY)};
#undef Q4R_ENTRY

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: q4repack COMMAND [options] [files]\n\n"
               "GGML-compatible 4-bit weights: quantize, repack, matmul, validate (version %s).\n\n"
               "commands:\n",
               q4r_version_string());
  for (const Command& c : kCommands) std::fprintf(out, "  %-11s %s\n", c.name, c.help);
  std::fprintf(out,
               "\n'q4repack COMMAND --help' describes a command. Files are raw little-endian.\n"
               "Exit status: 0 success, 1 validation mismatch, 2 bad usage or bad input.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return q4r::cli::kExitUsage;
  }
  const char* name = argv[1];
  if (std::strcmp(name, "--help") == 0 || std::strcmp(name, "-h") == 0 ||
      std::strcmp(name, "help") == 0) {
    print_usage(stdout);
    return q4r::cli::kExitOk;
  }
  if (std::strcmp(name, "--version") == 0) {
    std::printf("q4repack %s\n", q4r_version_string());
    return q4r::cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(name, c.name) != 0) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const q4r::cli::HelpShown&) {
      return q4r::cli::kExitOk;
    } catch (const q4r::cli::Error& e) {
      if (e.usage) {
        std::fprintf(stderr, "q4repack %s: %s (see q4repack %s --help)\n", name, e.what(), name);
      } else {
        std::fprintf(stderr, "q4repack %s: %s\n", name, e.what());
      }
      return e.exit_code;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "q4repack %s: out of memory\n", name);
      return q4r::cli::kExitUsage;
    }
  }
  std::fprintf(stderr, "q4repack: unknown command '%s' (see q4repack --help)\n", name);
  return q4r::cli::kExitUsage;
}
