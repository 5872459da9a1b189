// q4repack matmul: Y = X * W^T through the public q4r_matmul, on a chosen instruction set.
#include <string>
#include <vector>

#include "cli.h"

using namespace q4r::cli;

int cmd_matmul(int argc, char** argv) {
  const Args a =
      ArgParser(
          "matmul",
          "--type q4_0|iq4_nl --layout none|4x4|4x8|8x8 --rows N --cols K --weights W\n"
          "                       --batch M --input X.f32 --output Y.f32 [--isa NAME] [--threads "
          "T]",
          "Computes Y[M x N] = X[M x K] * W^T: W holds N rows of K values in the given layout\n"
          "(none = plain blocks, as written by quantize; otherwise as written by repack),\n"
          "X is M rows of K float32 values, Y is written as M rows of N float32 values.\n"
          "The activations are quantized to q8_0 by the selected ISA's quantizer.")
          .option("type", "q4_0 or iq4_nl", true)
          .option("layout", "none, 4x4, 4x8 or 8x8: the layout W is stored in", true)
          .option("rows", "N, rows of W (output features)", true)
          .option("cols", "K, values per row, a multiple of 32", true)
          .option("weights", "W file", true)
          .option("batch", "M, rows of X", true)
          .option("input", "X file: M*K float32", true)
          .option("output", "Y file: M*N float32", true)
          .option("isa",
                  "instruction set (scalar, avx2, avx512vnni, neon, dotprod, i8mm, sve256); "
                  "default: best")
          .option("threads", "worker threads (default 1; 0 = all cores)")
          .parse(argc, argv);
  const q4r_type type = a.type("type");
  const q4r_layout layout = a.layout("layout");
  const int64_t n = a.dim("rows"), k = a.dim("cols"), m = a.dim("batch");
  const int64_t threads = a.integer("threads", 1);
  if (threads < 0 || threads > 4096) usage_error("--threads must be between 0 and 4096");
  if (type == Q4R_TYPE_Q8_0) usage_error("--type must be a weight type: q4_0 or iq4_nl");
  if (a.has("isa")) {
    const q4r_isa isa = a.isa("isa");
    check(q4r_set_isa(isa), (std::string("--isa ") + a.str("isa")).c_str());
  }
  const std::size_t w_bytes = tensor_bytes(type, n, k);
  const std::size_t y_count = float_bytes(m, n) / 4;
  const std::vector<uint8_t> w =
      read_exact(a.str("weights"), w_bytes, shape_text(n, k) + " values of " + q4r_type_name(type));
  const std::vector<float> x = read_floats(a.str("input"), float_bytes(m, k) / 4,
                                           shape_text(m, k) + " float32 values (--batch x --cols)");
  std::vector<float> y(y_count);
  check(q4r_matmul(type, layout, w.data(), w.size(), n, k, x.data(), m, y.data(),
                   static_cast<int>(threads)),
        "matmul");
  write_atomic(a.str("output"), y.data(), y.size() * sizeof(float));
  return kExitOk;
}
