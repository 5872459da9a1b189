#include "vs_ggml_report.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

#include "bench/harness/bench_harness.h"
#include "vs_ggml_common.h"

namespace q4r::bench {

namespace {

// Batches of 1-3 rows stream their weights (GB/s of weights); larger ones compute (GOPS).
bool bandwidth_bound(const CaseSpec& c) {
  return c.m <= 3;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string case_label(q4r_type type, const CaseSpec& c, int threads) {
  return std::string(q4r_type_name(type)) + " M=" + std::to_string(c.m) + " " +
         std::to_string(c.n) + "x" + std::to_string(c.k) + (c.cold ? " cold" : " warm") + ", " +
         std::to_string(threads) + "T";
}

// GGML's OpenMP threads wait by spinning unless OMP_WAIT_POLICY=passive; on an overloaded machine
// that decides its multi-thread figures (docs/PERFORMANCE.md), so the report names the setting.
std::string omp_wait_policy() {
  const char* p = std::getenv("OMP_WAIT_POLICY");
  return p && *p ? p : "unset (libgomp default: spin, then sleep)";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
  }
  return out + "\"";
}

const char* kMethod =
    "variants alternate round-robin in one process (rotated order, 2 ms sleep before each slot, "
    "one untimed call per slot when warm); figure = fastest single call (wall clock), median in "
    "median_s; cold = each call reads the next of its own weight copies (>= --cold-mib in all)";

}  // namespace

Measurement Measurement::ggml(GgmlPlacement p) {
  Measurement m;
  m.engine = "ggml";
  m.isa = "native";
  m.layout = p == GgmlPlacement::kPlain ? "plain" : "repack";
  m.column = p == GgmlPlacement::kPlain ? "GGML plain" : "GGML repack";
  return m;
}

Measurement Measurement::ours(q4r_isa isa, q4r_layout layout, q4r_type type) {
  Measurement m;
  m.engine = "q4repack";
  m.isa = q4r_isa_name(isa);
  m.layout = q4r_layout_name(layout);
  m.chosen = layout != Q4R_LAYOUT_PLAIN && layout == q4r_preferred_layout(type, isa);
  m.column = "ours " + m.isa + " " + (m.chosen ? std::string("chosen") : m.layout);
  return m;
}

Report::Report(const Options& o) : o_(o) {
  std::printf("# q4repack vs GGML, same process\n");
  std::printf("# CPU: %s, LLC %zu MiB; GGML features: %s\n", cpu_description().c_str(),
              l3_cache_bytes() >> 20, ggml_features().c_str());
  std::printf("# q4repack %s, active ISA %s; %s\n", q4r_version_string(),
              q4r_isa_name(q4r_active_isa()), o.note.c_str());
  std::printf("# method: %s\n# OMP_WAIT_POLICY: %s\n", kMethod, omp_wait_policy().c_str());
  std::printf(
      "# cells: GB/s of weights for M <= 3, GOPS (2*M*N*K/s) otherwise; (ratio) = speed / "
      "GGML repack in the same case\n\n");
  std::fflush(stdout);
}

void Report::add_row(q4r_type type, const CaseSpec& c, int threads,
                     const std::vector<Measurement>& row) {
  if (columns_.empty()) {
    for (const Measurement& m : row) columns_.push_back(m.column);
    std::string header = "| case | unit |", rule = "|---|---|";
    for (const std::string& col : columns_) header += " " + col + " |", rule += "---|";
    std::printf("%s\n%s\n", header.c_str(), rule.c_str());
  }
  for (const Measurement& m : row) {
    bool known = false;
    for (const std::string& col : columns_) known = known || col == m.column;
    if (!known) columns_.push_back(m.column);  // (a later row with an extra variant)
  }
  const bool bw = bandwidth_bound(c);
  double ref = 0;
  for (const Measurement& m : row) {
    if (m.engine == "ggml" && m.layout == "repack") ref = m.min_s;
  }
  std::string line = "| " + case_label(type, c, threads) + " | " + (bw ? "GB/s" : "GOPS") + " |";
  for (const std::string& col : columns_) {
    std::string cell;
    for (const Measurement& m : row) {
      if (m.column != col) continue;
      cell = (m.chosen ? m.layout + " " : "") + fmt(bw ? "%.1f" : "%.0f", bw ? m.gbps : m.gops);
      if (m.engine == "q4repack" && ref > 0) cell += fmt(" (%.2fx)", ref / m.min_s);
    }
    line += " " + cell + " |";
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);

  for (const Measurement& m : row) {
    if (!json_rows_.empty()) json_rows_ += ",\n";
    json_rows_ +=
        "  {\"type\": " + json_string(q4r_type_name(type)) + ", \"n\": " + std::to_string(c.n) +
        ", \"k\": " + std::to_string(c.k) + ", \"m\": " + std::to_string(c.m) +
        ", \"cache\": " + json_string(c.cold ? "cold" : "warm") +
        ", \"threads\": " + std::to_string(threads) + ", \"engine\": " + json_string(m.engine) +
        ", \"isa\": " + json_string(m.isa) + ", \"layout\": " + json_string(m.layout) +
        ", \"chosen\": " + (m.chosen ? "true" : "false") +
        ", \"column\": " + json_string(m.column) + ", \"calls\": " + std::to_string(m.calls) +
        ", \"min_s\": " + fmt("%.9g", m.min_s) + ", \"median_s\": " + fmt("%.9g", m.median_s) +
        ", \"gbps\": " + fmt("%.4g", m.gbps) + ", \"gops\": " + fmt("%.4g", m.gops) +
        ", \"vs_ggml_repack\": " + (ref > 0 ? fmt("%.4g", ref / m.min_s) : "null") + "}";
  }
}

int Report::finish() {
  std::printf("\nGGML repack kernels used: %s\n", ggml_repack_kernels().c_str());
  if (o_.json_path.empty()) return 0;
  std::ofstream out(o_.json_path);
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  out << "{\"tool\": \"q4repack_vs_ggml\", \"date\": \"" << date
      << "\",\n \"cpu\": " << json_string(cpu_description())
      << ", \"llc_bytes\": " << l3_cache_bytes()
      << ",\n \"ggml_features\": " << json_string(ggml_features())
      << ", \"q4repack\": " << json_string(q4r_version_string())
      << ", \"ggml_repack_kernels\": " << json_string(ggml_repack_kernels())
      << ", \"omp_wait_policy\": " << json_string(omp_wait_policy())
      << ", \"note\": " << json_string(o_.note) << ",\n \"method\": " << json_string(kMethod)
      << ",\n \"results\": [\n"
      << json_rows_ << "\n]}\n";
  if (!out) {
    std::fprintf(stderr, "q4repack_vs_ggml: cannot write %s\n", o_.json_path.c_str());
    return 2;
  }
  std::fprintf(stderr, "wrote %s\n", o_.json_path.c_str());
  return 0;
}

}  // namespace q4r::bench
