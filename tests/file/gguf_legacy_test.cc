// Legacy pre-repacked GGUF files (types 31-33, 36; golden/gguf/MANIFEST.md section 6): the reader,
// q4r_gguf_type_info, running legacy tensors as stored, and converting them back to plain files
// (in memory, to a new file, in place) byte for byte. The tool's side is in tool_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "gguf_writer.h"
#include "lib/file/gguf.h"
#include "lib/file/gguf_convert.h"
#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

struct Pair {
  const char* legacy;
  const char* plain;
};
const Pair kPairs[] = {{"legacy-tiny-llama", "tiny-llama-q4_0"},
                       {"legacy-tiny-iq4_nl", "tiny-iq4_nl"}};

std::vector<uint8_t> golden_gguf(const std::string& stem) {
  return read_golden("gguf/" + stem + ".gguf");
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::string temp_path(const std::string& name) {
  return "/tmp/q4r_legacy_" + std::to_string(getpid()) + "_" + name;
}

void poke32(std::vector<uint8_t>& b, uint64_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// The type id field of a tensor in a file's bytes.
uint64_t type_field(const std::vector<uint8_t>& bytes, const std::string& tensor) {
  GgufFile f;
  EXPECT_EQ(f.parse(bytes.data(), bytes.size()), Q4R_OK) << q4r_last_error();
  const GgufTensor* t = f.find_tensor(tensor);
  EXPECT_NE(t, nullptr) << tensor;
  return t ? t->type_offset : 0;
}

TEST(GgufLegacy, TypeInfo) {
  const struct {
    uint32_t id;
    q4r_type type;
    q4r_layout layout;
  } known[] = {{2, Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN}, {20, Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_PLAIN},
               {31, Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4},  {32, Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X8},
               {33, Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8},  {36, Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4}};
  for (const auto& k : known) {
    q4r_type t = Q4R_TYPE_Q8_0;
    q4r_layout l = Q4R_LAYOUT_8X8;
    ASSERT_EQ(q4r_gguf_type_info(k.id, &t, &l), Q4R_OK) << k.id;
    EXPECT_EQ(t, k.type) << k.id;
    EXPECT_EQ(l, k.layout) << k.id;
  }
  EXPECT_STREQ(ggml_type_name(31), "q4_0_4x4");
  EXPECT_STREQ(ggml_type_name(32), "q4_0_4x8");
  EXPECT_STREQ(ggml_type_name(33), "q4_0_8x8");
  EXPECT_STREQ(ggml_type_name(36), "iq4_nl_4x4");
  EXPECT_EQ(ggml_type_name(37), nullptr);
  EXPECT_EQ(ggml_type_name(38), nullptr);
  for (uint32_t id : {0u, 1u, 8u, 34u, 35u, 37u, 38u, 39u, 1000u, 0xFFFFFFFFu}) {
    q4r_type t = Q4R_TYPE_Q8_0;
    q4r_layout l = Q4R_LAYOUT_8X8;
    EXPECT_EQ(q4r_gguf_type_info(id, &t, &l), Q4R_E_UNSUPPORTED) << id;
    EXPECT_EQ(t, Q4R_TYPE_Q8_0);  // untouched
    EXPECT_EQ(l, Q4R_LAYOUT_8X8);
    EXPECT_NE(std::string(q4r_last_error()).find(std::to_string(id)), std::string::npos);
  }
  q4r_type t;
  EXPECT_EQ(q4r_gguf_type_info(37, &t, nullptr), Q4R_E_NULL);
  q4r_layout l;
  EXPECT_EQ(q4r_gguf_type_info(37, &t, &l), Q4R_E_UNSUPPORTED);
  EXPECT_NE(std::string(q4r_last_error()).find("never defined"), std::string::npos);
}

// MANIFEST section 6: which tensor holds which legacy type.
TEST(GgufLegacy, GoldenFilesReadAsStoredLayouts) {
  const auto llama = golden_gguf("legacy-tiny-llama");
  GgufFile f;
  ASSERT_EQ(f.parse(llama.data(), llama.size()), Q4R_OK) << q4r_last_error();
  for (const GgufTensor& t : f.tensors) {
    const std::string name(t.name);
    SCOPED_TRACE(name);
    if (t.type_id == 0) continue;  // the f32 norms
    EXPECT_TRUE(t.known_type && t.repackable);
    EXPECT_EQ(t.q4type, Q4R_TYPE_Q4_0);
    q4r_layout want = Q4R_LAYOUT_PLAIN;
    if (name.rfind("blk.0.", 0) == 0) want = Q4R_LAYOUT_4X4;
    if (name.rfind("blk.1.", 0) == 0 && name != "blk.1.ffn_up.weight") want = Q4R_LAYOUT_8X8;
    if (name == "output.weight") want = Q4R_LAYOUT_4X8;
    EXPECT_EQ(t.layout, want);
    EXPECT_EQ(t.legacy(), want != Q4R_LAYOUT_PLAIN);
    EXPECT_EQ(t.nbytes, uint64_t(t.ne[0] / 32 * 18 * t.ne[1]));
  }
  const auto iq4 = golden_gguf("legacy-tiny-iq4_nl");
  ASSERT_EQ(f.parse(iq4.data(), iq4.size()), Q4R_OK) << q4r_last_error();
  int legacy = 0;
  for (const GgufTensor& t : f.tensors) {
    if (t.type_id != 36) continue;
    ++legacy;
    EXPECT_EQ(t.q4type, Q4R_TYPE_IQ4_NL);
    EXPECT_EQ(t.layout, Q4R_LAYOUT_4X4);
  }
  EXPECT_EQ(legacy, 9);
  const GgufTensor* exps = f.find_tensor("blk.0.ffn_gate_exps.weight");
  ASSERT_NE(exps, nullptr);
  EXPECT_EQ(exps->matrices, 4);
  EXPECT_EQ(exps->rows, 128);
}

TEST(GgufLegacy, ConvertGoldenFilesByteForByte) {
  for (const Pair& p : kPairs) {
    SCOPED_TRACE(p.legacy);
    const auto legacy = golden_gguf(p.legacy), plain = golden_gguf(p.plain);
    ASSERT_FALSE(legacy.empty());
    GgufFile f;
    ASSERT_EQ(f.parse(legacy.data(), legacy.size()), Q4R_OK);
    std::vector<uint8_t> out;
    ASSERT_EQ(convert_buffer(f, &out), Q4R_OK) << q4r_last_error();
    EXPECT_TRUE(out == plain);

    // Streamed to a file (small chunks: many per tensor, two threads), checked.
    const std::string in_path = temp_path("in.gguf"), out_path = temp_path("out.gguf");
    write_file(in_path, legacy);
    ConvertOptions opt;
    opt.check = true;
    opt.chunk_bytes = 1000;
    q4r_context_options co;
    q4r_context_options_init(&co);
    co.n_threads = 2;
    q4r_context* ctx = nullptr;
    ASSERT_EQ(q4r_context_create(&co, &ctx), Q4R_OK);
    std::unique_ptr<q4r_context, void (*)(q4r_context*)> owner(ctx, q4r_context_destroy);
    opt.context = ctx;
    uint64_t last = 0;
    opt.progress = [&](uint64_t done, uint64_t total) {
      EXPECT_GE(done, last);
      EXPECT_EQ(total, legacy.size());
      last = done;
    };
    ConvertStats st;
    ASSERT_EQ(convert_file(in_path.c_str(), out_path.c_str(), opt, &st), Q4R_OK)
        << q4r_last_error();
    EXPECT_EQ(last, legacy.size());
    EXPECT_EQ(st.tensors, std::string(p.legacy) == "legacy-tiny-llama" ? 14u : 9u);
    EXPECT_TRUE(read_file(out_path) == plain);
    EXPECT_NE(::access((out_path + ".tmp").c_str(), F_OK), 0);

    // In place, checked; and again (nothing left to do).
    opt.progress = nullptr;
    ASSERT_EQ(convert_inplace(in_path.c_str(), opt, &st), Q4R_OK) << q4r_last_error();
    EXPECT_TRUE(read_file(in_path) == plain);
    ASSERT_EQ(convert_inplace(in_path.c_str(), opt, &st), Q4R_OK) << q4r_last_error();
    EXPECT_EQ(st.tensors, 0u);
    EXPECT_TRUE(read_file(in_path) == plain);
    std::remove(in_path.c_str());
    std::remove(out_path.c_str());
  }
}

// Y = X W^T on a legacy tensor, run as stored, equals the same on its plain twin: bit for bit
// against the twin repacked to that layout (same kernel), and within the kernels' tolerance
// against the plain kernel (different summation order; tolerance as in `validate`).
TEST(GgufLegacy, MatmulAsStoredEqualsPlainTwin) {
  for (const Pair& p : kPairs) {
    const auto legacy = golden_gguf(p.legacy), plain = golden_gguf(p.plain);
    GgufFile lf, pf;
    ASSERT_EQ(lf.parse(legacy.data(), legacy.size()), Q4R_OK);
    ASSERT_EQ(pf.parse(plain.data(), plain.size()), Q4R_OK);
    for (const GgufTensor& t : lf.tensors) {
      if (!t.legacy()) continue;
      SCOPED_TRACE(std::string(t.name));
      const GgufTensor* twin = pf.find_tensor(t.name);
      ASSERT_NE(twin, nullptr);
      const int64_t m = 5;
      const std::size_t mb = std::size_t(t.nbytes / uint64_t(t.matrices));
      for (int64_t e = 0; e < t.matrices; ++e) {
        const uint8_t* w = t.data + e * mb;
        const uint8_t* w_plain = twin->data + e * mb;
        const auto x = random_floats(std::size_t(m * t.k), uint32_t(e + 1));
        std::vector<float> y(std::size_t(m * t.rows)), y_twin(y.size()), y_plain(y.size());
        std::vector<uint8_t> repacked(mb);
        ASSERT_EQ(q4r_repack(t.q4type, t.layout, w_plain, repacked.data(), mb, t.rows, t.k),
                  Q4R_OK);
        ASSERT_EQ(q4r_matmul(t.q4type, t.layout, w, mb, t.rows, t.k, x.data(), m, y.data(), 1),
                  Q4R_OK);
        ASSERT_EQ(q4r_matmul(t.q4type, t.layout, repacked.data(), mb, t.rows, t.k, x.data(), m,
                             y_twin.data(), 1),
                  Q4R_OK);
        ASSERT_EQ(q4r_matmul(t.q4type, Q4R_LAYOUT_PLAIN, w_plain, mb, t.rows, t.k, x.data(), m,
                             y_plain.data(), 1),
                  Q4R_OK);
        EXPECT_EQ(std::memcmp(y.data(), y_twin.data(), y.size() * 4), 0);
        std::vector<float> row(std::size_t(t.k));
        for (int64_t c = 0; c < t.rows; ++c) {
          ASSERT_EQ(q4r_dequantize(t.q4type, w_plain + c * (mb / t.rows), mb / t.rows, 1, t.k,
                                   row.data()),
                    Q4R_OK);
          for (int64_t r = 0; r < m; ++r) {
            double s = 0;
            for (int64_t j = 0; j < t.k; ++j) s += std::fabs(double(row[j]) * x[r * t.k + j]);
            const std::size_t i = std::size_t(r * t.rows + c);
            ASSERT_LE(std::fabs(double(y[i]) - y_plain[i]), 1e-4 * s + 1e-6) << r << "," << c;
          }
        }
      }
    }
  }
}

TEST(GgufLegacy, RowCountNotAMultipleOfTheGroupIsMalformed) {
  // blk.1.ffn_up.weight has 92 rows: fine as q4_0_4x4 (92 % 4 == 0), malformed as q4_0_8x8.
  auto b = golden_gguf("legacy-tiny-llama");
  const uint64_t at = type_field(b, "blk.1.ffn_up.weight");
  poke32(b, at, 31);
  GgufFile f;
  EXPECT_EQ(f.parse(b.data(), b.size()), Q4R_OK) << q4r_last_error();
  poke32(b, at, 33);
  EXPECT_EQ(f.parse(b.data(), b.size()), Q4R_E_FORMAT);
  const std::string msg = q4r_last_error();
  EXPECT_NE(msg.find("blk.1.ffn_up.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("q4_0_8x8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ne1 = 92 is not a multiple of 8"), std::string::npos) << msg;
  // 1-D legacy tensors have one row: never a whole group.
  auto n = golden_gguf("legacy-tiny-iq4_nl");
  poke32(n, type_field(n, "output_norm.weight"), 36);
  EXPECT_EQ(f.parse(n.data(), n.size()), Q4R_E_FORMAT);
}

TEST(GgufLegacy, UndefinedAndInterruptedTypesAreRefused) {
  const auto base = golden_gguf("legacy-tiny-iq4_nl");
  const uint64_t at = type_field(base, "blk.0.attn_q.weight");
  for (uint32_t id : {37u, 38u, kGgmlTypeConvertingBase + 36, 999u}) {
    SCOPED_TRACE(id);
    auto b = base;
    poke32(b, at, id);
    GgufFile f;
    ASSERT_EQ(f.parse(b.data(), b.size()), Q4R_OK) << q4r_last_error();
    const GgufTensor* t = f.find_tensor("blk.0.attn_q.weight");
    EXPECT_FALSE(t->known_type);
    EXPECT_FALSE(t->repackable);
    if (id < 100) {
      EXPECT_NE(t->skip_reason.find("never defined"), std::string::npos);
    }
    if (id > 1000) {
      EXPECT_NE(t->skip_reason.find("interrupted"), std::string::npos);
    }
    std::vector<uint8_t> out;
    EXPECT_EQ(convert_buffer(f, &out), Q4R_E_UNSUPPORTED);
    const std::string msg = q4r_last_error();
    EXPECT_NE(msg.find("blk.0.attn_q.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("type " + std::to_string(id)), std::string::npos) << msg;
    EXPECT_TRUE(out.empty());
  }
}

// A file made with the test writer at general.alignment 128 from the golden tensors, twice: with
// plain q4_0 / iq4_nl, and with the section-6 legacy layout (a 3-D q4_0 8x8 expert tensor, a 3-D
// iq4_nl 4x4 one, 4x8, a 92-row q4_0 tensor kept plain, f32 norms, general.file_type 35 / 2).
std::vector<uint8_t> aligned128(bool legacy) {
  static const auto llama = golden_gguf("tiny-llama-q4_0");
  static const auto iq4 = golden_gguf("tiny-iq4_nl");
  GgufFile lf, nf;
  EXPECT_EQ(lf.parse(llama.data(), llama.size()), Q4R_OK);
  EXPECT_EQ(nf.parse(iq4.data(), iq4.size()), Q4R_OK);
  auto bytes_of = [](const GgufFile& f, const char* name) {
    const GgufTensor* t = f.find_tensor(name);
    return std::vector<uint8_t>(t->data, t->data + t->nbytes);
  };
  // Rows of `plain` interleaved in `layout` (groups never straddle matrices: rows % N == 0).
  auto stored = [&](q4r_type type, q4r_layout layout, std::vector<uint8_t> plain, int64_t k) {
    if (!legacy) return plain;
    std::vector<uint8_t> out(plain.size());
    const int64_t rows = int64_t(plain.size()) / (k / 32 * 18);
    EXPECT_EQ(q4r_repack(type, layout, plain.data(), out.data(), out.size(), rows, k), Q4R_OK);
    return out;
  };
  GgufWriter w(3, 128);
  w.kv_u32("general.alignment", 128);
  w.kv_string("general.architecture", "llama");
  w.kv_u32("general.file_type", legacy ? 35 : 2);
  w.kv_string("general.name", "legacy alignment 128");
  std::vector<uint8_t> experts;
  for (const char* n : {"blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.ffn_gate.weight"}) {
    const auto m = bytes_of(lf, n);
    experts.insert(experts.end(), m.begin(), m.end());
  }
  w.tensor("blk.0.attn_norm.weight", 0, {256}, bytes_of(lf, "blk.0.attn_norm.weight"));
  w.tensor("blk.0.ffn_gate_exps.weight", legacy ? 33 : 2, {256, 96, 3},
           stored(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, experts, 256));
  w.tensor("blk.0.ffn_up.weight", 2, {256, 92}, bytes_of(lf, "blk.1.ffn_up.weight"));
  w.tensor(
      "blk.0.ffn_down_exps.weight", legacy ? 36 : 20, {256, 128, 4},
      stored(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, bytes_of(nf, "blk.0.ffn_gate_exps.weight"), 256));
  w.tensor("blk.0.ffn_down.weight", legacy ? 36 : 20, {32, 256},
           stored(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, bytes_of(nf, "blk.0.ffn_down.weight"), 32));
  w.tensor("output.weight", legacy ? 32 : 2, {256, 64},
           stored(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X8, bytes_of(lf, "output.weight"), 256));
  w.tensor("output_norm.weight", 0, {256}, bytes_of(lf, "output_norm.weight"));
  return w.bytes();
}

TEST(GgufLegacy, Alignment128ExpertsAndFileType) {
  const auto legacy = aligned128(true), plain = aligned128(false);
  ASSERT_EQ(legacy.size(), plain.size());
  GgufFile f;
  ASSERT_EQ(f.parse(legacy.data(), legacy.size()), Q4R_OK) << q4r_last_error();
  EXPECT_EQ(f.alignment, 128u);
  EXPECT_EQ(f.data_offset % 128, 0u);
  const GgufTensor* exps = f.find_tensor("blk.0.ffn_gate_exps.weight");
  ASSERT_NE(exps, nullptr);
  EXPECT_EQ(exps->layout, Q4R_LAYOUT_8X8);
  EXPECT_EQ(exps->matrices, 3);
  std::vector<uint8_t> out;
  ASSERT_EQ(convert_buffer(f, &out), Q4R_OK) << q4r_last_error();
  EXPECT_TRUE(out == plain);
  GgufFile o;
  ASSERT_EQ(o.parse(out.data(), out.size()), Q4R_OK);
  EXPECT_EQ(o.find("general.file_type")->value.as_u64(), 2u);
  for (const GgufTensor& t : o.tensors) EXPECT_FALSE(t.legacy()) << t.name;

  const std::string path = temp_path("a128.gguf");
  write_file(path, legacy);
  ConvertOptions opt;
  opt.check = true;
  ASSERT_EQ(convert_inplace(path.c_str(), opt, nullptr), Q4R_OK) << q4r_last_error();
  EXPECT_TRUE(read_file(path) == plain);
  std::remove(path.c_str());
}

TEST(GgufLegacy, ConvertFileErrorsLeaveNoOutput) {
  const std::string in = temp_path("bad.gguf"), out = temp_path("bad-out.gguf");
  auto b = golden_gguf("legacy-tiny-llama");
  b.resize(b.size() - 5000);  // truncated inside the data of output.weight
  write_file(in, b);
  ConvertOptions opt;
  EXPECT_EQ(convert_file(in.c_str(), out.c_str(), opt, nullptr), Q4R_E_FORMAT);
  EXPECT_NE(std::string(q4r_last_error()).find("runs past the end"), std::string::npos);
  EXPECT_EQ(convert_inplace(in.c_str(), opt, nullptr), Q4R_E_FORMAT);
  EXPECT_TRUE(read_file(in) == b);
  EXPECT_EQ(convert_file(in.c_str(), "/nonexistent-dir/out.gguf", opt, nullptr), Q4R_E_FORMAT);
  const auto good = golden_gguf("legacy-tiny-llama");
  write_file(in, good);
  EXPECT_EQ(convert_file(in.c_str(), "/nonexistent-dir/out.gguf", opt, nullptr), Q4R_E_IO);
  EXPECT_NE(std::string(q4r_last_error()).find("/nonexistent-dir/out.gguf.tmp"), std::string::npos);
  for (const std::string& p : {out, out + ".tmp"}) EXPECT_NE(::access(p.c_str(), F_OK), 0) << p;
  std::remove(in.c_str());
}

}  // namespace
}  // namespace q4r::test
