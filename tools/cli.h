// Shared helpers of the q4repack command-line tool: argument parsing (`--flag value`), errors with
// exit codes, and whole-file I/O that checks sizes first and never leaves a half-written output.
//
// Exit codes of every command: 0 success, 1 a validation found a mismatch, 2 bad usage or bad
// input. Commands report problems by throwing cli::Error; main() prints its one-line message on
// stderr and exits with its code.
#ifndef Q4R_TOOLS_CLI_H_
#define Q4R_TOOLS_CLI_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "q4repack/q4repack.h"

namespace q4r::cli {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitUsage = 2;

struct Error : std::runtime_error {
  Error(int code, const std::string& message, bool bad_usage = false)
      : std::runtime_error(message), exit_code(code), usage(bad_usage) {}
  int exit_code;
  bool usage;  // a command-line mistake: main() points to --help
};
// Thrown by ArgParser::parse after printing the help text (exit 0).
struct HelpShown {};

// Bad command line (exit 2); main() adds a hint to run --help.
[[noreturn]] void usage_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Bad input data, missing file, library refusal (exit 2).
[[noreturn]] void input_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Turns a failed library call into input_error("<what>: <q4r_last_error()>").
void check(q4r_status status, const char* what);

// Parsed command line of one command.
class Args {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // The value of a (required or present) option; usage_error if it is missing.
  const std::string& str(const std::string& name) const;
  // A positive integer option (a tensor dimension), at most `max`.
  int64_t dim(const std::string& name, int64_t max = int64_t{1} << 40) const;
  // An integer option with a default.
  int64_t integer(const std::string& name, int64_t fallback) const;
  q4r_type type(const std::string& name) const;
  q4r_layout layout(const std::string& name) const;
  q4r_isa isa(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend class ArgParser;
  std::map<std::string, std::string> values_;  // flags map to ""
  std::vector<std::string> positional_;
};

// Declares one command's options, parses argv, and prints --help.
class ArgParser {
 public:
  // synopsis: the arguments after "q4repack <command>", e.g. "--type T IN OUT".
  ArgParser(std::string command, std::string synopsis, std::string description);
  // An option taking a value (--name value or --name=value).
  ArgParser& option(const std::string& name, const std::string& help, bool required = false);
  // A boolean flag (--name).
  ArgParser& flag(const std::string& name, const std::string& help);
  // Positional arguments: exactly min..max of them, described by `help` in the help text.
  ArgParser& positionals(int min, int max, const std::string& help);
  // argv[0] is the command name. Throws HelpShown on --help/-h, Error on bad usage.
  Args parse(int argc, char** argv) const;
  std::string help_text() const;

 private:
  struct Option {
    std::string name, help;
    bool takes_value, required;
  };
  const Option* find(const std::string& name) const;
  std::string command_, synopsis_, description_, positional_help_;
  std::vector<Option> options_;
  int min_pos_ = 0, max_pos_ = 0;
};

// ---------------------------------------------------------------- files (raw little-endian)
// Size of a regular file; input_error if it does not exist or is not a regular file.
uint64_t file_size(const std::string& path);
// Reads a whole file that must be exactly `expected` bytes; `what` describes the expected content
// for the message, e.g. "4 x 64 float32 values".
std::vector<uint8_t> read_exact(const std::string& path, std::size_t expected,
                                const std::string& what);
// Reads exactly `count` float32 values.
std::vector<float> read_floats(const std::string& path, std::size_t count, const std::string& what);
// Writes through a temporary file in the same directory, then renames it over `path`: on any
// failure `path` is left as it was and the temporary file is removed.
void write_atomic(const std::string& path, const void* data, std::size_t size);
// True if both paths name the same existing file (same device and inode).
bool same_file(const std::string& a, const std::string& b);

// "4096 x 14336" style shape text for messages.
std::string shape_text(int64_t rows, int64_t cols);
// Bytes of rows x cols values of `type` (through the library's shape checks; input_error if bad).
std::size_t tensor_bytes(q4r_type type, int64_t rows, int64_t cols);
// rows * cols * 4, with an overflow check.
std::size_t float_bytes(int64_t rows, int64_t cols);

}  // namespace q4r::cli

#endif  // Q4R_TOOLS_CLI_H_
