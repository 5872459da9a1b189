// Helpers shared by the file commands (inspect, pack, validate FILE): opening GGUF files with the
// tool's error conventions, JSON text, progress lines on stderr when it is a terminal.
#ifndef Q4R_TOOLS_FILE_TOOL_UTIL_H_
#define Q4R_TOOLS_FILE_TOOL_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "cli.h"
#include "lib/file/gguf.h"

namespace q4r::cli {

// Opens and parses a GGUF file; input_error (exit 2) with the reader's message if it is bad.
void open_gguf(GgufFile& file, const std::string& path,
               MappedFile::Mode mode = MappedFile::Mode::kReadOnly);
// The layout this machine's active ISA prefers for a type.
q4r_layout layout_here(q4r_type type);
// "q4_0" for known GGML types, "type#123" for unknown ones.
std::string tensor_type_text(const GgufTensor& t);
// A JSON string literal.
std::string json_quote(std::string_view s);
// Writes `text` to `path` (whole file, atomically); input_error on failure.
void write_text(const std::string& path, const std::string& text);

// A context whose threads repack and unpack whole tensors (q4r_context_repack /
// q4r_context_unpack: the tensor split into row-group runs). threads <= 0: all cores. Shared by the
// file commands that move tensor data (pack, validate FILE, convert).
using ContextPtr = std::unique_ptr<q4r_context, void (*)(q4r_context*)>;
ContextPtr repack_context(int threads);
// The --threads option of those commands: 0 (all cores) unless given; usage_error if negative.
int threads_option(const Args& args);

// "\r[ 3/21] name" on stderr when stderr is a terminal; finish() ends the line.
class Progress {
 public:
  explicit Progress(std::size_t total);
  void step(std::size_t index, std::string_view name);
  void finish();

 private:
  std::size_t total_;
  bool tty_;
};

}  // namespace q4r::cli

#endif  // Q4R_TOOLS_FILE_TOOL_UTIL_H_
