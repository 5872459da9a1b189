// GGUF reader: the reference's own files (golden sidecars), files our writer makes, and corrupted
// variants of both (every one must give one clear Q4R_E_FORMAT error, never a crash).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf_writer.h"
#include "lib/format/fp16.h"
#include "lib/file/gguf.h"
#include "q4repack/q4repack.h"
#include "sha256.h"
#include "test_util.h"

namespace q4r::test {
namespace {

std::vector<std::vector<std::string>> read_tsv(const std::string& rel) {
  std::ifstream in(golden_dir() + "/" + rel);
  EXPECT_TRUE(in) << "missing " << rel;
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, '\t')) cols.push_back(c);
    rows.push_back(cols);
  }
  return rows;
}

struct GoldenFile {
  const char* stem;
  uint32_t seed;
  uint64_t n_kv, n_tensors, alignment, infos_end, data_offset, size;
};
const GoldenFile kGolden[] = {
    {"tiny-llama-q4_0", 101, 44, 21, 32, 4304, 4320, 312992},
    {"tiny-iq4_nl", 102, 24, 13, 32, 3170, 3200, 205888},
    {"aligned64-q4_0", 103, 3, 4, 64, 336, 384, 2048},
};

std::string kv_type_string(const GgufValue& v) {
  if (v.type == kGgufArray) return std::string("arr[") + gguf_type_name(v.elem_type) + "]";
  return gguf_type_name(v.type);
}

TEST(Gguf, GoldenFilesMatchSidecars) {
  for (const GoldenFile& g : kGolden) {
    SCOPED_TRACE(g.stem);
    GgufFile f;
    ASSERT_EQ(f.open((golden_dir() + "/gguf/" + g.stem + ".gguf").c_str()), Q4R_OK)
        << q4r_last_error();
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.size(), g.size);
    EXPECT_EQ(f.kvs.size(), g.n_kv);
    EXPECT_EQ(f.tensors.size(), g.n_tensors);
    EXPECT_EQ(f.alignment, g.alignment);
    EXPECT_EQ(f.infos_end, g.infos_end);
    EXPECT_EQ(f.data_offset, g.data_offset);

    const auto kv_rows = read_tsv(std::string("gguf/") + g.stem + ".kv.tsv");
    ASSERT_EQ(kv_rows.size(), f.kvs.size());
    for (size_t i = 0; i < kv_rows.size(); ++i) {
      const GgufKv& kv = f.kvs[i];
      ASSERT_EQ(kv_rows[i].size(), 4u);
      EXPECT_EQ(kv.key, kv_rows[i][0]);
      EXPECT_EQ(kv_type_string(kv.value), kv_rows[i][1]) << kv.key;
      EXPECT_EQ(std::to_string(kv.value.type == kGgufArray ? kv.value.count : 1), kv_rows[i][2])
          << kv.key;
      EXPECT_EQ(gguf_value_json(kv.value), kv_rows[i][3]) << kv.key;
      EXPECT_EQ(f.find(kv.key), &kv);
    }

    const auto t_rows = read_tsv(std::string("gguf/") + g.stem + ".tensors.tsv");
    ASSERT_EQ(t_rows.size(), f.tensors.size());
    for (size_t i = 0; i < t_rows.size(); ++i) {
      const GgufTensor& t = f.tensors[i];
      const auto& r = t_rows[i];
      ASSERT_EQ(r.size(), 11u);
      EXPECT_EQ(t.name, r[0]);
      ASSERT_TRUE(t.known_type);
      EXPECT_STREQ(ggml_type_name(t.type_id), r[1].c_str());
      EXPECT_EQ(std::to_string(t.type_id), r[2]);
      EXPECT_EQ(std::to_string(t.n_dims), r[3]);
      for (int d = 0; d < 4; ++d) EXPECT_EQ(std::to_string(t.ne[d]), r[4 + d]) << t.name;
      EXPECT_EQ(std::to_string(t.offset), r[8]);
      EXPECT_EQ(std::to_string(t.nbytes), r[9]);
      ASSERT_NE(t.data, nullptr);
      EXPECT_EQ(sha256_hex(t.data, t.nbytes), r[10]) << t.name;
      const bool q4 = r[1] == "q4_0" || r[1] == "iq4_nl";
      EXPECT_EQ(t.repackable, q4 && t.n_dims >= 2) << t.name << ": " << t.skip_reason;
    }
  }
}

TEST(Gguf, Sha256KnownAnswers) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string s56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(s56.data(), s56.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// The golden gguf MANIFEST's PRNG (section 2 / ../MANIFEST.md section 3), binary32 throughout.
struct Xorshift {
  uint32_t s;
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
  float u01() { return float(next() >> 8) * 5.9604644775390625e-8f; }
  float pm1() {
    volatile float t = 2.0f * u01();  // volatile: no fused multiply-add on any target
    return t - 1.0f;
  }
  float scale() {
    volatile float t = 1.99f * u01();
    return 0.01f + t;
  }
};

TEST(Gguf, OurQuantizersReproduceGoldenTensors) {
  int checked = 0;
  for (const GoldenFile& g : kGolden) {
    GgufFile f;
    ASSERT_EQ(f.open((golden_dir() + "/gguf/" + g.stem + ".gguf").c_str()), Q4R_OK);
    for (size_t i = 0; i < f.tensors.size(); ++i) {
      const GgufTensor& t = f.tensors[i];
      Xorshift rng{uint32_t(g.seed * 1000 + i)};
      const int64_t k = t.ne[0], rows = t.ne[1] * t.ne[2] * t.ne[3];
      std::vector<float> x(size_t(k * rows));
      for (int64_t r = 0; r < rows; ++r) {
        const float sc = rng.scale();
        for (int64_t j = 0; j < k; ++j) x[r * k + j] = rng.pm1() * sc;
      }
      std::vector<uint8_t> bytes;
      if (t.type_id == kGgmlTypeQ4_0 || t.type_id == kGgmlTypeIQ4_NL) {
        const q4r_type qt = t.type_id == kGgmlTypeQ4_0 ? Q4R_TYPE_Q4_0 : Q4R_TYPE_IQ4_NL;
        // One arena with a gap as large as x between source and destination: q4r_quantize's
        // overlap check (lib/api.cc) measures both extents with the larger size.
        std::vector<float> arena(x.size() * 2 + t.nbytes / 4 + 1);
        std::copy(x.begin(), x.end(), arena.begin());
        uint8_t* dst = reinterpret_cast<uint8_t*>(arena.data() + x.size() * 2);
        ASSERT_EQ(q4r_quantize(qt, arena.data(), rows, k, nullptr, dst, t.nbytes), Q4R_OK)
            << q4r_last_error();
        bytes.assign(dst, dst + t.nbytes);
      } else if (t.type_id == kGgmlTypeF32) {
        bytes.resize(x.size() * 4);
        std::memcpy(bytes.data(), x.data(), bytes.size());
      } else if (t.type_id == kGgmlTypeF16) {
        for (float v : x) {
          const uint16_t h = fp32_to_fp16(v);
          bytes.push_back(uint8_t(h)), bytes.push_back(uint8_t(h >> 8));
        }
      } else {
        continue;
      }
      EXPECT_EQ(sha256_hex(bytes.data(), bytes.size()), sha256_hex(t.data, t.nbytes))
          << g.stem << " " << t.name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 21 + 13 + 4);
}

TEST(Gguf, WeightShapes) {
  GgufFile f;
  ASSERT_EQ(f.open((golden_dir() + "/gguf/tiny-iq4_nl.gguf").c_str()), Q4R_OK);
  const auto shapes = gguf_weight_shapes(f);
  // k=32: 256 rows (ffn_down); k=256: rows 28, 32, 64 (token_embd), 96 (x2), 128 (x4 experts),
  // 256 (x2).
  ASSERT_EQ(shapes.size(), 7u);
  EXPECT_EQ(shapes[0].k, 32);
  EXPECT_EQ(shapes[0].rows, 256);
  EXPECT_EQ(shapes[0].count, 1);
  int64_t total = 0;
  for (const auto& s : shapes) {
    EXPECT_EQ(s.type, Q4R_TYPE_IQ4_NL);
    total += s.count;
    if (s.k == 256 && s.rows == 128) {
      EXPECT_EQ(s.count, 4);
    }
    if (s.k == 256 && s.rows == 96) {
      EXPECT_EQ(s.count, 2);
    }
  }
  EXPECT_EQ(total, 1 + 1 + 1 + 1 + 2 + 4 + 2);
}

// ---------------------------------------------------------------- files from our writer

std::vector<uint8_t> le(std::initializer_list<uint64_t> vals, int bytes) {
  std::vector<uint8_t> out;
  for (uint64_t v : vals)
    for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
  return out;
}

GgufWriter rich_writer(uint32_t version, uint32_t alignment) {
  GgufWriter w(version, alignment);
  if (alignment != 32) w.kv_u32("general.alignment", alignment);
  w.kv_string("general.architecture", "llama");
  w.kv_scalar("t.u8", kGgufU8, 200);
  w.kv_scalar("t.i8", kGgufI8, uint64_t(uint8_t(-5)));
  w.kv_scalar("t.u16", kGgufU16, 60000);
  w.kv_scalar("t.i16", kGgufI16, uint64_t(uint16_t(-300)));
  w.kv_i32("t.i32", -70000);
  w.kv_f32("t.f32", 0.1f);
  w.kv_bool("t.bool", true);
  w.kv_u64("t.u64", ~0ull);
  w.kv_scalar("t.i64", kGgufI64, uint64_t(-1));
  double d = -2.5;
  uint64_t db;
  std::memcpy(&db, &d, 8);
  w.kv_scalar("t.f64", kGgufF64, db);
  w.kv_array("t.arr_i32", kGgufI32, 3, le({1, 2, uint32_t(-3)}, 4));
  w.kv_string_array("t.arr_str", {"a", "", "\xE2\x9C\x93"});
  // Array of two arrays: [[1, 2], ["x"]].
  std::vector<uint8_t> nested;
  GgufWriter::put_u32(nested, kGgufArray);
  GgufWriter::put_u64(nested, 2);
  GgufWriter::put_u32(nested, kGgufU8);
  GgufWriter::put_u64(nested, 2);
  nested.push_back(1), nested.push_back(2);
  GgufWriter::put_u32(nested, kGgufString);
  GgufWriter::put_u64(nested, 1);
  GgufWriter::put_string(nested, "x");
  w.kv_raw("t.nested", kGgufArray, nested);
  const auto q4 = random_q4_blocks(12, 64, 7);
  w.tensor("w.q4_0", kGgmlTypeQ4_0, {64, 12}, q4);
  w.tensor("w.bias", kGgmlTypeF32, {5}, std::vector<uint8_t>(20, 0x3f));
  w.tensor("w.exps", kGgmlTypeIQ4_NL, {64, 8, 3}, random_q4_blocks(24, 64, 8));
  w.tensor("w.unknown", 1000, {16, 16}, std::vector<uint8_t>(77, 1));  // size unknown to readers
  return w;
}

TEST(Gguf, WriterRoundTripV2V3AndAlignments) {
  for (uint32_t version : {2u, 3u}) {
    for (uint32_t alignment : {32u, 64u, 4096u, 1u}) {
      SCOPED_TRACE(testing::Message() << "v" << version << " align " << alignment);
      const GgufWriter w = rich_writer(version, alignment);
      const auto bytes = w.bytes();
      GgufFile f;
      ASSERT_EQ(f.parse(bytes.data(), bytes.size()), Q4R_OK) << q4r_last_error();
      EXPECT_EQ(f.version, version);
      EXPECT_EQ(f.alignment, alignment);
      EXPECT_EQ(f.data_offset, w.data_offset());
      EXPECT_EQ(f.infos_end, w.infos_end());
      auto json = [&](const char* key) {
        const GgufKv* kv = f.find(key);
        return kv ? gguf_value_json(kv->value) : std::string("missing");
      };
      EXPECT_EQ(json("t.u8"), "200");
      EXPECT_EQ(json("t.i8"), "-5");
      EXPECT_EQ(json("t.u16"), "60000");
      EXPECT_EQ(json("t.i16"), "-300");
      EXPECT_EQ(json("t.i32"), "-70000");
      EXPECT_EQ(json("t.f32"), "0.10000000149011612");
      EXPECT_EQ(json("t.bool"), "true");
      EXPECT_EQ(json("t.u64"), "18446744073709551615");
      EXPECT_EQ(json("t.i64"), "-1");
      EXPECT_EQ(json("t.f64"), "-2.5");
      EXPECT_EQ(json("t.arr_i32"), "[1, 2, -3]");
      EXPECT_EQ(json("t.arr_str"), "[\"a\", \"\", \"\xE2\x9C\x93\"]");
      EXPECT_EQ(json("t.nested"), "[[1, 2], [\"x\"]]");
      ASSERT_EQ(f.tensors.size(), 4u);
      EXPECT_TRUE(f.tensors[0].repackable);
      EXPECT_EQ(f.tensors[0].rows, 12);
      EXPECT_EQ(f.tensors[0].k, 64);
      EXPECT_EQ(f.tensors[0].matrices, 1);
      EXPECT_FALSE(f.tensors[1].repackable);
      EXPECT_TRUE(f.tensors[2].repackable);
      EXPECT_EQ(f.tensors[2].q4type, Q4R_TYPE_IQ4_NL);
      EXPECT_EQ(f.tensors[2].matrices, 3);
      EXPECT_EQ(f.tensors[2].rows, 8);
      // Unknown type: listed, not touched.
      EXPECT_FALSE(f.tensors[3].known_type);
      EXPECT_FALSE(f.tensors[3].repackable);
      EXPECT_EQ(f.tensors[3].data, nullptr);
      EXPECT_EQ(f.tensors[3].shape_string(), "[16, 16]");
      for (size_t i = 0; i < 3; ++i)
        EXPECT_EQ(f.tensors[i].data, bytes.data() + w.data_offset() + w.tensor_data_offset(i));
    }
  }
}

TEST(Gguf, FloatJsonForms) {
  GgufWriter w;
  const double vals[] = {1.0, 1e16, 1e15, 123.456, 1e-5, 0.0001, -0.0, 5e-324, 1e300, 0.5};
  const char* want[] = {
      "1.0",    "1e+16", "1000000000000000.0", "123.456", "1e-05", "0.0001", "-0.0", "5e-324",
      "1e+300", "0.5"};
  for (size_t i = 0; i < 10; ++i) {
    uint64_t b;
    std::memcpy(&b, &vals[i], 8);
    w.kv_scalar("f" + std::to_string(i), kGgufF64, b);
  }
  const auto bytes = w.bytes();
  GgufFile f;
  ASSERT_EQ(f.parse(bytes.data(), bytes.size()), Q4R_OK);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(gguf_value_json(f.kvs[i].value), want[i]);
}

// ---------------------------------------------------------------- corrupted files

// Expects a clean Q4R_E_FORMAT whose message contains `needle`.
void expect_bad(const std::vector<uint8_t>& bytes, const std::string& needle) {
  GgufFile f;
  const q4r_status s = f.parse(bytes.data(), bytes.size());
  EXPECT_EQ(s, Q4R_E_FORMAT) << "accepted a file that should fail with: " << needle;
  EXPECT_NE(std::string(q4r_last_error()).find(needle), std::string::npos)
      << "message: " << q4r_last_error() << "\nexpected to contain: " << needle;
  EXPECT_TRUE(f.tensors.empty());
}

void poke64(std::vector<uint8_t>& b, uint64_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void poke32(std::vector<uint8_t>& b, uint64_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

TEST(GgufCorrupt, TruncatedAnywhereInTheMetadataAndData) {
  for (const GoldenFile& g : kGolden) {
    std::ifstream in(golden_dir() + "/gguf/" + g.stem + ".gguf", std::ios::binary);
    const std::vector<uint8_t> full{std::istreambuf_iterator<char>(in), {}};
    ASSERT_EQ(full.size(), g.size);
    GgufFile ref;
    ASSERT_EQ(ref.parse(full.data(), full.size()), Q4R_OK);
    uint64_t data_end = 0;
    for (const auto& t : ref.tensors) data_end = std::max(data_end, t.offset + t.nbytes);
    data_end += ref.data_offset;
    // Every cut in the header, KVs and tensor infos; a stride through the data.
    for (uint64_t cut = 0; cut < full.size(); cut += cut < g.data_offset + 64 ? 1 : 997) {
      std::vector<uint8_t> part(full.begin(), full.begin() + cut);
      GgufFile f;
      const q4r_status s = f.parse(part.data(), part.size());
      if (cut < data_end) {
        ASSERT_EQ(s, Q4R_E_FORMAT) << g.stem << " cut at " << cut;
        ASSERT_NE(std::string(q4r_last_error()).find("byte"), std::string::npos)
            << q4r_last_error();
      }
    }
  }
}

TEST(GgufCorrupt, Header) {
  auto base = small_q4_gguf(8, 64);
  auto b = base;
  b[0] = 'X';
  expect_bad(b, "not a GGUF file");
  b = base;
  poke32(b, 4, 1);
  expect_bad(b, "version 1");
  poke32(b, 4, 0x03000000u);
  expect_bad(b, "big-endian");
  poke32(b, 4, 4);
  expect_bad(b, "version 4");
  b = base;
  poke64(b, 8, ~0ull);
  expect_bad(b, "tensor count");
  b = base;
  poke64(b, 16, uint64_t(1) << 62);
  expect_bad(b, "KV count");
  b = base;
  poke64(b, 16, 3);  // one KV more than there is: the tensor info is read as a KV
  GgufFile f;
  EXPECT_EQ(f.parse(b.data(), b.size()), Q4R_E_FORMAT);
  expect_bad(std::vector<uint8_t>(base.begin(), base.begin() + 10), "24-byte");
}

TEST(GgufCorrupt, Metadata) {
  GgufWriter w;
  w.kv_string("a", "hello");
  w.kv_u32("b", 7);
  w.tensor("t", kGgmlTypeF32, {4}, std::vector<uint8_t>(16));
  const auto base = w.bytes();
  const uint64_t kv0 = w.kv_offset(0), kv1 = w.kv_offset(1);
  auto b = base;
  poke64(b, kv0, ~0ull - 3);  // key length
  expect_bad(b, "key of KV 0");
  b = base;
  poke64(b, kv0 + 8 + 1 + 4, uint64_t(1) << 40);  // string value length
  expect_bad(b, "value of key 'a'");
  b = base;
  poke32(b, kv0 + 8 + 1, 13);  // value type
  expect_bad(b, "value type 13");
  b = base;
  b[kv0 + 8] = 0xC3;  // key "a" -> a lone UTF-8 lead byte
  expect_bad(b, "not valid UTF-8");
  b = base;
  b[kv1 + 8] = 'a';  // key "b" -> "a"
  expect_bad(b, "duplicate key 'a'");
  b = base;
  poke64(b, kv0, 0);  // empty key: the next bytes are read as the type, then garbage
  GgufFile f;
  EXPECT_EQ(f.parse(b.data(), b.size()), Q4R_E_FORMAT);

  GgufWriter a;
  a.kv_array("arr", kGgufU32, 3, le({1, 2, 3}, 4));
  auto ab = a.bytes();
  const uint64_t arr = a.kv_offset(0) + 8 + 3 + 4;  // elem type, then count
  auto c = ab;
  poke64(c, arr + 4, ~0ull / 2);
  expect_bad(c, "array of");
  c = ab;
  poke32(c, arr, 77);
  expect_bad(c, "array element type 77");
  c = ab;
  poke32(c, arr, kGgufBool);  // bytes 01 00 00 00 02 ... -> bool 2 is invalid
  poke64(c, arr + 4, 12);
  c[arr + 12 + 4] = 2;
  expect_bad(c, "bool array element");

  GgufWriter bw;
  bw.kv_scalar("flag", kGgufBool, 5);
  expect_bad(bw.bytes(), "bool value 5");
}

TEST(GgufCorrupt, NestedArrays) {
  // 8 levels are fine, 9 are not; and a huge inner count is caught.
  auto nest = [](int levels, uint64_t inner_count) {
    std::vector<uint8_t> v;
    for (int i = 1; i < levels; ++i) {
      GgufWriter::put_u32(v, kGgufArray);
      GgufWriter::put_u64(v, 1);
    }
    GgufWriter::put_u32(v, kGgufU8);
    GgufWriter::put_u64(v, inner_count);
    v.push_back(42);
    GgufWriter w;
    w.kv_raw("deep", kGgufArray, v);
    return w.bytes();
  };
  GgufFile f;
  auto ok = nest(8, 1);
  ASSERT_EQ(f.parse(ok.data(), ok.size()), Q4R_OK) << q4r_last_error();
  EXPECT_EQ(gguf_value_json(f.kvs[0].value), "[[[[[[[[42]]]]]]]]");
  expect_bad(nest(9, 1), "nested deeper");
  expect_bad(nest(3, uint64_t(1) << 60), "array of");
}

GgufWriter two_tensor_writer() {
  GgufWriter w;
  w.kv_u32("x", 1);
  w.tensor("first", kGgmlTypeQ4_0, {64, 4}, random_q4_blocks(4, 64, 1));
  w.tensor("second", kGgmlTypeF32, {8, 2}, std::vector<uint8_t>(64, 0));
  return w;
}

TEST(GgufCorrupt, TensorInfos) {
  const GgufWriter w = two_tensor_writer();
  const auto base = w.bytes();
  const uint64_t t0 = w.tensor_info_offset(0), t1 = w.tensor_info_offset(1);
  const uint64_t t0_dims = t0 + 8 + 5, t0_type = t0_dims + 4 + 16, t0_off = t0_type + 4;
  const uint64_t t1_dims = t1 + 8 + 6, t1_off = t1_dims + 4 + 16 + 4;
  auto b = base;
  poke64(b, t0, 65);  // name length 65: reads into the next fields, still too long
  expect_bad(b, "longer than 64 bytes");
  b = base;
  poke64(b, t0, 1ull << 50);
  expect_bad(b, "name of tensor 0");
  b = base;
  std::memcpy(&b[t1 + 8], "first\0", 6);  // "second" -> "first\0": different, fine
  GgufFile f;
  EXPECT_EQ(f.parse(b.data(), b.size()), Q4R_OK);
  poke64(b, t1, 5);  // now the name is exactly "first": a duplicate ... and misaligned after it
  EXPECT_EQ(f.parse(b.data(), b.size()), Q4R_E_FORMAT);
  b = base;
  poke32(b, t0_dims, 5);
  expect_bad(b, "5 dimensions");
  b = base;
  poke32(b, t0_dims, 0);
  expect_bad(b, "0 dimensions");
  b = base;
  poke64(b, t0_dims + 4, uint64_t(-64));
  expect_bad(b, "negative");
  b = base;
  poke64(b, t0_dims + 4 + 8, uint64_t(1) << 62);  // 64 * 2^62 overflows int64
  expect_bad(b, "overflow");
  b = base;
  poke64(b, t0_dims + 4, 48);
  expect_bad(b, "not a multiple of the q4_0 block size 32");
  {
    // ne0 = 0 makes the element count 0 whatever the other dimensions are; their product, the row
    // count, must still fit in int64 (found by the gguf fuzzer: the converter multiplied it).
    GgufWriter z;
    z.tensor("empty", kGgmlTypeQ4_0, {0, int64_t{1} << 32, int64_t{1} << 30}, {});  // 2^62 rows
    GgufFile ok;
    ASSERT_EQ(ok.parse(z.bytes().data(), z.bytes().size()), Q4R_OK) << q4r_last_error();
    GgufWriter o;
    o.tensor("empty", 31, {0, int64_t{1} << 32, int64_t{1} << 31, 2}, {});
    expect_bad(o.bytes(), "row count overflow");
  }
  b = base;
  poke32(b, t0_type, 999);  // unknown type: listed, not an error
  ASSERT_EQ(f.parse(b.data(), b.size()), Q4R_OK) << q4r_last_error();
  EXPECT_FALSE(f.tensors[0].known_type);
  EXPECT_EQ(f.tensors[0].skip_reason, "type unknown is not q4_0 or iq4_nl");
  b = base;
  poke64(b, t0_off, 16);
  expect_bad(b, "not a multiple of the alignment 32");
  b = base;
  poke64(b, t1_off, 0);  // both tensors at 0
  expect_bad(b, "overlap");
  b = base;
  poke64(b, t1_off, 1 << 20);
  expect_bad(b, "runs past the end");
  b = base;
  poke64(b, t1_off, ~0ull - 31);  // aligned, offset + size overflows
  expect_bad(b, "runs past the end");
  b = base;
  b.resize(w.data_offset() - 1);
  expect_bad(b, "data section would start");
}

TEST(GgufCorrupt, Alignment) {
  for (uint32_t a : {0u, 3u, 48u}) {
    GgufWriter w;
    w.kv_u32("general.alignment", a);
    expect_bad(w.bytes(), "not a power of two");
  }
  GgufWriter w;
  w.kv_u64("general.alignment", 64);
  expect_bad(w.bytes(), "expected u32");
}

TEST(GgufCorrupt, RandomMutationsNeverCrash) {
  const auto base = rich_writer(3, 64).bytes();
  std::mt19937 rng(123);
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    auto b = base;
    const int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % std::min<size_t>(b.size(), 700);  // the metadata part
      switch (rng() % 3) {
        case 0:
          b[at] = uint8_t(rng());
          break;
        case 1:
          b[at] ^= uint8_t(1u << (rng() % 8));
          break;
        default:
          b[at] = rng() % 2 ? 0xFF : 0x00;
      }
    }
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    GgufFile f;
    const q4r_status s = f.parse(b.data(), b.size());
    ASSERT_TRUE(s == Q4R_OK || s == Q4R_E_FORMAT);
    if (s == Q4R_OK) {
      ++accepted;
      for (const auto& kv : f.kvs) (void)gguf_value_json(kv.value);
      for (const auto& t : f.tensors)
        if (t.data) {
          ASSERT_LE(t.data + t.nbytes, b.data() + b.size());
        }
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(Gguf, OpenErrors) {
  GgufFile f;
  EXPECT_EQ(f.open("/nonexistent/file.gguf"), Q4R_E_IO);
  EXPECT_NE(std::string(q4r_last_error()).find("/nonexistent/file.gguf"), std::string::npos);
  EXPECT_EQ(f.open("/tmp"), Q4R_E_IO);
}

}  // namespace
}  // namespace q4r::test

// ---------------------------------------------------------------- the tool on files

namespace q4r::test {
namespace {

// Runs the q4repack tool; returns its exit code and puts stdout+stderr into *out.
int run_tool(const std::string& args, std::string* out) {
  const std::string tool = Q4R_TOOL_PATH;
  if (tool.empty()) return -1;
  FILE* p = popen((tool + " " + args + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  out->clear();
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(GgufTool, InspectPackValidate) {
  std::string probe;
  if (std::string(Q4R_TOOL_PATH).empty() || run_tool("--version", &probe) != 0) {
    GTEST_SKIP() << "the q4repack tool is not built or cannot run here (cross build?)";
  }
  const std::string g = golden_dir() + "/gguf/";
  const std::string tmp = "/tmp/q4r_gguf_tool_" + std::to_string(getpid());
  std::string out;
  ASSERT_EQ(run_tool("inspect " + g + "tiny-iq4_nl.gguf --json " + tmp + ".json", &out), 0) << out;
  EXPECT_NE(out.find("blk.0.ffn_gate_exps.weight"), std::string::npos);
  EXPECT_NE(out.find("yes -> "), std::string::npos);
  EXPECT_NE(out.find("9 of 13 tensors repackable"), std::string::npos) << out;
  ASSERT_EQ(
      run_tool("validate " + g + "tiny-llama-q4_0.gguf --layout all --json " + tmp + ".json", &out),
      0)
      << out;
  EXPECT_NE(out.find("16 ok, 0 mismatched"), std::string::npos) << out;
  ASSERT_EQ(run_tool("validate " + g + "aligned64-q4_0.gguf --inplace --layout all", &out), 0)
      << out;
  ASSERT_EQ(
      run_tool("validate " + g + "aligned64-q4_0.gguf --inplace --layout all --threads 3", &out), 0)
      << out;
  // Repack threads change nothing in the output file.
  for (const char* threads : {"1", "3"}) {
    ASSERT_EQ(run_tool("pack " + g + "tiny-llama-q4_0.gguf " + tmp + threads + ".q4p --threads " +
                           threads,
                       &out),
              0)
        << out;
  }
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(slurp(tmp + "1.q4p"), slurp(tmp + "3.q4p"));
  EXPECT_FALSE(slurp(tmp + "1.q4p").empty());
  std::remove((tmp + "1.q4p").c_str());
  std::remove((tmp + "3.q4p").c_str());
  EXPECT_EQ(run_tool("pack " + g + "tiny-llama-q4_0.gguf " + tmp + ".q4p --threads -2", &out), 2);
  ASSERT_EQ(run_tool("pack " + g + "tiny-iq4_nl.gguf " + tmp + ".q4p --layout 4x8", &out), 0)
      << out;
  ASSERT_EQ(run_tool("validate " + tmp + ".q4p " + g + "tiny-iq4_nl.gguf", &out), 0) << out;
  EXPECT_NE(out.find("9 ok, 0 mismatched"), std::string::npos) << out;
  // The wrong GGUF for the .q4p, and a damaged GGUF: exit 2 with one clear message.
  EXPECT_EQ(run_tool("validate " + tmp + ".q4p " + g + "tiny-llama-q4_0.gguf", &out), 2);
  EXPECT_NE(out.find("not the source GGUF"), std::string::npos) << out;
  auto bytes = small_q4_gguf(4, 64);
  bytes[16] = 0xFF;  // KV count
  std::FILE* f = std::fopen((tmp + ".gguf").c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  EXPECT_EQ(run_tool("inspect " + tmp + ".gguf", &out), 2);
  EXPECT_NE(out.find("KV count"), std::string::npos) << out;
  for (const char* ext : {".json", ".q4p", ".gguf"}) std::remove((tmp + ext).c_str());
}

}  // namespace
}  // namespace q4r::test
