// q4repack pack FILE.gguf OUT.q4p: repack every Q4_0 / IQ4_NL matrix of a GGUF file once, into a
// .q4p file that programs map and use with no repack work at load time.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "cli.h"
#include "file_tool_util.h"
#include "lib/file/q4p.h"

using namespace q4r;
using namespace q4r::cli;

int cmd_pack(int argc, char** argv) {
  const Args a =
      ArgParser("pack", "FILE.gguf OUT.q4p [--layout auto|4x4|4x8|8x8] [--require-isa]",
                "Repacks every Q4_0 / IQ4_NL matrix (2-D, and 3-D expert stacks) of a GGUF file\n"
                "into OUT.q4p, with checksums of the packed data and of the source tensors. Other\n"
                "tensors stay in the GGUF. OUT is replaced only when everything succeeded.")
          .option("layout",
                  "auto (this machine's preferred layout per type, default), 4x4, 4x8, 8x8")
          .option("alignment", "data alignment in bytes, a power of two >= 64 (default 4096)")
          .flag("require-isa", "record this machine's instruction set as required to open OUT")
          .option("threads", "threads that repack each tensor (default 0: all cores)")
          .option("json", "also write the packed tensor list as JSON to OUT")
          .positionals(2, 2, "FILE.gguf OUT.q4p")
          .parse(argc, argv);
  Q4pPackOptions opt;
  if (a.has("layout") && a.str("layout") != "auto") {
    opt.layout = a.layout("layout");
    if (opt.layout == Q4R_LAYOUT_PLAIN) usage_error("--layout must be auto, 4x4, 4x8 or 8x8");
  }
  const int64_t alignment = a.integer("alignment", 4096);
  if (alignment < 64 || alignment > (1 << 20) || (alignment & (alignment - 1)) != 0) {
    usage_error("--alignment must be a power of two in [64, 1048576]");
  }
  opt.alignment = uint32_t(alignment);
  opt.require_isa = a.has("require-isa");
  const ContextPtr threads = repack_context(threads_option(a));
  opt.context = threads.get();
  const std::string& in = a.positional()[0];
  const std::string& out = a.positional()[1];
  if (same_file(in, out)) usage_error("OUT must not be the GGUF file itself");

  const auto t0 = std::chrono::steady_clock::now();
  GgufFile g;
  open_gguf(g, in);
  std::size_t total = 0;
  for (const GgufTensor& t : g.tensors) total += t.repackable;
  Progress progress(total);
  opt.progress = [&](std::size_t i, std::size_t, std::string_view name) { progress.step(i, name); };
  const q4r_status s = q4p_pack_file(g, out.c_str(), opt);
  progress.finish();
  check(s, ("pack " + in).c_str());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  q4r_q4p* p = nullptr;
  check(q4r_q4p_open(out.c_str(), Q4R_Q4P_VERIFY, &p), ("re-open " + out).c_str());
  std::printf("%-36s %-7s %-16s %-6s %12s\n", "tensor", "type", "shape", "layout", "bytes");
  std::string json;
  uint64_t bytes = 0;
  for (std::size_t i = 0; i < q4r_q4p_tensor_count(p); ++i) {
    q4r_q4p_tensor t;
    q4r_q4p_get_tensor(p, i, &t);
    const GgufTensor* src = g.find_tensor(t.name);
    const std::string shape = src ? src->shape_string() : "?";
    std::printf("%-36s %-7s %-16s %-6s %12zu\n", t.name, q4r_type_name(t.type), shape.c_str(),
                q4r_layout_name(t.layout), t.size);
    bytes += t.size;
    json += std::string(json.empty() ? "" : ",\n") + "    {\"name\": " + json_quote(t.name) +
            ", \"type\": " + json_quote(q4r_type_name(t.type)) + ", \"shape\": " + shape +
            ", \"layout\": " + json_quote(q4r_layout_name(t.layout)) +
            ", \"required_isa\": " + json_quote(q4r_isa_name(t.required_isa)) +
            ", \"bytes\": " + std::to_string(t.size) + "}";
  }
  const std::size_t count = q4r_q4p_tensor_count(p);
  q4r_q4p_close(p);
  std::printf("\npacked %zu tensors (%" PRIu64 " bytes) from %s into %s in %.2f s (isa %s)\n",
              count, bytes, in.c_str(), out.c_str(), secs, q4r_isa_name(q4r_active_isa()));
  if (a.has("json")) {
    write_text(a.str("json"), "{\n  \"gguf\": " + json_quote(in) + ",\n  \"q4p\": " +
                                  json_quote(out) + ",\n  \"seconds\": " + std::to_string(secs) +
                                  ",\n  \"tensors\": [\n" + json + "\n  ]\n}\n");
  }
  return kExitOk;
}
