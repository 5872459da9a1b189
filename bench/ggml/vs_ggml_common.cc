#include "vs_ggml_common.h"

#include <cstdio>
#include <fstream>

#include <ggml-cpu.h>

namespace q4r::bench {

Buffer quantized_weights(q4r_type type, int64_t n, int64_t k, uint64_t seed) {
  const std::vector<float> f = random_activations(n, k, seed);
  std::size_t bytes = 0;
  check(q4r_tensor_bytes(type, n, k, &bytes), "q4r_tensor_bytes");
  Buffer w(bytes);
  check(q4r_quantize(type, f.data(), n, k, nullptr, w.data(), w.size()), "q4r_quantize");
  return w;
}

std::vector<q4r_layout> layouts_for(q4r_type type, q4r_isa isa, bool all) {
  if (!all) {
    const q4r_layout chosen = q4r_preferred_layout(type, isa);
    if (chosen == Q4R_LAYOUT_PLAIN) return {Q4R_LAYOUT_PLAIN};
    return {Q4R_LAYOUT_PLAIN, chosen};
  }
  std::vector<q4r_layout> out;
  for (int l = 0; l < Q4R_LAYOUT_COUNT; ++l) out.push_back(static_cast<q4r_layout>(l));
  return out;
}

std::string cpu_description() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model, family, number;
  auto value = [&] { return line.substr(line.find(':') + 2); };
  while (std::getline(in, line) && (model.empty() || family.empty() || number.empty())) {
    if (line.rfind("model name", 0) == 0) model = value();
    if (line.rfind("cpu family", 0) == 0) family = value();
    if (line.rfind("model\t", 0) == 0) number = value();
  }
  if (model.empty()) return "unknown CPU";
  return model + " (family " + family + " model " + number + ")";
}

std::string ggml_features() {
  std::string s;
  auto add = [&](const char* name, int has) {
    if (has) s += s.empty() ? name : std::string(" ") + name;
  };
  add("avx2", ggml_cpu_has_avx2());
  add("avx_vnni", ggml_cpu_has_avx_vnni());
  add("avx512", ggml_cpu_has_avx512());
  add("avx512_vnni", ggml_cpu_has_avx512_vnni());
  add("neon", ggml_cpu_has_neon());
  add("dotprod", ggml_cpu_has_dotprod());
  add("i8mm", ggml_cpu_has_matmul_int8());
  add("llamafile", ggml_cpu_has_llamafile());
  return s.empty() ? "none" : s;
}

}  // namespace q4r::bench
