// q4repack inspect FILE.gguf: metadata summary and a tensor table (name, type, shape, bytes, and
// whether and to which layout this machine would repack it).
#include <cinttypes>
#include <cstdio>
#include <string>

#include "cli.h"
#include "file_tool_util.h"

using namespace q4r;
using namespace q4r::cli;

namespace {

// Short text of a value for the table: arrays show their type and count and the first elements.
std::string short_value(const GgufValue& v) {
  if (v.type != kGgufArray) {
    std::string s = gguf_value_json(v);
    return s.size() > 72 ? s.substr(0, 69) + "..." : s;
  }
  std::string s =
      std::string("arr[") + gguf_type_name(v.elem_type) + "] x " + std::to_string(v.count) + " [";
  for (uint64_t i = 0; i < v.count && i < 4; ++i) {
    if (i) s += ", ";
    std::string e = gguf_value_json(v.element(i));
    s += e.size() > 24 ? e.substr(0, 21) + "..." : e;
  }
  return s + (v.count > 4 ? ", ...]" : "]");
}

std::string value_of(const GgufFile& f, const char* key) {
  const GgufKv* kv = f.find(key);
  return kv ? gguf_value_json(kv->value) : "-";
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  const Args a =
      ArgParser("inspect", "FILE.gguf [--json OUT] [--all-keys]",
                "Shows a GGUF file's header, metadata and tensors, and for each Q4_0 /\n"
                "IQ4_NL matrix the layout this machine would repack it to.")
          .option("json", "also write the results as JSON to OUT")
          .flag("all-keys", "list every metadata key (default: all but tokenizer arrays)")
          .positionals(1, 1, "FILE.gguf: a GGUF v2/v3 file.")
          .parse(argc, argv);
  const std::string& path = a.positional()[0];
  GgufFile f;
  open_gguf(f, path);

  std::printf("file: %s\n", path.c_str());
  std::printf("gguf v%u, %zu bytes, %zu metadata keys, %zu tensors, alignment %" PRIu64
              ", data at byte %" PRIu64 "\n",
              f.version, f.size(), f.kvs.size(), f.tensors.size(), f.alignment, f.data_offset);
  std::printf("architecture %s, name %s, file_type %s\n",
              value_of(f, "general.architecture").c_str(), value_of(f, "general.name").c_str(),
              value_of(f, "general.file_type").c_str());
  std::printf("isa here: %s\n\nmetadata:\n", q4r_isa_name(q4r_active_isa()));
  for (const GgufKv& kv : f.kvs) {
    const bool big = kv.value.type == kGgufArray && kv.value.count > 16;
    if (big && !a.has("all-keys") && kv.key.substr(0, 10) == "tokenizer.") {
      std::printf("  %-44.*s arr[%s] x %" PRIu64 "\n", int(kv.key.size()), kv.key.data(),
                  gguf_type_name(kv.value.elem_type), kv.value.count);
      continue;
    }
    std::printf("  %-44.*s %s\n", int(kv.key.size()), kv.key.data(), short_value(kv.value).c_str());
  }

  std::printf("\n%-36s %-10s %-18s %12s  %s\n", "tensor", "type", "shape", "bytes", "repack here");
  uint64_t total = 0, repackable_bytes = 0;
  std::size_t repackable = 0, legacy = 0;
  std::string json_tensors;
  for (const GgufTensor& t : f.tensors) {
    std::string verdict;
    if (t.legacy()) {
      // Already interleaved: it runs as stored, or is repacked from its unpacked rows.
      const q4r_layout here = layout_here(t.q4type);
      verdict =
          std::string("legacy ") + q4r_type_name(t.q4type) + " in " + q4r_layout_name(t.layout) +
          (here == t.layout
               ? ": runs as stored"
               : std::string(": runs as stored; ") + q4r_layout_name(here) + " preferred here");
      ++legacy;
    } else if (t.repackable) {
      verdict = std::string("yes -> ") + q4r_layout_name(layout_here(t.q4type));
    } else {
      verdict = "no: " + t.skip_reason;
    }
    if (t.repackable) {
      if (t.matrices > 1) verdict += " (" + std::to_string(t.matrices) + " experts)";
      ++repackable;
      repackable_bytes += t.nbytes;
    }
    total += t.nbytes;
    const std::string bytes = t.known_type ? std::to_string(t.nbytes) : "?";
    std::printf("%-36.*s %-10s %-18s %12s  %s\n", int(t.name.size()), t.name.data(),
                tensor_type_text(t).c_str(), t.shape_string().c_str(), bytes.c_str(),
                verdict.c_str());
    if (!json_tensors.empty()) json_tensors += ",\n";
    json_tensors +=
        "    {\"name\": " + json_quote(t.name) + ", \"type\": " + json_quote(tensor_type_text(t)) +
        ", \"type_id\": " + std::to_string(t.type_id) + ", \"shape\": " + t.shape_string() +
        ", \"offset\": " + std::to_string(t.offset) +
        ", \"bytes\": " + (t.known_type ? std::to_string(t.nbytes) : "null") +
        ", \"repackable\": " + (t.repackable ? "true" : "false") +
        ", \"stored_layout\": " + json_quote(q4r_layout_name(t.layout)) + ", \"layout\": " +
        (t.repackable ? json_quote(q4r_layout_name(layout_here(t.q4type))) : std::string("null")) +
        ", \"skip_reason\": " + (t.repackable ? std::string("null") : json_quote(t.skip_reason)) +
        "}";
  }
  std::printf("\n%zu of %zu tensors repackable (%" PRIu64 " of %" PRIu64 " tensor bytes)\n",
              repackable, f.tensors.size(), repackable_bytes, total);
  if (legacy) {
    std::printf(
        "%zu legacy pre-repacked tensor%s (types 31-33, 36): current GGML refuses this file; "
        "`q4repack convert` turns it into plain q4_0 / iq4_nl\n",
        legacy, legacy == 1 ? "" : "s");
  }
  const auto shapes = gguf_weight_shapes(f);
  if (!shapes.empty()) std::printf("distinct weight matrices (rows x k: count):\n");
  for (const GgufWeightShape& s : shapes) {
    std::printf("  %-6s %6" PRId64 " x %-6" PRId64 ": %" PRId64 "\n", q4r_type_name(s.type), s.rows,
                s.k, s.count);
  }

  if (a.has("json")) {
    std::string kvs;
    for (const GgufKv& kv : f.kvs) {
      if (!kvs.empty()) kvs += ",\n";
      kvs += "    {\"key\": " + json_quote(kv.key) + ", \"type\": " +
             json_quote(kv.value.type == kGgufArray
                            ? std::string("arr[") + gguf_type_name(kv.value.elem_type) + "]"
                            : gguf_type_name(kv.value.type)) +
             ", \"value\": " + gguf_value_json(kv.value) + "}";
    }
    write_text(a.str("json"), "{\n  \"file\": " + json_quote(path) +
                                  ",\n  \"version\": " + std::to_string(f.version) +
                                  ",\n  \"size\": " + std::to_string(f.size()) +
                                  ",\n  \"alignment\": " + std::to_string(f.alignment) +
                                  ",\n  \"data_offset\": " + std::to_string(f.data_offset) +
                                  ",\n  \"isa\": " + json_quote(q4r_isa_name(q4r_active_isa())) +
                                  ",\n  \"metadata\": [\n" + kvs + "\n  ],\n  \"tensors\": [\n" +
                                  json_tensors + "\n  ]\n}\n");
  }
  return kExitOk;
}
