#include "gguf.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_set>

#include "lib/error.h"

namespace q4r {
namespace {

constexpr uint64_t kHeaderBytes = 24;        // magic, version, n_tensors, n_kv
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;  // empty key is rejected, but bound generously
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name len, n_dims, ne0, type, offset
constexpr int kMaxArrayDepth = 8;       // nested arrays deeper than this are rejected
constexpr uint64_t kMaxNameBytes = 64;  // GGUF spec: tensor names are at most 64 bytes
constexpr int kMaxDims = 4;

struct TypeInfo {
  const char* name;
  int block_values;
  int block_bytes;
};
// GGML tensor types by id; {nullptr} marks ids that are unused or were removed from GGML.
const TypeInfo kGgmlTypes[] = {
    {"f32", 1, 4},          {"f16", 1, 2},        {"q4_0", 32, 18},     {"q4_1", 32, 20},
    {nullptr, 0, 0},        {nullptr, 0, 0},      {"q5_0", 32, 22},     {"q5_1", 32, 24},
    {"q8_0", 32, 34},       {"q8_1", 32, 36},     {"q2_K", 256, 84},    {"q3_K", 256, 110},
    {"q4_K", 256, 144},     {"q5_K", 256, 176},   {"q6_K", 256, 210},   {"q8_K", 256, 292},
    {"iq2_xxs", 256, 66},   {"iq2_xs", 256, 74},  {"iq3_xxs", 256, 98}, {"iq1_s", 256, 50},
    {"iq4_nl", 32, 18},     {"iq3_s", 256, 110},  {"iq2_s", 256, 82},   {"iq4_xs", 256, 136},
    {"i8", 1, 1},           {"i16", 1, 2},        {"i32", 1, 4},        {"i64", 1, 8},
    {"f64", 1, 8},          {"iq1_m", 256, 56},   {"bf16", 1, 2},       {"q4_0_4x4", 32, 18},
    {"q4_0_4x8", 32, 18},   {"q4_0_8x8", 32, 18}, {"tq1_0", 256, 54},   {"tq2_0", 256, 66},
    {"iq4_nl_4x4", 32, 18}, {nullptr, 0, 0},      {nullptr, 0, 0},      {"mxfp4", 32, 17},
};
constexpr uint32_t kGgmlTypeCount = sizeof kGgmlTypes / sizeof kGgmlTypes[0];

bool valid_value_type(uint32_t type) {
  return type <= kGgufF64;
}

uint64_t load_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Scalar payload as GgufValue::bits: signed types sign-extended.
uint64_t scalar_bits(uint32_t type, const uint8_t* p) {
  const uint64_t raw = load_le(p, gguf_scalar_size(type));
  switch (type) {
    case kGgufI8:
      return static_cast<uint64_t>(int64_t(int8_t(raw)));
    case kGgufI16:
      return static_cast<uint64_t>(int64_t(int16_t(raw)));
    case kGgufI32:
      return static_cast<uint64_t>(int64_t(int32_t(raw)));
    default:
      return raw;
  }
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= static_cast<std::size_t>(extra)) return false;
    for (int j = 1; j <= extra; ++j) {
      const auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not UTF-8.
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// Sequential little-endian reader over [base, base + size) with checked reads. Offsets in error
// messages are file offsets: `origin` is the file offset of base.
class Reader {
 public:
  Reader(const uint8_t* base, uint64_t size, uint64_t pos, uint64_t origin = 0)
      : base_(base), size_(size), pos_(pos), origin_(origin) {}

  uint64_t pos() const { return pos_; }
  uint64_t file_pos() const { return origin_ + pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return base_ + pos_; }

  q4r_status need(uint64_t bytes, const char* what) {
    if (bytes > remaining()) {
      return fail(Q4R_E_FORMAT,
                  "gguf: %s at byte %" PRIu64 " needs %" PRIu64
                  " bytes but the file ends after %" PRIu64,
                  what, file_pos(), bytes, remaining());
    }
    return Q4R_OK;
  }
  q4r_status u32(uint32_t* out, const char* what) {
    if (q4r_status s = need(4, what)) return s;
    *out = static_cast<uint32_t>(load_le(here(), 4));
    pos_ += 4;
    return Q4R_OK;
  }
  q4r_status u64(uint64_t* out, const char* what) {
    if (q4r_status s = need(8, what)) return s;
    *out = load_le(here(), 8);
    pos_ += 8;
    return Q4R_OK;
  }
  q4r_status string(std::string_view* out, const char* what) {
    const uint64_t at = file_pos();
    uint64_t len;
    if (q4r_status s = u64(&len, what)) return s;
    if (len > remaining()) {
      return fail(Q4R_E_FORMAT,
                  "gguf: %s at byte %" PRIu64 " has length %" PRIu64 " but only %" PRIu64
                  " bytes follow",
                  what, at, len, remaining());
    }
    *out = std::string_view(reinterpret_cast<const char*>(here()), static_cast<std::size_t>(len));
    pos_ += len;
    return Q4R_OK;
  }
  void skip(uint64_t bytes) { pos_ += bytes; }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_;
  uint64_t origin_;
};

// Parses one value of `type` at the reader's position. `what` names it for messages.
q4r_status parse_value(Reader& r, uint32_t type, int depth, const char* what, GgufValue* out) {
  out->type = type;
  const uint64_t at = r.file_pos();
  if (const int size = gguf_scalar_size(type)) {
    if (q4r_status s = r.need(size, what)) return s;
    out->bits = scalar_bits(type, r.here());
    if (type == kGgufBool && out->bits > 1) {
      return fail(Q4R_E_FORMAT,
                  "gguf: %s at byte %" PRIu64 ": bool value %" PRIu64 " is not 0 or 1", what, at,
                  out->bits);
    }
    r.skip(size);
    return Q4R_OK;
  }
  if (type == kGgufString) return r.string(&out->str, what);
  if (type != kGgufArray) {
    return fail(Q4R_E_FORMAT,
                "gguf: %s at byte %" PRIu64 ": value type %u is not a GGUF type (0..12)", what, at,
                type);
  }
  if (depth >= kMaxArrayDepth) {
    return fail(Q4R_E_FORMAT, "gguf: %s at byte %" PRIu64 ": arrays nested deeper than %d levels",
                what, at, kMaxArrayDepth);
  }
  if (q4r_status s = r.u32(&out->elem_type, what)) return s;
  if (!valid_value_type(out->elem_type)) {
    return fail(Q4R_E_FORMAT,
                "gguf: %s at byte %" PRIu64 ": array element type %u is not a GGUF type (0..12)",
                what, at, out->elem_type);
  }
  const uint64_t count_at = r.file_pos();
  if (q4r_status s = r.u64(&out->count, what)) return s;
  // Every element takes at least this many bytes, so the count is bounded by the bytes left.
  const int elem_size = gguf_scalar_size(out->elem_type);
  const uint64_t min_elem = elem_size ? elem_size : out->elem_type == kGgufString ? 8 : 12;
  if (out->count > r.remaining() / min_elem) {
    return fail(
        Q4R_E_FORMAT,
        "gguf: %s at byte %" PRIu64 ": array of %" PRIu64 " %s elements needs at least %" PRIu64
        " bytes per element but only %" PRIu64 " bytes follow",
        what, count_at, out->count, gguf_type_name(out->elem_type), min_elem, r.remaining());
  }
  out->elems = r.here();
  if (elem_size) {
    if (out->elem_type == kGgufBool) {
      for (uint64_t i = 0; i < out->count; ++i) {
        if (out->elems[i] > 1) {
          return fail(Q4R_E_FORMAT,
                      "gguf: %s at byte %" PRIu64 ": bool array element %" PRIu64
                      " is %u, not 0 or 1",
                      what, r.file_pos() + i, i, out->elems[i]);
        }
      }
    }
    r.skip(out->count * elem_size);
  } else {
    out->elem_offsets.reserve(static_cast<std::size_t>(out->count));
    for (uint64_t i = 0; i < out->count; ++i) {
      out->elem_offsets.push_back(static_cast<uint64_t>(r.here() - out->elems));
      GgufValue elem;  // validated now, decoded again by element()
      if (q4r_status s = parse_value(r, out->elem_type, depth + 1, what, &elem)) return s;
    }
  }
  out->end = r.here();
  return Q4R_OK;
}

// Python-style shortest round-trip form of a double ("1.0", "1e+300", "9.999999974752427e-07").
std::string float_json(double d) {
  if (std::isnan(d)) return "\"nan\"";
  if (std::isinf(d)) return d > 0 ? "\"inf\"" : "\"-inf\"";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // buf = [-]D[.DDD]e(+|-)XX
  std::string text(buf);
  std::string out = text[0] == '-' ? "-" : "";
  const std::size_t e = text.find('e');
  std::string digits;
  for (std::size_t i = out.size(); i < e; ++i)
    if (text[i] != '.') digits += text[i];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int exp = std::atoi(text.c_str() + e + 1);
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<std::size_t>(digits.size(), exp + 1));
      ip.append(exp + 1 - ip.size(), '0');
      const std::string fp = digits.size() > std::size_t(exp + 1) ? digits.substr(exp + 1) : "0";
      out += ip + "." + fp;
    } else {
      out += "0." + std::string(-exp - 1, '0') + digits;
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += ebuf;
  }
  return out;
}

std::string string_json(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

}  // namespace

// Size of a scalar GGUF value type; 0 for string, array and invalid ids.
int gguf_scalar_size(uint32_t type) {
  switch (type) {
    case kGgufU8:
    case kGgufI8:
    case kGgufBool:
      return 1;
    case kGgufU16:
    case kGgufI16:
      return 2;
    case kGgufU32:
    case kGgufI32:
    case kGgufF32:
      return 4;
    case kGgufU64:
    case kGgufI64:
    case kGgufF64:
      return 8;
    default:
      return 0;
  }
}

const char* gguf_type_name(uint32_t type) {
  static const char* const kNames[] = {"u8",   "i8",  "u16", "i16", "u32", "i32", "f32",
                                       "bool", "str", "arr", "u64", "i64", "f64"};
  return type <= kGgufF64 ? kNames[type] : "?";
}

const char* ggml_type_name(uint32_t type_id) {
  return type_id < kGgmlTypeCount ? kGgmlTypes[type_id].name : nullptr;
}

bool ggml_type_block(uint32_t type_id, int* block_values, int* block_bytes) {
  if (!ggml_type_name(type_id)) return false;
  *block_values = kGgmlTypes[type_id].block_values;
  *block_bytes = kGgmlTypes[type_id].block_bytes;
  return true;
}

bool ggml_type_weights(uint32_t type_id, q4r_type* type, q4r_layout* layout) {
  struct Entry {
    uint32_t id;
    q4r_type type;
    q4r_layout layout;
  };
  static const Entry kWeights[] = {
      {kGgmlTypeQ4_0, Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN},
      {kGgmlTypeIQ4_NL, Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_PLAIN},
      {kGgmlTypeQ4_0_4x4, Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4},
      {kGgmlTypeQ4_0_4x8, Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X8},
      {kGgmlTypeQ4_0_8x8, Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8},
      {kGgmlTypeIQ4_NL_4x4, Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4},
  };
  for (const Entry& e : kWeights) {
    if (e.id != type_id) continue;
    *type = e.type;
    *layout = e.layout;
    return true;
  }
  return false;
}

uint32_t ggml_plain_type(q4r_type type) {
  return type == Q4R_TYPE_IQ4_NL ? kGgmlTypeIQ4_NL : kGgmlTypeQ4_0;
}

double GgufValue::as_f64() const {
  if (type == kGgufF32) {
    float f;
    const uint32_t u = static_cast<uint32_t>(bits);
    std::memcpy(&f, &u, 4);
    return f;
  }
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

GgufValue GgufValue::element(uint64_t i) const {
  GgufValue v;
  if (type != kGgufArray || i >= count) return v;
  if (const int size = gguf_scalar_size(elem_type)) {
    v.type = elem_type;
    v.bits = scalar_bits(elem_type, elems + i * size);
    return v;
  }
  // Already validated by the parser: this cannot fail.
  Reader r(elems, static_cast<uint64_t>(end - elems), elem_offsets[i]);
  if (parse_value(r, elem_type, 0, "array element", &v) != Q4R_OK) return GgufValue();
  return v;
}

std::string GgufTensor::shape_string() const {
  std::string s = "[";
  for (uint32_t d = 0; d < std::max<uint32_t>(n_dims, 1); ++d) {
    if (d) s += ", ";
    s += std::to_string(ne[d]);
  }
  return s + "]";
}

std::string gguf_value_json(const GgufValue& v) {
  switch (v.type) {
    case kGgufU8:
    case kGgufU16:
    case kGgufU32:
    case kGgufU64:
      return std::to_string(v.as_u64());
    case kGgufI8:
    case kGgufI16:
    case kGgufI32:
    case kGgufI64:
      return std::to_string(v.as_i64());
    case kGgufF32:
    case kGgufF64:
      return float_json(v.as_f64());
    case kGgufBool:
      return v.as_bool() ? "true" : "false";
    case kGgufString:
      return string_json(v.str);
    case kGgufArray: {
      std::string out = "[";
      for (uint64_t i = 0; i < v.count; ++i) {
        if (i) out += ", ";
        out += gguf_value_json(v.element(i));
      }
      return out + "]";
    }
    default:
      return "null";
  }
}

q4r_status GgufFile::open(const char* path, MappedFile::Mode mode) {
  if (q4r_status s = file_.open(path, mode)) return s;
  if (q4r_status s = parse(file_.data(), file_.size())) {
    // Prefix the path so the one message says which file is bad.
    std::string msg = std::string(path) + ": " + q4r_last_error();
    file_.close();
    return fail(s, "%s", msg.c_str());
  }
  return Q4R_OK;
}

const GgufKv* GgufFile::find(std::string_view key) const {
  for (const GgufKv& kv : kvs)
    if (kv.key == key) return &kv;
  return nullptr;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  for (const GgufTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

// Fills the repack fields of a tensor whose shape and bytes were already checked.
void classify(GgufTensor& t) {
  const char* type_name = ggml_type_name(t.type_id);
  if (!ggml_type_weights(t.type_id, &t.q4type, &t.layout)) {
    if (t.type_id == 37 || t.type_id == 38) {
      t.skip_reason = "type " + std::to_string(t.type_id) +
                      " was never defined (iq4_nl_4x8 / iq4_nl_8x8 were only reserved)";
    } else if (t.type_id - kGgmlTypeConvertingBase < 64) {
      t.skip_reason =
          "damaged: left half converted by an interrupted `q4repack convert --in-place`";
    } else {
      t.skip_reason =
          std::string("type ") + (type_name ? type_name : "unknown") + " is not q4_0 or iq4_nl";
    }
    return;
  }
  if (t.n_dims < 2 || t.ne[3] != 1) {
    t.skip_reason = t.n_dims < 2 ? "1-D tensor" : "4-D tensor";
    return;
  }
  if (t.ne[0] <= 0 || t.ne[1] <= 0 || t.ne[2] <= 0) {
    t.skip_reason = "empty tensor";
    return;
  }
  constexpr int64_t kMaxDim = int64_t{1} << 31;  // the C API's limit for k and rows
  if (t.ne[0] >= kMaxDim || t.ne[1] >= kMaxDim) {
    t.skip_reason = "dimension too large for the kernels";
    return;
  }
  t.repackable = true;
  t.k = t.ne[0];
  t.rows = t.ne[1];
  t.matrices = t.ne[2];
}

}  // namespace

q4r_status GgufFile::parse(const uint8_t* data, std::size_t size) {
  version = 0;
  alignment = 32;
  infos_end = data_offset = 0;
  kvs.clear();
  tensors.clear();
  base_ = data;
  size_ = size;
  if (!data && size) return fail(Q4R_E_NULL, "gguf: buffer is NULL");
  if (size < kHeaderBytes) {
    return fail(Q4R_E_FORMAT, "gguf: file is %zu bytes, shorter than the 24-byte GGUF header",
                size);
  }
  if (std::memcmp(data, "GGUF", 4) != 0) {
    return fail(Q4R_E_FORMAT,
                "gguf: not a GGUF file: bytes 0..3 are %02x %02x %02x %02x, expected 'GGUF'",
                data[0], data[1], data[2], data[3]);
  }
  Reader r(data, size, 4);
  uint32_t ver;
  r.u32(&ver, "version");
  if (ver == 0x02000000u || ver == 0x03000000u) {
    return fail(Q4R_E_FORMAT,
                "gguf: version field at byte 4 is big-endian (%u): only "
                "little-endian GGUF is supported",
                ver >> 24);
  }
  if (ver != 2 && ver != 3) {
    return fail(Q4R_E_FORMAT, "gguf: version %u at byte 4 is not supported (only 2 and 3)", ver);
  }
  uint64_t n_tensors, n_kv;
  r.u64(&n_tensors, "tensor count");
  r.u64(&n_kv, "KV count");
  if (n_kv > r.remaining() / kMinKvBytes) {
    return fail(Q4R_E_FORMAT,
                "gguf: KV count %" PRIu64 " at byte 16 is impossible: %" PRIu64
                " bytes follow, a KV pair takes at least %" PRIu64,
                n_kv, r.remaining(), kMinKvBytes);
  }
  if (n_tensors > r.remaining() / kMinTensorInfoBytes) {
    return fail(Q4R_E_FORMAT,
                "gguf: tensor count %" PRIu64 " at byte 8 is impossible: %" PRIu64
                " bytes follow, a tensor info takes at least %" PRIu64,
                n_tensors, r.remaining(), kMinTensorInfoBytes);
  }

  // ---- metadata
  std::vector<GgufKv> kv_list;
  kv_list.reserve(static_cast<std::size_t>(n_kv));
  std::unordered_set<std::string_view> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKv kv;
    kv.offset = r.file_pos();
    char what[64];
    std::snprintf(what, sizeof what, "key of KV %" PRIu64, i);
    if (q4r_status s = r.string(&kv.key, what)) return s;
    if (kv.key.empty() || !valid_utf8(kv.key)) {
      return fail(Q4R_E_FORMAT, "gguf: key of KV %" PRIu64 " at byte %" PRIu64 " is %s", i,
                  kv.offset, kv.key.empty() ? "empty" : "not valid UTF-8");
    }
    if (!keys.insert(kv.key).second) {
      return fail(Q4R_E_FORMAT, "gguf: duplicate key '%.*s' (KV %" PRIu64 ") at byte %" PRIu64,
                  int(kv.key.size()), kv.key.data(), i, kv.offset);
    }
    uint32_t type;
    std::snprintf(what, sizeof what, "value type of KV %" PRIu64, i);
    if (q4r_status s = r.u32(&type, what)) return s;
    std::string vwhat = "value of key '" + std::string(kv.key.substr(0, 80)) + "'";
    if (q4r_status s = parse_value(r, type, 0, vwhat.c_str(), &kv.value)) return s;
    kv_list.push_back(std::move(kv));
  }
  for (const GgufKv& kv : kv_list) {
    if (kv.key != "general.alignment") continue;
    if (kv.value.type != kGgufU32) {
      return fail(Q4R_E_FORMAT,
                  "gguf: general.alignment (KV at byte %" PRIu64 ") has type %s, expected u32",
                  kv.offset, gguf_type_name(kv.value.type));
    }
    const uint64_t a = kv.value.as_u64();
    if (a == 0 || (a & (a - 1)) != 0) {
      return fail(Q4R_E_FORMAT,
                  "gguf: general.alignment = %" PRIu64 " (KV at byte %" PRIu64
                  ") is not a power of two",
                  a, kv.offset);
    }
    alignment = a;
  }

  // ---- tensor infos
  std::vector<GgufTensor> list;
  list.reserve(static_cast<std::size_t>(n_tensors));
  std::unordered_set<std::string_view> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.info_offset = r.file_pos();
    char what[64];
    std::snprintf(what, sizeof what, "name of tensor %" PRIu64, i);
    if (q4r_status s = r.string(&t.name, what)) return s;
    if (t.name.empty() || t.name.size() > kMaxNameBytes || !valid_utf8(t.name)) {
      return fail(Q4R_E_FORMAT, "gguf: name of tensor %" PRIu64 " at byte %" PRIu64 " is %s", i,
                  t.info_offset,
                  t.name.empty()                  ? "empty"
                  : t.name.size() > kMaxNameBytes ? "longer than 64 bytes"
                                                  : "not valid UTF-8");
    }
    const std::string tname(t.name);
    if (!names.insert(t.name).second) {
      return fail(Q4R_E_FORMAT,
                  "gguf: duplicate tensor name '%s' (tensor %" PRIu64 ") at byte %" PRIu64,
                  tname.c_str(), i, t.info_offset);
    }
    const uint64_t dims_at = r.file_pos();
    std::snprintf(what, sizeof what, "dimension count of tensor %" PRIu64, i);
    if (q4r_status s = r.u32(&t.n_dims, what)) return s;
    if (t.n_dims < 1 || t.n_dims > kMaxDims) {
      return fail(Q4R_E_FORMAT,
                  "gguf: tensor '%s' at byte %" PRIu64 ": %u dimensions (allowed 1..4)",
                  tname.c_str(), dims_at, t.n_dims);
    }
    // The element count and the row count (ne1 * ne2 * ne3) must both fit in int64: with a zero
    // ne0 the first does not bound the second, and readers of the rows multiply them.
    uint64_t elements = 1, rows = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      const uint64_t at = r.file_pos();
      uint64_t v;
      std::snprintf(what, sizeof what, "shape of tensor %" PRIu64, i);
      if (q4r_status s = r.u64(&v, what)) return s;
      if (v > uint64_t(INT64_MAX) || __builtin_mul_overflow(elements, v, &elements) ||
          elements > uint64_t(INT64_MAX) ||
          (d > 0 && (__builtin_mul_overflow(rows, v, &rows) || rows > uint64_t(INT64_MAX)))) {
        return fail(Q4R_E_FORMAT,
                    "gguf: tensor '%s': dimension %u at byte %" PRIu64 " (%" PRIu64
                    ") is negative or makes the element or row count overflow",
                    tname.c_str(), d, at, v);
      }
      t.ne[d] = static_cast<int64_t>(v);
    }
    std::snprintf(what, sizeof what, "type of tensor %" PRIu64, i);
    const uint64_t type_at = r.file_pos();
    if (q4r_status s = r.u32(&t.type_id, what)) return s;
    std::snprintf(what, sizeof what, "offset of tensor %" PRIu64, i);
    if (q4r_status s = r.u64(&t.offset, what)) return s;
    int bv = 0, bb = 0;
    t.known_type = ggml_type_block(t.type_id, &bv, &bb);
    if (t.known_type) {
      if (t.ne[0] % bv != 0) {
        return fail(Q4R_E_FORMAT,
                    "gguf: tensor '%s' (info at byte %" PRIu64 "): ne0 = %" PRId64
                    " is not a multiple of the %s block size %d",
                    tname.c_str(), t.info_offset, t.ne[0], ggml_type_name(t.type_id), bv);
      }
      // elements / bv * bb cannot overflow uint64: elements <= 2^63 and bb / bv <= 8.
      if (__builtin_mul_overflow(elements / bv, uint64_t(bb), &t.nbytes)) {
        return fail(Q4R_E_FORMAT, "gguf: tensor '%s': byte size overflows", tname.c_str());
      }
    }
    t.type_offset = type_at;
    q4r_type wtype;
    q4r_layout layout;
    if (ggml_type_weights(t.type_id, &wtype, &layout) && t.ne[1] % q4r_layout_rows(layout) != 0) {
      // The legacy writers interleaved whole groups of N rows of each matrix only.
      return fail(Q4R_E_FORMAT,
                  "gguf: tensor '%s' (info at byte %" PRIu64
                  "): type %s stores %s in %s row "
                  "groups, but its row count ne1 = %" PRId64 " is not a multiple of %d",
                  tname.c_str(), t.info_offset, ggml_type_name(t.type_id), q4r_type_name(wtype),
                  q4r_layout_name(layout), t.ne[1], q4r_layout_rows(layout));
    }
    list.push_back(std::move(t));
  }
  infos_end = r.file_pos();
  if (__builtin_add_overflow(infos_end, alignment - 1, &data_offset)) {
    return fail(Q4R_E_FORMAT, "gguf: data section offset overflows");
  }
  data_offset -= data_offset % alignment;
  if (data_offset > size) {
    if (n_tensors > 0) {
      return fail(Q4R_E_FORMAT,
                  "gguf: the data section would start at byte %" PRIu64
                  " (tensor infos end at %" PRIu64 ", alignment %" PRIu64
                  ") but the file has %zu bytes",
                  data_offset, infos_end, alignment, size);
    }
    data_offset = size;  // no tensors: a file may end right after its metadata
  }
  const uint64_t data_size = size - data_offset;

  // ---- tensor data: alignment, bounds, overlaps
  for (GgufTensor& t : list) {
    const std::string tname(t.name);
    if (t.offset % alignment != 0) {
      return fail(Q4R_E_FORMAT,
                  "gguf: tensor '%s' (info at byte %" PRIu64 "): data offset %" PRIu64
                  " is not a multiple of the alignment %" PRIu64,
                  tname.c_str(), t.info_offset, t.offset, alignment);
    }
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      return fail(Q4R_E_FORMAT,
                  "gguf: tensor '%s' (info at byte %" PRIu64 "): data [%" PRIu64 ", +%" PRIu64
                  ") at file byte %" PRIu64
                  " runs past the end of the file (data section has %" PRIu64 " bytes)",
                  tname.c_str(), t.info_offset, t.offset, t.nbytes, data_offset + t.offset,
                  data_size);
    }
    if (t.known_type) t.data = data + data_offset + t.offset;
    classify(t);
  }
  std::vector<const GgufTensor*> by_offset;
  by_offset.reserve(list.size());
  for (const GgufTensor& t : list)
    if (t.known_type && t.nbytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensor& a = *by_offset[i - 1];
    const GgufTensor& b = *by_offset[i];
    if (a.offset + a.nbytes > b.offset) {
      return fail(Q4R_E_FORMAT,
                  "gguf: tensors '%.*s' (data at %" PRIu64 ", %" PRIu64
                  " bytes) and '%.*s' (data at %" PRIu64 ") overlap",
                  int(a.name.size()), a.name.data(), a.offset, a.nbytes, int(b.name.size()),
                  b.name.data(), b.offset);
    }
  }
  version = ver;
  kvs = std::move(kv_list);
  tensors = std::move(list);
  return Q4R_OK;
}

std::vector<GgufWeightShape> gguf_weight_shapes(const GgufFile& file) {
  std::map<std::tuple<int, int64_t, int64_t>, int64_t> counts;
  for (const GgufTensor& t : file.tensors)
    if (t.repackable) counts[{int(t.q4type), t.k, t.rows}] += t.matrices;
  std::vector<GgufWeightShape> out;
  for (const auto& [key, count] : counts)
    out.push_back({q4r_type(std::get<0>(key)), std::get<2>(key), std::get<1>(key), count});
  return out;
}

}  // namespace q4r

extern "C" q4r_status q4r_gguf_type_info(uint32_t ggml_type, q4r_type* type, q4r_layout* layout) {
  using namespace q4r;
  clear_error();
  if (!type || !layout) return fail(Q4R_E_NULL, "type or layout is NULL");
  q4r_type t;
  q4r_layout l;
  if (ggml_type_weights(ggml_type, &t, &l)) {
    *type = t;
    *layout = l;
    return Q4R_OK;
  }
  if (ggml_type == 37 || ggml_type == 38) {
    return fail(Q4R_E_UNSUPPORTED,
                "GGML type %u was never defined (iq4_nl_4x8 / iq4_nl_8x8 were only reserved)",
                ggml_type);
  }
  const char* name = ggml_type_name(ggml_type);
  return fail(Q4R_E_UNSUPPORTED, "GGML type %u (%s) is not a q4_0 / iq4_nl weight type", ggml_type,
              name ? name : "unknown");
}
