// q4repack repack / unpack: plain blocks <-> interleaved layouts (one code path, two directions).
#include <string>
#include <vector>

#include "cli.h"

using namespace q4r::cli;

namespace {

int permute_command(int argc, char** argv, bool pack) {
  const char* name = pack ? "repack" : "unpack";
  const Args a =
      ArgParser(
          name, "--type q4_0|iq4_nl --layout 4x4|4x8|8x8 --rows R --cols K IN OUT",
          pack ? "Interleaves plain q4_0 / iq4_nl blocks into a layout: groups of N rows (4x4,\n"
                 "4x8: N = 4; 8x8: N = 8) become GGML's block_q4_0x4/x8 (q4_0 XORed with 0x88)\n"
                 "or block_iq4_nlx4/x8, byte-identical. The last R mod N rows stay plain after\n"
                 "the last full group, so the size does not change. IN may be OUT (in place)."
               : "Turns interleaved data back into plain blocks: the exact inverse of repack,\n"
                 "byte for byte. IN may be OUT (in place).")
          .option("type", "q4_0 or iq4_nl", true)
          .option("layout", "4x4, 4x8 or 8x8", true)
          .option("rows", "number of rows R", true)
          .option("cols", "values per row K, a multiple of 32", true)
          .positionals(2, 2, "IN, OUT: R*K/32 blocks of 18 bytes each.")
          .parse(argc, argv);
  const q4r_type type = a.type("type");
  const q4r_layout layout = a.layout("layout");
  const int64_t rows = a.dim("rows"), cols = a.dim("cols");
  const std::string& in = a.positional()[0];
  const std::string& out = a.positional()[1];
  if (type == Q4R_TYPE_Q8_0) usage_error("--type q8_0 has no interleaved layouts (q4_0, iq4_nl)");
  if (layout == Q4R_LAYOUT_PLAIN) usage_error("--layout must be 4x4, 4x8 or 8x8");
  const std::size_t bytes = tensor_bytes(type, rows, cols);
  std::vector<uint8_t> data =
      read_exact(in, bytes, shape_text(rows, cols) + " values of " + q4r_type_name(type));
  const std::string what = std::string(name) + " " + in;
  if (same_file(in, out)) {
    // In place: no second buffer; the file is replaced atomically afterwards.
    check(pack ? q4r_repack_inplace(type, layout, data.data(), data.size(), rows, cols)
               : q4r_unpack_inplace(type, layout, data.data(), data.size(), rows, cols),
          what.c_str());
    write_atomic(out, data.data(), data.size());
  } else {
    std::vector<uint8_t> result(bytes);
    check(pack ? q4r_repack(type, layout, data.data(), result.data(), bytes, rows, cols)
               : q4r_unpack(type, layout, data.data(), result.data(), bytes, rows, cols),
          what.c_str());
    write_atomic(out, result.data(), result.size());
  }
  return kExitOk;
}

}  // namespace

int cmd_repack(int argc, char** argv) {
  return permute_command(argc, argv, true);
}

int cmd_unpack(int argc, char** argv) {
  return permute_command(argc, argv, false);
}
