#include "vs_ggml_options.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace q4r::bench {

namespace {

void usage(int code) {
  std::printf(
      "usage: q4repack_vs_ggml [options]\n"
      "Times GGML's CPU backend (plain CPU buffer and CPU_REPACK) and q4repack (plain and the\n"
      "preferred layout) alternately in one process, on the same weight bytes and activations.\n"
      "  --check             cross-check our outputs against GGML's on small shapes (every type,\n"
      "                      layout and available ISA) and exit 1 on a mismatch; no timing\n"
      "  --types LIST        q4_0,iq4_nl (default both)\n"
      "  --threads LIST      thread counts, default 1,2\n"
      "  --gemv LIST         M=1 shapes NxK:warm|cold, default 4096x4096:warm,14336x4096:cold\n"
      "  --gemm LIST         GEMM shapes NxK (warm), default 4096x4096\n"
      "  --m LIST            GEMM batch sizes, default 16,512\n"
      "  --isas LIST|all     our ISAs to time (default: the active one; all = every available\n"
      "                      one except scalar, which is 20-50x slower; name it to include it)\n"
      "  --all-isas          same as --isas all\n"
      "  --all-layouts       time every layout of ours, not only plain and the preferred one\n"
      "  --seconds S         timing budget per case, default 1.5 (at least --min-rounds rounds)\n"
      "  --min-rounds N      default 3\n"
      "  --cold-mib N        cold cases: each variant cycles through weight copies totalling at\n"
      "                      least N MiB (default 512); all variants together stream far more\n"
      "                      than the last-level cache between two uses of a copy\n"
      "  --json FILE         write the results as JSON\n"
      "  --note TEXT         recorded in the JSON (e.g. the commit)\n");
  std::exit(code);
}

[[noreturn]] void bad(const std::string& what) {
  std::fprintf(stderr, "q4repack_vs_ggml: %s (see --help)\n", what.c_str());
  std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  if (out.empty()) bad("empty list");
  return out;
}

int64_t positive(const std::string& s) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end || v <= 0) bad("not a positive integer: " + s);
  return v;
}

// "NxK" (and an optional ":warm" / ":cold" when `cache` is given).
void parse_shape(const std::string& s, int64_t* n, int64_t* k, bool* cold) {
  std::string shape = s;
  if (cold) {
    const auto colon = s.find(':');
    if (colon == std::string::npos) bad("shape needs :warm or :cold: " + s);
    const std::string cache = s.substr(colon + 1);
    if (cache != "warm" && cache != "cold") bad("cache must be warm or cold: " + s);
    *cold = cache == "cold";
    shape = s.substr(0, colon);
  }
  const auto x = shape.find('x');
  if (x == std::string::npos) bad("shape is not NxK: " + s);
  *n = positive(shape.substr(0, x));
  *k = positive(shape.substr(x + 1));
  if (*k % 32) bad("K must be a multiple of 32: " + s);
}

std::vector<q4r_isa> available_isas(bool with_scalar) {
  std::vector<q4r_isa> out;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    const q4r_isa isa = static_cast<q4r_isa>(i);
    if (q4r_isa_available(isa) && (with_scalar || isa != Q4R_ISA_SCALAR)) out.push_back(isa);
  }
  return out;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  std::string gemv = "4096x4096:warm,14336x4096:cold", gemm = "4096x4096", ms = "16,512";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) bad(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(0);
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "--types") {
      o.types.clear();
      for (const std::string& t : split(value())) {
        q4r_type type;
        if (q4r_parse_type(t.c_str(), &type) != Q4R_OK || type == Q4R_TYPE_Q8_0) {
          bad("not a weight type: " + t);
        }
        o.types.push_back(type);
      }
    } else if (a == "--threads") {
      o.threads.clear();
      for (const std::string& t : split(value())) o.threads.push_back(int(positive(t)));
    } else if (a == "--gemv") {
      gemv = value();
    } else if (a == "--gemm") {
      gemm = value();
    } else if (a == "--m") {
      ms = value();
    } else if (a == "--all-isas") {
      o.isas = available_isas(false);
    } else if (a == "--isas") {
      const std::string v = value();
      o.isas.clear();
      if (v == "all") {
        o.isas = available_isas(false);
      } else {
        for (const std::string& name : split(v)) {
          q4r_isa isa;
          if (q4r_parse_isa(name.c_str(), &isa) != Q4R_OK) bad("unknown ISA: " + name);
          if (!q4r_isa_available(isa)) bad("ISA not available here: " + name);
          o.isas.push_back(isa);
        }
      }
    } else if (a == "--all-layouts") {
      o.all_layouts = true;
    } else if (a == "--seconds") {
      o.seconds = std::atof(value().c_str());
      if (!(o.seconds >= 0)) bad("--seconds must be >= 0");
    } else if (a == "--min-rounds") {
      o.min_rounds = int(positive(value()));
    } else if (a == "--cold-mib") {
      o.cold_mib = positive(value());
    } else if (a == "--json") {
      o.json_path = value();
    } else if (a == "--note") {
      o.note = value();
    } else {
      bad("unknown option " + a);
    }
  }
  if (o.isas.empty()) o.isas.push_back(q4r_active_isa());
  for (const std::string& s : split(gemv)) {
    CaseSpec c{0, 0, 1, false};
    parse_shape(s, &c.n, &c.k, &c.cold);
    o.cases.push_back(c);
  }
  for (const std::string& s : split(gemm)) {
    for (const std::string& m : split(ms)) {
      CaseSpec c{0, 0, positive(m), false};
      parse_shape(s, &c.n, &c.k, nullptr);
      o.cases.push_back(c);
    }
  }
  return o;
}

}  // namespace q4r::bench
