#include "cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Files are raw little-endian: reading them into native floats needs a little-endian host.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "q4repack files are little-endian");

namespace q4r::cli {
namespace {

std::string vformat(const char* fmt, va_list args) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, fmt, args);
  return buf;
}

std::string errno_text() {
  return std::strerror(errno);
}

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void usage_error(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::string message = vformat(fmt, args);
  va_end(args);
  throw Error(kExitUsage, message, true);
}

void input_error(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::string message = vformat(fmt, args);
  va_end(args);
  throw Error(kExitUsage, message);
}

void check(q4r_status status, const char* what) {
  if (status == Q4R_OK) return;
  const char* detail = q4r_last_error();
  input_error("%s: %s", what, *detail ? detail : q4r_strerror(status));
}

// ---------------------------------------------------------------- Args

const std::string& Args::str(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) usage_error("missing --%s", name.c_str());
  return it->second;
}

int64_t Args::dim(const std::string& name, int64_t max) const {
  const std::string& text = str(name);
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v <= 0) {
    usage_error("--%s must be a positive integer, not '%s'", name.c_str(), text.c_str());
  }
  if (v > max) usage_error("--%s %lld is too large (at most %" PRId64 ")", name.c_str(), v, max);
  return v;
}

int64_t Args::integer(const std::string& name, int64_t fallback) const {
  if (!has(name)) return fallback;
  const std::string& text = str(name);
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    usage_error("--%s must be an integer, not '%s'", name.c_str(), text.c_str());
  }
  return v;
}

q4r_type Args::type(const std::string& name) const {
  q4r_type t;
  if (q4r_parse_type(str(name).c_str(), &t) != Q4R_OK)
    usage_error("--%s: %s", name.c_str(), q4r_last_error());
  return t;
}

q4r_layout Args::layout(const std::string& name) const {
  q4r_layout l;
  if (q4r_parse_layout(str(name).c_str(), &l) != Q4R_OK) {
    usage_error("--%s: %s", name.c_str(), q4r_last_error());
  }
  return l;
}

q4r_isa Args::isa(const std::string& name) const {
  q4r_isa i;
  if (q4r_parse_isa(str(name).c_str(), &i) != Q4R_OK)
    usage_error("--%s: %s", name.c_str(), q4r_last_error());
  return i;
}

// ---------------------------------------------------------------- ArgParser

ArgParser::ArgParser(std::string command, std::string synopsis, std::string description)
    : command_(std::move(command)),
      synopsis_(std::move(synopsis)),
      description_(std::move(description)) {}

ArgParser& ArgParser::option(const std::string& name, const std::string& help, bool required) {
  options_.push_back({name, help, true, required});
  return *this;
}

ArgParser& ArgParser::flag(const std::string& name, const std::string& help) {
  options_.push_back({name, help, false, false});
  return *this;
}

ArgParser& ArgParser::positionals(int min, int max, const std::string& help) {
  min_pos_ = min;
  max_pos_ = max;
  positional_help_ = help;
  return *this;
}

const ArgParser::Option* ArgParser::find(const std::string& name) const {
  for (const Option& o : options_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string ArgParser::help_text() const {
  std::string s = "usage: q4repack " + command_ + (synopsis_.empty() ? "" : " " + synopsis_) +
                  "\n\n" + description_ + "\n";
  if (!positional_help_.empty()) s += "\n" + positional_help_ + "\n";
  if (!options_.empty()) s += "\noptions:\n";
  for (const Option& o : options_) {
    std::string left = "  --" + o.name + (o.takes_value ? " VALUE" : "");
    if (left.size() < 22) left.resize(22, ' ');
    s += left + " " + o.help + (o.required ? " (required)" : "") + "\n";
  }
  s += "  --help               show this help\n";
  return s;
}

Args ArgParser::parse(int argc, char** argv) const {
  Args a;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      a.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(help_text().c_str(), stdout);
      throw HelpShown{};
    }
    if (arg.rfind("--", 0) != 0) usage_error("unknown option '%s'", arg.c_str());
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      inline_value = true;
    }
    const Option* o = find(name);
    if (!o) usage_error("unknown option '--%s'", name.c_str());
    if (a.values_.count(name)) usage_error("--%s given twice", name.c_str());
    if (o->takes_value) {
      if (!inline_value) {
        if (i + 1 >= argc) usage_error("--%s needs a value", name.c_str());
        value = argv[++i];
      }
    } else if (inline_value) {
      usage_error("--%s takes no value", name.c_str());
    }
    a.values_[name] = value;
  }
  for (const Option& o : options_) {
    if (o.required && !a.has(o.name)) usage_error("missing --%s", o.name.c_str());
  }
  const int n = static_cast<int>(a.positional_.size());
  if (n < min_pos_ || n > max_pos_) {
    if (max_pos_ == 0) usage_error("unexpected argument '%s'", a.positional_[0].c_str());
    if (min_pos_ == max_pos_) {
      usage_error("expected %d file argument%s, got %d", min_pos_, min_pos_ == 1 ? "" : "s", n);
    }
    usage_error("expected %d to %d file arguments, got %d", min_pos_, max_pos_, n);
  }
  return a;
}

// ---------------------------------------------------------------- files

uint64_t file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) input_error("%s: %s", path.c_str(), errno_text().c_str());
  if (!S_ISREG(st.st_mode)) input_error("%s: not a regular file", path.c_str());
  return static_cast<uint64_t>(st.st_size);
}

std::vector<uint8_t> read_exact(const std::string& path, std::size_t expected,
                                const std::string& what) {
  const uint64_t size = file_size(path);
  if (size != expected) {
    input_error("%s is %" PRIu64 " bytes, but %s take %zu bytes", path.c_str(), size, what.c_str(),
                expected);
  }
  std::vector<uint8_t> data(expected);
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) input_error("%s: %s", path.c_str(), errno_text().c_str());
  std::size_t done = 0;
  while (done < expected) {
    const ssize_t r = ::read(f.fd, data.data() + done, expected - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) input_error("%s: read failed: %s", path.c_str(), errno_text().c_str());
    if (r == 0)
      input_error("%s: file shrank while reading (%zu of %zu bytes)", path.c_str(), done, expected);
    done += static_cast<std::size_t>(r);
  }
  return data;
}

std::vector<float> read_floats(const std::string& path, std::size_t count,
                               const std::string& what) {
  const std::vector<uint8_t> bytes = read_exact(path, count * sizeof(float), what);
  std::vector<float> out(count);
  if (count) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

void write_atomic(const std::string& path, const void* data, std::size_t size) {
  // The temporary file lives next to the target so that rename() is atomic (same file system).
  std::string tmp = path + ".tmp.XXXXXX";
  Fd f;
  f.fd = ::mkstemp(tmp.data());
  if (f.fd < 0)
    input_error("%s: cannot create a temporary file: %s", path.c_str(), errno_text().c_str());
  // mkstemp creates mode 0600; give the result the usual mode of a new file.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(f.fd, 0666 & ~mask);
  const auto* p = static_cast<const uint8_t*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t w = ::write(f.fd, p + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = errno_text();
      ::unlink(tmp.c_str());
      input_error("%s: write failed: %s", path.c_str(), why.c_str());
    }
    done += static_cast<std::size_t>(w);
  }
  const int closed = ::close(f.fd);
  f.fd = -1;
  if (closed != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    input_error("%s: cannot write: %s", path.c_str(), why.c_str());
  }
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string shape_text(int64_t rows, int64_t cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

std::size_t tensor_bytes(q4r_type type, int64_t rows, int64_t cols) {
  std::size_t bytes = 0;
  check(q4r_tensor_bytes(type, rows, cols, &bytes),
        ("shape " + shape_text(rows, cols) + " of " + q4r_type_name(type)).c_str());
  return bytes;
}

std::size_t float_bytes(int64_t rows, int64_t cols) {
  uint64_t bytes;
  if (rows <= 0 || cols <= 0 ||
      __builtin_mul_overflow(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), &bytes) ||
      __builtin_mul_overflow(bytes, uint64_t{4}, &bytes) || bytes > SIZE_MAX / 2) {
    input_error("%s float32 values are too many", shape_text(rows, cols).c_str());
  }
  return static_cast<std::size_t>(bytes);
}

}  // namespace q4r::cli
