// q4repack quantize: float32 rows -> plain q4_0 / iq4_nl / q8_0 blocks.
#include <string>
#include <vector>

#include "cli.h"

using namespace q4r::cli;

int cmd_quantize(int argc, char** argv) {
  const Args a =
      ArgParser("quantize", "--type q4_0|iq4_nl|q8_0 --rows R --cols K [--imatrix FILE] IN.f32 OUT",
                "Quantizes R rows of K float32 values (K a multiple of 32) into R rows of K/32\n"
                "plain GGML blocks, bit-exact with GGML's reference quantizers (q4_0: without an\n"
                "imatrix quantize_row_q4_0_ref, with one quantize_q4_0; iq4_nl: quantize_iq4_nl,\n"
                "ntry 7; q8_0: quantize_row_q8_0_ref). Non-finite inputs are rejected.")
          .option("type", "q4_0, iq4_nl or q8_0", true)
          .option("rows", "number of rows R (output features)", true)
          .option("cols", "values per row K, a multiple of 32", true)
          .option("imatrix", "K float32 importance weights, one per column (q4_0, iq4_nl)")
          .positionals(2, 2, "IN.f32: R*K float32 values, row-major. OUT: the blocks.")
          .parse(argc, argv);
  const q4r_type type = a.type("type");
  const int64_t rows = a.dim("rows"), cols = a.dim("cols");
  const std::string& in = a.positional()[0];
  const std::string& out = a.positional()[1];
  const std::size_t out_bytes = tensor_bytes(type, rows, cols);  // checks the shape first
  std::vector<float> imatrix;
  if (a.has("imatrix")) {
    if (type == Q4R_TYPE_Q8_0) usage_error("--imatrix applies to q4_0 and iq4_nl only");
    imatrix = read_floats(a.str("imatrix"), static_cast<std::size_t>(cols),
                          std::to_string(cols) + " float32 importance weights (--cols)");
  }
  const std::vector<float> x =
      read_floats(in, float_bytes(rows, cols) / 4, shape_text(rows, cols) + " float32 values");
  std::vector<uint8_t> y(out_bytes);
  check(q4r_quantize(type, x.data(), rows, cols, imatrix.empty() ? nullptr : imatrix.data(),
                     y.data(), y.size()),
        ("quantize " + in).c_str());
  write_atomic(out, y.data(), y.size());
  return kExitOk;
}
