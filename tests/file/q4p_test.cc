// .q4p packed-weights files: pack the golden GGUF files, open them back (zero repack work), check
// every tensor unpacks to the GGUF bytes, the source check, the ISA check, and hostile files.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf_writer.h"
#include "lib/file/gguf.h"
#include "lib/file/q4p.h"
#include "q4repack/q4p.h"
#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

std::string golden_gguf(const char* stem) {
  return golden_dir() + "/gguf/" + stem + ".gguf";
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

std::string temp_path(const std::string& name) {
  return "/tmp/q4r_q4p_test_" + std::to_string(getpid()) + "_" + name;
}

std::vector<uint8_t> pack_buffer(const GgufFile& g, q4r_layout layout, uint32_t alignment = 4096,
                                 bool require_isa = false) {
  Q4pPackOptions opt;
  opt.layout = layout;
  opt.alignment = alignment;
  opt.require_isa = require_isa;
  std::vector<uint8_t> out;
  EXPECT_EQ(q4p_pack_buffer(g, opt, &out), Q4R_OK) << q4r_last_error();
  return out;
}

// Every tensor of the packed file unpacks to exactly the GGUF's bytes.
void expect_unpacks_to_source(const q4r_q4p* p, const GgufFile& g, const uint8_t* base) {
  size_t repackable = 0;
  for (const auto& t : g.tensors) repackable += t.repackable;
  ASSERT_EQ(q4r_q4p_tensor_count(p), repackable);
  for (size_t i = 0; i < q4r_q4p_tensor_count(p); ++i) {
    q4r_q4p_tensor t;
    ASSERT_EQ(q4r_q4p_get_tensor(p, i, &t), Q4R_OK);
    const GgufTensor* src = g.find_tensor(t.name);
    ASSERT_NE(src, nullptr) << t.name;
    ASSERT_EQ(t.size, src->nbytes);
    EXPECT_EQ(t.source_offset, uint64_t(src->data - g.bytes()));
    EXPECT_EQ((static_cast<const uint8_t*>(t.data) - base) % 64, 0) << "aligned for mmap";
    std::vector<uint8_t> plain(t.size);
    for (int64_t m = 0; m < t.matrices; ++m) {
      const auto* in = static_cast<const uint8_t*>(t.data) + m * t.matrix_bytes;
      if (t.layout == Q4R_LAYOUT_PLAIN) {
        std::memcpy(plain.data() + m * t.matrix_bytes, in, t.matrix_bytes);
      } else {
        ASSERT_EQ(q4r_unpack(t.type, t.layout, in, plain.data() + m * t.matrix_bytes,
                             t.matrix_bytes, t.rows, t.k),
                  Q4R_OK)
            << q4r_last_error();
      }
    }
    EXPECT_EQ(0, std::memcmp(plain.data(), src->data, t.size)) << t.name;
  }
}

TEST(Q4p, PackGoldenFilesEveryLayoutAndUnpackExactly) {
  for (const char* stem : {"tiny-llama-q4_0", "tiny-iq4_nl", "aligned64-q4_0"}) {
    GgufFile g;
    ASSERT_EQ(g.open(golden_gguf(stem).c_str()), Q4R_OK) << q4r_last_error();
    for (q4r_layout layout : {Q4R_LAYOUT_PLAIN, Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8}) {
      SCOPED_TRACE(std::string(stem) + " " + q4r_layout_name(layout));
      for (uint32_t alignment : {64u, 4096u}) {
        const auto bytes = pack_buffer(g, layout, alignment);
        q4r_q4p* p = nullptr;
        ASSERT_EQ(q4r_q4p_open_buffer(bytes.data(), bytes.size(), Q4R_Q4P_VERIFY, &p), Q4R_OK)
            << q4r_last_error();
        expect_unpacks_to_source(p, g, bytes.data());
        q4r_q4p_tensor t;
        ASSERT_EQ(q4r_q4p_get_tensor(p, 0, &t), Q4R_OK);
        const q4r_layout want =
            layout == Q4R_LAYOUT_PLAIN ? q4r_preferred_layout(t.type, q4r_active_isa()) : layout;
        EXPECT_EQ(t.layout, want);
        EXPECT_EQ(t.required_isa, Q4R_ISA_SCALAR);
        q4r_q4p_close(p);
      }
    }
  }
}

TEST(Q4p, PackedTensorsRunDirectlyFromTheMapping) {
  const std::string out = temp_path("run.q4p");
  ASSERT_EQ(q4r_q4p_pack(golden_gguf("tiny-iq4_nl").c_str(), out.c_str(), Q4R_LAYOUT_8X8, 0),
            Q4R_OK)
      << q4r_last_error();
  q4r_q4p* p = nullptr;
  ASSERT_EQ(q4r_q4p_open(out.c_str(), 0, &p), Q4R_OK) << q4r_last_error();
  GgufFile g;
  ASSERT_EQ(g.open(golden_gguf("tiny-iq4_nl").c_str()), Q4R_OK);
  for (const char* name : {"blk.0.ffn_up.weight", "blk.0.ffn_gate_exps.weight"}) {
    q4r_q4p_tensor t;
    ASSERT_EQ(q4r_q4p_find_tensor(p, name, &t), Q4R_OK);
    const GgufTensor* src = g.find_tensor(name);
    const int64_t m = 5;
    const auto x = random_floats(size_t(m * t.k), 3);
    for (int64_t e = 0; e < t.matrices; ++e) {
      std::vector<float> y_packed(size_t(m * t.rows)), y_plain(y_packed.size());
      ASSERT_EQ(
          q4r_matmul(t.type, t.layout, static_cast<const uint8_t*>(t.data) + e * t.matrix_bytes,
                     t.matrix_bytes, t.rows, t.k, x.data(), m, y_packed.data(), 1),
          Q4R_OK)
          << q4r_last_error();
      ASSERT_EQ(q4r_matmul(t.type, Q4R_LAYOUT_PLAIN, src->data + e * t.matrix_bytes, t.matrix_bytes,
                           t.rows, t.k, x.data(), m, y_plain.data(), 1),
                Q4R_OK);
      for (size_t i = 0; i < y_plain.size(); ++i)
        ASSERT_NEAR(y_packed[i], y_plain[i], 1e-4f * (1 + std::fabs(y_plain[i]))) << name;
    }
  }
  q4r_q4p_tensor t;
  EXPECT_EQ(q4r_q4p_find_tensor(p, "no.such.tensor", &t), Q4R_E_ARGUMENT);
  EXPECT_EQ(q4r_q4p_get_tensor(p, 1000, &t), Q4R_E_ARGUMENT);
  q4r_q4p_close(p);
  std::remove(out.c_str());
}

TEST(Q4p, SourceCheck) {
  const std::string gguf = golden_gguf("tiny-llama-q4_0");
  const std::string out = temp_path("src.q4p");
  ASSERT_EQ(q4r_q4p_pack(gguf.c_str(), out.c_str(), Q4R_LAYOUT_PLAIN, 0), Q4R_OK);
  q4r_q4p* p = nullptr;
  ASSERT_EQ(q4r_q4p_open(out.c_str(), Q4R_Q4P_VERIFY, &p), Q4R_OK) << q4r_last_error();
  EXPECT_EQ(q4r_q4p_check_source(p, gguf.c_str(), Q4R_Q4P_VERIFY), Q4R_OK) << q4r_last_error();
  // Another GGUF.
  EXPECT_EQ(q4r_q4p_check_source(p, golden_gguf("tiny-iq4_nl").c_str(), 0), Q4R_E_MISMATCH);
  EXPECT_NE(std::string(q4r_last_error()).find("not the source GGUF"), std::string::npos);
  // Same size, one tensor byte changed: only the full check sees it.
  auto bytes = read_file(gguf);
  const std::string copy = temp_path("copy.gguf");
  bytes[4320 + 47104 + 100] ^= 0x10;  // inside blk.0.attn_k.weight
  write_file(copy, bytes);
  EXPECT_EQ(q4r_q4p_check_source(p, copy.c_str(), 0), Q4R_OK);
  EXPECT_EQ(q4r_q4p_check_source(p, copy.c_str(), Q4R_Q4P_VERIFY), Q4R_E_MISMATCH);
  EXPECT_NE(std::string(q4r_last_error()).find("blk.0.attn_k.weight"), std::string::npos);
  // A metadata byte changed (inside a string value): the quick check sees it.
  bytes = read_file(gguf);
  const std::string needle = "(synthetic)";
  const auto it = std::search(bytes.begin(), bytes.begin() + 4320, needle.begin(), needle.end());
  ASSERT_NE(it, bytes.begin() + 4320);
  it[1] = 'S';  // general.name's value, still valid UTF-8
  write_file(copy, bytes);
  EXPECT_EQ(q4r_q4p_check_source(p, copy.c_str(), 0), Q4R_E_MISMATCH);
  EXPECT_EQ(q4r_q4p_check_source(p, "/nonexistent.gguf", 0), Q4R_E_IO);
  q4r_q4p_close(p);
  std::remove(copy.c_str());
  std::remove(out.c_str());
}

TEST(Q4p, PackFailuresLeaveNoOutput) {
  GgufWriter w;
  w.tensor("only.f32", kGgmlTypeF32, {4}, std::vector<uint8_t>(16));
  const std::string in = temp_path("nof4.gguf"), out = temp_path("nof4.q4p");
  ASSERT_TRUE(w.write(in));
  std::remove(out.c_str());
  EXPECT_EQ(q4r_q4p_pack(in.c_str(), out.c_str(), Q4R_LAYOUT_PLAIN, 0), Q4R_E_UNSUPPORTED);
  EXPECT_NE(access(out.c_str(), F_OK), 0);

  const auto good = small_q4_gguf(8, 64);
  write_file(in, good);
  EXPECT_EQ(q4r_q4p_pack(in.c_str(), "/nonexistent-dir/x.q4p", Q4R_LAYOUT_PLAIN, 0), Q4R_E_IO);
  EXPECT_EQ(q4r_q4p_pack(in.c_str(), out.c_str(), q4r_layout(9), 0), Q4R_E_ARGUMENT);
  EXPECT_EQ(q4r_q4p_pack(in.c_str(), out.c_str(), Q4R_LAYOUT_PLAIN, 0x100), Q4R_E_ARGUMENT);
  EXPECT_EQ(q4r_q4p_pack(nullptr, out.c_str(), Q4R_LAYOUT_PLAIN, 0), Q4R_E_NULL);
  EXPECT_NE(access(out.c_str(), F_OK), 0);
  std::remove(in.c_str());
}

// ---------------------------------------------------------------- hostile files

// Recomputes the directory and header checksums after a test edited fields, so that the field
// checks (not the checksums) are what must catch the edit.
void reseal(std::vector<uint8_t>& b) {
  auto put = [&](size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
  };
  uint64_t count = 0, dir_bytes = 0;
  for (int i = 0; i < 4; ++i) count |= uint64_t(b[20 + i]) << (8 * i);
  for (int i = 0; i < 8; ++i) dir_bytes |= uint64_t(b[32 + i]) << (8 * i);
  if (128 + dir_bytes <= b.size()) put(72, q4r_checksum64(b.data() + 128, dir_bytes));
  put(120, q4r_checksum64(b.data(), 120));
  (void)count;
}

q4r_status open_status(const std::vector<uint8_t>& b, unsigned flags = 0) {
  q4r_q4p* p = nullptr;
  const q4r_status s = q4r_q4p_open_buffer(b.data(), b.size(), flags, &p);
  EXPECT_EQ(s == Q4R_OK, p != nullptr);
  q4r_q4p_close(p);
  return s;
}

void expect_bad(std::vector<uint8_t> b, const std::string& needle, q4r_status want = Q4R_E_FORMAT) {
  reseal(b);
  EXPECT_EQ(open_status(b), want) << "expected: " << needle;
  EXPECT_NE(std::string(q4r_last_error()).find(needle), std::string::npos)
      << q4r_last_error() << "\nexpected to contain: " << needle;
}

void poke(std::vector<uint8_t>& b, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

std::vector<uint8_t> sample_q4p() {
  GgufFile g;
  EXPECT_EQ(g.open(golden_gguf("aligned64-q4_0").c_str()), Q4R_OK);
  return pack_buffer(g, Q4R_LAYOUT_4X8, 64);
}

TEST(Q4pHostile, FieldChecks) {
  const auto base = sample_q4p();
  ASSERT_EQ(open_status(base, Q4R_Q4P_VERIFY), Q4R_OK) << q4r_last_error();
  const size_t e0 = 128;
  auto b = base;
  b[0] = 'X';
  expect_bad(b, "not a .q4p file");
  b = base;
  poke(b, 8, 2, 4);
  expect_bad(b, "version 2");
  b = base;
  b[90] ^= 1;  // without resealing: the header checksum catches it
  EXPECT_EQ(open_status(b), Q4R_E_MISMATCH);
  b = base;
  poke(b, 16, 48, 4);
  expect_bad(b, "alignment 48");
  b = base;
  poke(b, 20, 0xFFFFFFFF, 4);
  expect_bad(b, "directory");
  b = base;
  poke(b, 48, base.size() + 1, 8);
  expect_bad(b, "truncated or extended");
  b = base;
  poke(b, 40, 1ull << 40, 8);
  expect_bad(b, "data offset");
  b = base;
  poke(b, 100, 1, 1);
  expect_bad(b, "reserved");
  b = base;
  b[e0 + 200] ^= 1;  // directory byte without resealing: directory checksum
  EXPECT_EQ(open_status(b), Q4R_E_MISMATCH);
  b = base;
  poke(b, e0, 65, 4);
  expect_bad(b, "name length 65");
  b = base;
  poke(b, e0, 0, 4);
  expect_bad(b, "name length 0");
  b = base;
  poke(b, e0 + 68, 2, 4);
  expect_bad(b, "type 2");
  b = base;
  poke(b, e0 + 72, 4, 4);
  expect_bad(b, "layout 4");
  b = base;
  poke(b, e0 + 76, 77, 4);
  expect_bad(b, "ISA id");
  b = base;
  poke(b, e0 + 84, 4, 4);
  expect_bad(b, "4 dimensions");
  b = base;
  poke(b, e0 + 88, 100, 8);
  expect_bad(b, "shape");
  b = base;
  poke(b, e0 + 96, uint64_t(-1), 8);
  expect_bad(b, "shape");
  b = base;
  poke(b, e0 + 96, 1ull << 30, 8);
  expect_bad(b, "does not match its shape");
  b = base;
  poke(b, e0 + 120, 1ull << 50, 8);
  expect_bad(b, "outside the data");
  b = base;
  poke(b, e0 + 120, base.size() - 10, 8);
  expect_bad(b, "outside the data");
  b = base;
  // Second tensor moved onto the first.
  uint64_t first = 0;
  for (int i = 0; i < 8; ++i) first |= uint64_t(b[e0 + 120 + i]) << (8 * i);
  poke(b, e0 + 192 + 120, first, 8);
  expect_bad(b, "overlap");
  b = base;
  std::memcpy(&b[e0 + 192], &b[e0], 68);  // same name twice
  expect_bad(b, "duplicate tensor name");
  b = base;
  b[base.size() - 1] ^= 0xFF;  // data damage: only VERIFY reads the data
  EXPECT_EQ(open_status(b), Q4R_OK);
  EXPECT_EQ(open_status(b, Q4R_Q4P_VERIFY), Q4R_E_MISMATCH);
  EXPECT_EQ(open_status(base, 0x80), Q4R_E_ARGUMENT);
}

TEST(Q4pHostile, RequiredIsaThisCpuLacks) {
  auto b = sample_q4p();
  int lacking = -1;
  for (int isa = 0; isa < Q4R_ISA_COUNT; ++isa)
    if (!q4r_isa_available(q4r_isa(isa))) lacking = isa;
  ASSERT_GE(lacking, 0) << "some ISA of the other architecture is always unavailable";
  poke(b, 128 + 76, uint64_t(lacking), 4);
  expect_bad(b, "which this CPU cannot run", Q4R_E_ISA);
  // Packing with require_isa records the active ISA, which is available here.
  GgufFile g;
  ASSERT_EQ(g.open(golden_gguf("aligned64-q4_0").c_str()), Q4R_OK);
  const auto req = pack_buffer(g, Q4R_LAYOUT_8X8, 64, true);
  q4r_q4p* p = nullptr;
  ASSERT_EQ(q4r_q4p_open_buffer(req.data(), req.size(), 0, &p), Q4R_OK);
  q4r_q4p_tensor t;
  ASSERT_EQ(q4r_q4p_get_tensor(p, 0, &t), Q4R_OK);
  EXPECT_EQ(t.required_isa, q4r_active_isa());
  q4r_q4p_close(p);
}

TEST(Q4pHostile, TruncatedEverywhere) {
  const auto base = sample_q4p();
  for (size_t cut = 0; cut < base.size(); ++cut) {
    std::vector<uint8_t> b(base.begin(), base.begin() + cut);
    const q4r_status s = open_status(b);
    ASSERT_TRUE(s == Q4R_E_FORMAT || s == Q4R_E_MISMATCH) << "cut " << cut;
  }
  EXPECT_EQ(open_status({}), Q4R_E_FORMAT);
  q4r_q4p* p = nullptr;
  EXPECT_EQ(q4r_q4p_open_buffer(nullptr, 10, 0, &p), Q4R_E_NULL);
  EXPECT_EQ(q4r_q4p_open("/nonexistent.q4p", 0, &p), Q4R_E_IO);
  EXPECT_EQ(q4r_q4p_open("/nonexistent.q4p", 0, nullptr), Q4R_E_NULL);
  q4r_q4p_close(nullptr);
}

TEST(Q4pHostile, RandomMutationsNeverCrash) {
  const auto base = sample_q4p();
  std::mt19937 rng(5);
  for (int iter = 0; iter < 3000; ++iter) {
    auto b = base;
    for (int e = 0, n = 1 + rng() % 3; e < n; ++e) b[rng() % (128 + 4 * 192)] = uint8_t(rng());
    if (iter % 2) reseal(b);
    q4r_q4p* p = nullptr;
    const q4r_status s = q4r_q4p_open_buffer(b.data(), b.size(), Q4R_Q4P_VERIFY, &p);
    ASSERT_TRUE(s == Q4R_OK || s == Q4R_E_FORMAT || s == Q4R_E_MISMATCH || s == Q4R_E_ISA) << s;
    for (size_t i = 0; i < q4r_q4p_tensor_count(p); ++i) {
      q4r_q4p_tensor t;
      ASSERT_EQ(q4r_q4p_get_tensor(p, i, &t), Q4R_OK);
      ASSERT_LE(static_cast<const uint8_t*>(t.data) + t.size, b.data() + b.size());
    }
    q4r_q4p_close(p);
  }
}

TEST(Q4p, ChecksumIsStableAndSensitive) {
  std::vector<uint8_t> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t(i * 7);
  const uint64_t h = q4r_checksum64(v.data(), v.size());
  EXPECT_EQ(h, q4r_checksum64(v.data(), v.size()));
  for (size_t len : {0u, 1u, 7u, 8u, 31u, 32u, 33u, 999u}) {
    EXPECT_NE(q4r_checksum64(v.data(), len), q4r_checksum64(v.data(), len + 1)) << len;
  }
  for (size_t at : {0u, 5u, 31u, 32u, 500u, 999u}) {
    auto w = v;
    w[at] ^= 1;
    EXPECT_NE(q4r_checksum64(w.data(), w.size()), h) << at;
  }
}

}  // namespace
}  // namespace q4r::test
