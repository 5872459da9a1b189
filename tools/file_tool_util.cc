#include "file_tool_util.h"

#include <unistd.h>

#include "cli.h"

namespace q4r::cli {

void open_gguf(GgufFile& file, const std::string& path, MappedFile::Mode mode) {
  if (file.open(path.c_str(), mode) != Q4R_OK) input_error("%s", q4r_last_error());
}

q4r_layout layout_here(q4r_type type) {
  return q4r_preferred_layout(type, q4r_active_isa());
}

std::string tensor_type_text(const GgufTensor& t) {
  if (const char* n = ggml_type_name(t.type_id)) return n;
  return "type#" + std::to_string(t.type_id);
}

std::string json_quote(std::string_view s) {
  GgufValue v;
  v.type = kGgufString;
  v.str = s;
  return gguf_value_json(v);
}

void write_text(const std::string& path, const std::string& text) {
  write_atomic(path, text.data(), text.size());
}

ContextPtr repack_context(int threads) {
  q4r_context_options o;
  q4r_context_options_init(&o);
  o.n_threads = threads;
  q4r_context* ctx = nullptr;
  check(q4r_context_create(&o, &ctx), "thread context");
  return ContextPtr(ctx, q4r_context_destroy);
}

int threads_option(const Args& args) {
  const int64_t t = args.integer("threads", 0);
  if (t < 0 || t > 1024) usage_error("--threads must be 0 (all cores) to 1024");
  return static_cast<int>(t);
}

Progress::Progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}

void Progress::step(std::size_t index, std::string_view name) {
  if (!tty_) return;
  std::fprintf(stderr, "\r\033[K[%zu/%zu] %.*s", index + 1, total_, int(name.size()), name.data());
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace q4r::cli
