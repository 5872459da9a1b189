// The q4repack tool, run as a user runs it (Q4R_TOOL_PATH): file round trips against the library,
// matmul against q4r_matmul, exit codes 0/1/2 with one-line messages, size checks, in-place repack,
// no partial output on failure, and `bench FILE.gguf` on a golden GGUF (report complete, bad files
// refused).
//
// Under emulation (cross builds) the test process cannot exec the tool directly; set
// Q4R_TOOL_EMULATOR (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu") or the tests skip.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  const std::string s = slurp(path);
  return {s.begin(), s.end()};
}

template <class T>
void write_file(const std::string& path, const std::vector<T>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(T)));
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

class ToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tool_ = Q4R_TOOL_PATH;
    if (tool_.empty()) GTEST_SKIP() << "the tool is not built (Q4R_BUILD_TOOLS=OFF)";
    if (const char* emu = std::getenv("Q4R_TOOL_EMULATOR"); emu && *emu) {
      tool_ = std::string(emu) + " " + tool_;
    }
    char tmpl[] = "/tmp/q4r_tool_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const Result probe = run("--version");
    if (probe.code == 126 || probe.code == 127) {
      GTEST_SKIP() << "cannot execute the tool here (set Q4R_TOOL_EMULATOR): " << probe.err;
    }
    ASSERT_EQ(probe.code, 0) << probe.err;
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs "[env] q4repack <args>" through the shell; stdout and stderr captured.
  Result run(const std::string& args, const std::string& env = "") const {
    const std::string out = dir_ + "/.stdout", err = dir_ + "/.stderr";
    const std::string cmd = env + " " + tool_ + " " + args + " >'" + out + "' 2>'" + err + "'";
    const int status = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // Expects exit code 2 and one line on stderr containing `needle`; returns the run.
  Result expect_usage_failure(const std::string& args, const std::string& needle) const {
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line expected: " << r.err;
    return r;
  }

  std::string tool_, dir_;
};

std::string shape(int64_t rows, int64_t cols) {
  return " --rows " + std::to_string(rows) + " --cols " + std::to_string(cols) + " ";
}

TEST_F(ToolTest, HelpEverywhere) {
  Result r = run("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("commands:"), std::string::npos);
  for (const char* cmd :
       {"info", "quantize", "dequantize", "repack", "unpack", "matmul", "validate", "bench"}) {
    r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find(std::string("usage: q4repack ") + cmd), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << cmd;
  }
  r = run("");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("usage"), std::string::npos);
  expect_usage_failure("frobnicate", "unknown command 'frobnicate'");
}

TEST_F(ToolTest, Info) {
  const Result r = run("info");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(std::string("version:          ") + q4r_version_string()),
            std::string::npos);
  for (const char* key : {"cpu:", "features:", "kernels compiled:", "isa available:",
                          "isa selected:", "preferred layout:"}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << key << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("scalar"), std::string::npos);
  const Result forced = run("info", "Q4REPACK_ISA=scalar");
  EXPECT_NE(forced.out.find("isa selected:     scalar (forced by Q4REPACK_ISA=scalar)"),
            std::string::npos)
      << forced.out;
}

TEST_F(ToolTest, QuantizeRepackUnpackRoundTrip) {
  const int64_t rows = 13, k = 96;  // 13 rows: every layout has a plain tail
  const auto w = random_floats(rows * k, 5, 3.f);
  std::vector<float> im(k);
  for (int64_t j = 0; j < k; ++j) im[j] = 0.5f + float(j % 7);
  write_file(path("w.f32"), w);
  write_file(path("im.f32"), im);
  for (q4r_type t : {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL}) {
    const std::string tn = q4r_type_name(t);
    for (bool with_im : {false, true}) {
      size_t bytes = 0;
      ASSERT_EQ(q4r_tensor_bytes(t, rows, k, &bytes), Q4R_OK);
      std::vector<uint8_t> want(bytes);
      ASSERT_EQ(
          q4r_quantize(t, w.data(), rows, k, with_im ? im.data() : nullptr, want.data(), bytes),
          Q4R_OK);
      Result r = run("quantize --type " + tn + shape(rows, k) +
                     (with_im ? "--imatrix '" + path("im.f32") + "' " : "") + path("w.f32") + " " +
                     path("q.bin"));
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_EQ(r.err, "");
      ASSERT_EQ(read_bytes(path("q.bin")), want) << tn;
      for (q4r_layout l : {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8}) {
        const std::string ln = q4r_layout_name(l);
        const std::string common = " --type " + tn + " --layout " + ln + shape(rows, k);
        std::vector<uint8_t> packed(bytes);
        ASSERT_EQ(q4r_repack(t, l, want.data(), packed.data(), bytes, rows, k), Q4R_OK);
        r = run("repack" + common + path("q.bin") + " " + path("p.bin"));
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(read_bytes(path("p.bin")), packed) << tn << " " << ln;
        r = run("unpack" + common + path("p.bin") + " " + path("u.bin"));
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(read_bytes(path("u.bin")), want) << tn << " " << ln;
        // In place: IN == OUT (also through a different spelling of the same path).
        write_file(path("inplace.bin"), want);
        r = run("repack" + common + path("inplace.bin") + " " + dir_ + "/./inplace.bin");
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(read_bytes(path("inplace.bin")), packed) << tn << " " << ln;
        r = run("unpack" + common + path("inplace.bin") + " " + path("inplace.bin"));
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(read_bytes(path("inplace.bin")), want) << tn << " " << ln;
      }
      // Dequantize matches the library.
      std::vector<float> deq(rows * k);
      ASSERT_EQ(q4r_dequantize(t, want.data(), bytes, rows, k, deq.data()), Q4R_OK);
      r = run("dequantize --type " + tn + shape(rows, k) + path("q.bin") + " " + path("d.f32"));
      ASSERT_EQ(r.code, 0) << r.err;
      const auto got = read_bytes(path("d.f32"));
      ASSERT_EQ(got.size(), deq.size() * 4);
      EXPECT_EQ(std::memcmp(got.data(), deq.data(), got.size()), 0);
    }
  }
  // q8_0 quantize / dequantize.
  Result r = run("quantize --type q8_0" + shape(rows, k) + path("w.f32") + " " + path("q8.bin"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_bytes(path("q8.bin")).size(), size_t(rows * k / 32 * 34));
  r = run("dequantize --type q8_0" + shape(rows, k) + path("q8.bin") + " " + path("q8.f32"));
  ASSERT_EQ(r.code, 0) << r.err;
}

TEST_F(ToolTest, MatmulMatchesLibrary) {
  const int64_t n = 20, k = 128, m = 5;  // GEMM on 4 rows + GEMV on 1; 8x8 leaves 4 plain rows
  const auto w = random_floats(n * k, 8, 1.f);
  const auto x = random_floats(m * k, 9, 2.f);
  write_file(path("x.f32"), x);
  std::vector<q4r_isa> isas;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (q4r_isa_available(q4r_isa(i))) isas.push_back(q4r_isa(i));
  }
  const q4r_isa before = q4r_active_isa();
  for (q4r_type t : {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL}) {
    size_t bytes = 0;
    ASSERT_EQ(q4r_tensor_bytes(t, n, k, &bytes), Q4R_OK);
    std::vector<uint8_t> plain(bytes);
    ASSERT_EQ(q4r_quantize(t, w.data(), n, k, nullptr, plain.data(), bytes), Q4R_OK);
    for (int li = 0; li < Q4R_LAYOUT_COUNT; ++li) {
      const q4r_layout l = q4r_layout(li);
      std::vector<uint8_t> wl = plain;
      if (l != Q4R_LAYOUT_PLAIN) {
        ASSERT_EQ(q4r_repack_inplace(t, l, wl.data(), bytes, n, k), Q4R_OK);
      }
      write_file(path("w.bin"), wl);
      for (q4r_isa isa : isas) {
        ASSERT_EQ(q4r_set_isa(isa), Q4R_OK);
        std::vector<float> want(m * n);
        ASSERT_EQ(q4r_matmul(t, l, wl.data(), bytes, n, k, x.data(), m, want.data(), 1), Q4R_OK);
        const Result r = run(std::string("matmul --type ") + q4r_type_name(t) + " --layout " +
                             q4r_layout_name(l) + shape(n, k) + "--weights " + path("w.bin") +
                             " --batch 5 --input " + path("x.f32") + " --output " + path("y.f32") +
                             " --isa " + q4r_isa_name(isa));
        ASSERT_EQ(r.code, 0) << r.err;
        const auto got = read_bytes(path("y.f32"));
        ASSERT_EQ(got.size(), want.size() * 4);
        // Same kernels, same inputs: the same bits.
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0)
            << q4r_type_name(t) << " " << q4r_layout_name(l) << " " << q4r_isa_name(isa);
      }
    }
  }
  ASSERT_EQ(q4r_set_isa(before), Q4R_OK);
}

TEST_F(ToolTest, BadUsageExitsTwoWithOneLine) {
  write_file(path("w.f32"), random_floats(8 * 64, 3));
  const std::string in = path("w.f32"), out = path("out.bin");
  expect_usage_failure("quantize --rows 8 --cols 64 " + in + " " + out, "missing --type");
  expect_usage_failure("quantize --type q4_0 --rows 8 --cols 64 --bogus 1 " + in + " " + out,
                       "unknown option '--bogus'");
  expect_usage_failure("quantize --type q4_1 --rows 8 --cols 64 " + in + " " + out,
                       "unknown type 'q4_1'");
  expect_usage_failure("quantize --type q4_0 --rows abc --cols 64 " + in + " " + out,
                       "--rows must be a positive integer");
  expect_usage_failure("quantize --type q4_0 --rows 0 --cols 64 " + in + " " + out,
                       "--rows must be a positive integer");
  expect_usage_failure("quantize --type q4_0 --rows 8 --cols 64 " + in,
                       "expected 2 file arguments");
  expect_usage_failure("quantize --type q4_0 --rows 8 --cols 64 " + in + " " + out + " extra",
                       "expected 2 file arguments");
  expect_usage_failure("quantize --type q4_0 --rows 8 --cols 64 --rows 8 " + in + " " + out,
                       "given twice");
  expect_usage_failure("quantize --type q4_0 --rows 8 --cols", "--cols needs a value");
  expect_usage_failure("quantize --type q4_0 --rows 16 --cols 48 " + in + " " + out,
                       "not a multiple of 32");
  expect_usage_failure(
      "quantize --type q8_0 --imatrix " + in + " --rows 8 --cols 64 " + in + " " + out,
      "--imatrix");
  expect_usage_failure("repack --type q8_0 --layout 4x4 --rows 8 --cols 64 " + in + " " + out,
                       "q8_0");
  expect_usage_failure("repack --type q4_0 --layout none --rows 8 --cols 64 " + in + " " + out,
                       "--layout");
  expect_usage_failure("repack --type q4_0 --layout 2x2 --rows 8 --cols 64 " + in + " " + out,
                       "unknown layout '2x2'");
  expect_usage_failure("matmul --type q4_0 --layout none --rows 8 --cols 64 --weights " + in +
                           " --batch 1 --input " + in + " --output " + out + " --isa vax",
                       "unknown isa 'vax'");
  EXPECT_FALSE(exists(out));
}

TEST_F(ToolTest, BadInputExitsTwoAndWritesNothing) {
  const int64_t rows = 8, k = 64;
  auto w = random_floats(rows * k, 4);
  write_file(path("w.f32"), w);
  const std::string out = path("out.bin");
  // Truncated input: one float short.
  std::vector<float> shortw(w.begin(), w.end() - 1);
  write_file(path("short.f32"), shortw);
  expect_usage_failure("quantize --type q4_0" + shape(rows, k) + path("short.f32") + " " + out,
                       "is 2044 bytes, but 8 x 64 float32 values take 2048 bytes");
  // Too long: the shape says fewer rows than the file has.
  expect_usage_failure("quantize --type q4_0" + shape(rows - 1, k) + path("w.f32") + " " + out,
                       "2048 bytes");
  // Missing input.
  expect_usage_failure("quantize --type q4_0" + shape(rows, k) + path("nope.f32") + " " + out,
                       "No such file");
  // Not finite.
  w[100] = NAN;
  write_file(path("nan.f32"), w);
  expect_usage_failure("quantize --type iq4_nl" + shape(rows, k) + path("nan.f32") + " " + out,
                       "not finite");
  EXPECT_FALSE(exists(out));
  // A failure never replaces an existing output.
  write_file(out, std::vector<uint8_t>{1, 2, 3});
  expect_usage_failure("quantize --type q4_0" + shape(rows, k) + path("nan.f32") + " " + out,
                       "not finite");
  EXPECT_EQ(read_bytes(out), (std::vector<uint8_t>{1, 2, 3}));
  // Blocks of the wrong size for repack / unpack / dequantize / matmul.
  write_file(path("odd.bin"), std::vector<uint8_t>(rows * k / 32 * 18 + 5));
  expect_usage_failure(
      "repack --type q4_0 --layout 8x8" + shape(rows, k) + path("odd.bin") + " " + out,
      "but 8 x 64 values of q4_0 take 288 bytes");
  expect_usage_failure(
      "unpack --type iq4_nl --layout 4x4" + shape(rows, k) + path("odd.bin") + " " + out,
      "288 bytes");
  expect_usage_failure("dequantize --type q4_0" + shape(rows, k) + path("odd.bin") + " " + out,
                       "288 bytes");
  write_file(path("ok.bin"), std::vector<uint8_t>(rows * k / 32 * 18));
  expect_usage_failure("matmul --type q4_0 --layout 8x8" + shape(rows, k) + "--weights " +
                           path("odd.bin") + " --batch 1 --input " + path("w.f32") + " --output " +
                           out,
                       "288 bytes");
  expect_usage_failure("matmul --type q4_0 --layout 8x8" + shape(rows, k) + "--weights " +
                           path("ok.bin") + " --batch 3 --input " + path("w.f32") + " --output " +
                           out,
                       "3 x 64 float32 values");
  // An unwritable output location.
  expect_usage_failure(
      "quantize --type q4_0" + shape(rows, k) + path("w.f32") + " " + path("no/such/dir/out.bin"),
      "out.bin");
  EXPECT_EQ(read_bytes(out), (std::vector<uint8_t>{1, 2, 3}));
  // No temporary files are left behind.
  DIR* d = ::opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  while (const dirent* e = ::readdir(d)) {
    EXPECT_EQ(std::strstr(e->d_name, ".tmp"), nullptr) << e->d_name;
  }
  ::closedir(d);
}

TEST_F(ToolTest, MatmulIsaNotAvailable) {
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (q4r_isa_available(q4r_isa(i))) continue;
    write_file(path("x.f32"), random_floats(64, 1));
    write_file(path("w.bin"), std::vector<uint8_t>(36));
    expect_usage_failure(
        std::string("matmul --type q4_0 --layout none --rows 1 --cols 64 --weights ") +
            path("w.bin") + " --batch 1 --input " + path("x.f32") + " --output " + path("y.f32") +
            " --isa " + q4r_isa_name(q4r_isa(i)),
        "not available");
    EXPECT_FALSE(exists(path("y.f32")));
  }
}

TEST_F(ToolTest, ValidateQuickPassesAndInjectedFaultFails) {
  Result r = run("validate --quick");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("validate: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 0 mismatches"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("MISMATCH"), std::string::npos) << r.out;
  // A corrupted weight block in the SIMD runs must be reported (needs a second ISA).
  int available = 0;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) available += q4r_isa_available(q4r_isa(i));
  if (available > 1) {
    r = run("validate --quick --inject-fault");
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("MISMATCH"), std::string::npos) << r.out;
  }
  expect_usage_failure("validate --quick extra.bin", "unexpected argument");
}

// `bench FILE.gguf` on the golden tiny Llama (gguf/tiny-llama-q4_0.tensors.tsv): its Q4_0
// matrices grouped by shape with their counts, a table per shape, and the whole-model totals with
// tokens/s. --batch 1 --seconds 0 keeps it to about a second (the timings are not checked: only
// that the report is complete); the bandwidth probe and cold weight copies still take ~0.5 GB RSS.
// Bad files: a one-line error, exit 2, no report.
TEST_F(ToolTest, BenchGgufFile) {
  const std::string gguf = golden_dir() + "/gguf/tiny-llama-q4_0.gguf";
  ASSERT_TRUE(exists(gguf)) << gguf;
  const Result r = run("bench '" + gguf + "' --batch 1 --seconds 0");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("shapes: " + gguf + "\n"), std::string::npos) << r.out;
  // N x K: token_embd and output 64 x 256; attn_q and attn_output 256 x 256 in 2 blocks;
  // attn_k, attn_v, ffn_gate, ffn_up 96 x 256 except blk.1.ffn_up (92 rows); ffn_down 256 x 96.
  const struct {
    const char* name;
    int count;
  } shapes[] = {{"64x256", 2}, {"256x256", 4}, {"96x256", 7}, {"92x256", 1}, {"256x96", 2}};
  const std::string table = "     M  cache  thr  layout    time/call     GB/s  %bw     GOPS";
  std::size_t at = 0;
  for (const auto& sh : shapes) {
    const std::string title = std::string("\n") + sh.name + ": ";
    const std::size_t pos = r.out.find(title);
    ASSERT_NE(pos, std::string::npos) << sh.name << "\n" << r.out;
    const std::size_t eol = r.out.find('\n', pos + 1);
    const std::string line = r.out.substr(pos + 1, eol - pos - 1);
    EXPECT_NE(line.find(" q4_0, "), std::string::npos) << line;
    EXPECT_NE(line.find("(x" + std::to_string(sh.count) + " per layer)"), std::string::npos)
        << line;
    EXPECT_EQ(r.out.compare(eol + 1, table.size(), table), 0) << r.out.substr(eol + 1, 100);
    at = std::max(at, eol);
  }
  // Totals: plain and the packed layout, cold and warm, each with a positive tokens/s.
  const std::size_t total = r.out.find("\nwhole model (16 matrices, count x time per shape)");
  ASSERT_NE(total, std::string::npos) << r.out;
  EXPECT_GT(total, at) << "the totals come after the shape tables";
  std::size_t pos = r.out.find('\n', total + 1);
  const std::string header = r.out.substr(pos + 1, r.out.find('\n', pos + 1) - pos - 1);
  EXPECT_NE(header.find("speedup     tokens/s"), std::string::npos) << header;
  int rows = 0, plain = 0;
  for (pos = r.out.find('\n', pos + 1); r.out.compare(pos + 1, 8, "  q4_0  ") == 0;) {
    const std::size_t eol = r.out.find('\n', pos + 1);
    const std::string line = r.out.substr(pos + 1, eol - pos - 1);
    const double tps = std::strtod(line.substr(line.find_last_of(' ') + 1).c_str(), nullptr);
    EXPECT_TRUE(std::isfinite(tps) && tps > 0) << line;
    plain += line.find("  none  ") != std::string::npos;
    ++rows;
    pos = eol;
  }
  EXPECT_EQ(rows, 4) << r.out.substr(total);
  EXPECT_EQ(plain, 2) << r.out.substr(total);

  // A truncated file (inside the metadata, inside the tensor data), a text file, no file.
  const std::vector<uint8_t> bytes = read_bytes(gguf);
  ASSERT_GT(bytes.size(), 300000u);
  write_file(path("head.gguf"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + 1000));
  write_file(path("cut.gguf"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + 300000));
  const std::string text = "this is not a GGUF file\n";
  write_file(path("text.gguf"), std::vector<char>(text.begin(), text.end()));
  const struct {
    const char* file;
    const char* needle;
  } bad[] = {{"head.gguf", "gguf: "},
             {"cut.gguf", "runs past the end of the file"},
             {"text.gguf", "not a GGUF file"},
             {"missing.gguf", "No such file"}};
  for (const auto& b : bad) {
    const Result f =
        expect_usage_failure("bench " + path(b.file) + " --batch 1 --seconds 0", b.needle);
    EXPECT_EQ(f.out, "") << b.file << ": no partial report";
    EXPECT_NE(f.err.find(path(b.file)), std::string::npos) << f.err;
  }
}

}  // namespace
}  // namespace q4r::test
