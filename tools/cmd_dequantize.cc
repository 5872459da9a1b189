// q4repack dequantize: plain q4_0 / iq4_nl / q8_0 blocks -> float32 rows.
#include <string>
#include <vector>

#include "cli.h"

using namespace q4r::cli;

int cmd_dequantize(int argc, char** argv) {
  const Args a =
      ArgParser("dequantize", "--type q4_0|iq4_nl|q8_0 --rows R --cols K IN OUT.f32",
                "Expands R rows of K/32 plain blocks into R*K float32 values (exact: each\n"
                "value is its block scale times its quantized level).")
          .option("type", "q4_0, iq4_nl or q8_0", true)
          .option("rows", "number of rows R", true)
          .option("cols", "values per row K, a multiple of 32", true)
          .positionals(2, 2,
                       "IN: plain blocks (unpack repacked data first). OUT.f32: float32 values.")
          .parse(argc, argv);
  const q4r_type type = a.type("type");
  const int64_t rows = a.dim("rows"), cols = a.dim("cols");
  const std::string& in = a.positional()[0];
  const std::string& out = a.positional()[1];
  const std::size_t in_bytes = tensor_bytes(type, rows, cols);
  const std::vector<uint8_t> x =
      read_exact(in, in_bytes, shape_text(rows, cols) + " values of " + q4r_type_name(type));
  std::vector<float> y(float_bytes(rows, cols) / 4);
  check(q4r_dequantize(type, x.data(), x.size(), rows, cols, y.data()),
        ("dequantize " + in).c_str());
  write_atomic(out, y.data(), y.size() * sizeof(float));
  return kExitOk;
}
