// q4repack convert IN.gguf OUT.gguf | IN.gguf --in-place: legacy pre-repacked GGUF files (tensor
// types 31-33, 36, which current GGML refuses) -> plain Q4_0 / IQ4_NL files, byte for byte what
// the file was before it was interleaved (lib/file/gguf_convert.h).
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "cli.h"
#include "lib/file/gguf_convert.h"

using namespace q4r;
using namespace q4r::cli;

namespace {

constexpr uint64_t kProgressMinBytes = 100u << 20;  // smaller files finish too fast to watch

// A progress bar on stderr when it is a terminal, updated at most ten times a second.
class ProgressBar {
 public:
  explicit ProgressBar(uint64_t file_bytes)
      : on_(isatty(STDERR_FILENO) == 1 && file_bytes > kProgressMinBytes),
        start_(std::chrono::steady_clock::now()) {}
  void update(uint64_t done, uint64_t total) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const int width = 30, filled = total ? int(double(done) / double(total) * width) : width;
    std::fprintf(stderr, "\r\033[K[%s%s] %3.0f%%  %.2f / %.2f GB  %.2f GB/s",
                 std::string(std::size_t(filled), '#').c_str(),
                 std::string(std::size_t(width - filled), '.').c_str(),
                 total ? 100.0 * double(done) / double(total) : 100.0, done * 1e-9, total * 1e-9,
                 secs > 0 ? done * 1e-9 / secs : 0.0);
    std::fflush(stderr);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool on_, shown_ = false;
  std::chrono::steady_clock::time_point start_, last_{};
};

// "312.99 kB", "4.29 GB": decimal units, like the GB/s figures.
std::string bytes_text(uint64_t bytes) {
  char buf[32];
  if (bytes >= 1000000000u) {
    std::snprintf(buf, sizeof buf, "%.2f GB", bytes * 1e-9);
  } else if (bytes >= 1000000u) {
    std::snprintf(buf, sizeof buf, "%.2f MB", bytes * 1e-6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f kB", bytes * 1e-3);
  }
  return buf;
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  const Args a =
      ArgParser(
          "convert", "IN.gguf OUT.gguf [--force] [--check] | IN.gguf --in-place [--check]",
          "Rescues a legacy pre-repacked GGUF file: every tensor of type q4_0_4x4 (31),\n"
          "q4_0_4x8 (32), q4_0_8x8 (33) or iq4_nl_4x4 (36), which current GGML refuses, is\n"
          "unpacked to plain q4_0 / iq4_nl; everything else is copied byte for byte (metadata,\n"
          "tensor order, offsets, alignment, padding), and general.file_type 33/34/35 becomes\n"
          "2. The output has the same size, loads in any GGML / llama.cpp that reads GGUF v3,\n"
          "and is exactly the file the legacy one was made from. OUT is written as OUT.tmp,\n"
          "then renamed: on any error OUT is left as it was. Memory use does not grow with the\n"
          "file size.")
          .flag("in-place", "rewrite IN itself (no second copy; see docs/FILES.md for crashes)")
          .flag("force", "replace an existing OUT")
          .flag("check", "re-read the result and check every converted tensor repacks to IN")
          .option("threads", "unpack threads (default 1: the copies, not the unpacking, dominate)")
          .positionals(1, 2, "IN.gguf OUT.gguf, or IN.gguf with --in-place.")
          .parse(argc, argv);
  const auto& pos = a.positional();
  const bool in_place = a.has("in-place");
  if (in_place && pos.size() != 1) usage_error("--in-place takes IN.gguf alone, no OUT");
  if (!in_place && pos.size() != 2)
    usage_error("give IN.gguf and OUT.gguf (or IN.gguf --in-place)");
  if (in_place && a.has("force")) usage_error("--force applies to OUT, not to --in-place");
  const std::string& in = pos[0];
  ConvertOptions opt;
  opt.check = a.has("check");
  const int64_t threads = a.integer("threads", 1);
  if (threads < 1 || threads > 256) usage_error("--threads must be in 1..256");
  std::unique_ptr<q4r_context, void (*)(q4r_context*)> context(nullptr, q4r_context_destroy);
  if (threads > 1) {
    q4r_context_options co;
    q4r_context_options_init(&co);
    co.n_threads = int(threads);
    q4r_context* c = nullptr;
    check(q4r_context_create(&co, &c), "threads");
    context.reset(c);
    opt.context = c;
  }
  if (!in_place) {
    const std::string& out = pos[1];
    if (in == out || same_file(in, out)) {
      usage_error("IN and OUT are the same file: use --in-place to convert it where it is");
    }
    if (exists(out) && !a.has("force")) {
      input_error("%s exists: give --force to replace it", out.c_str());
    }
  }
  ProgressBar bar(exists(in) ? file_size(in) : 0);
  opt.progress = [&](uint64_t done, uint64_t total) { bar.update(done, total); };
  ConvertStats st;
  const auto t0 = std::chrono::steady_clock::now();
  const q4r_status s = in_place ? convert_inplace(in.c_str(), opt, &st)
                                : convert_file(in.c_str(), pos[1].c_str(), opt, &st);
  bar.finish();
  check(s, "convert");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t moved = in_place ? st.tensor_bytes : st.file_bytes;
  std::printf("converted %zu legacy tensor%s (%s) %s%s%s: %s in %.2f s, %.2f GB/s%s\n", st.tensors,
              st.tensors == 1 ? "" : "s", bytes_text(st.tensor_bytes).c_str(), in.c_str(),
              in_place ? " in place" : " -> ", in_place ? "" : pos[1].c_str(),
              bytes_text(moved).c_str(), secs, secs > 0 ? moved * 1e-9 / secs : 0.0,
              opt.check ? ", checked" : "");
  return kExitOk;
}
