// Writes a large synthetic Q4_0 GGUF (llama-7B-like matrix shapes) with the test GGUF writer, for
// memory measurements: `q4r_make_big_gguf OUT.gguf [LAYERS]` (2 layers: about 230 MB).
// Blocks have random nibbles and modest fp16 scales; the data is streamed, never held whole.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gguf_writer.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: q4r_make_big_gguf OUT.gguf [LAYERS]\n");
    return 2;
  }
  const int layers = argc > 2 ? std::atoi(argv[2]) : 2;
  struct Shape {
    const char* name;
    int64_t k, rows;
  };
  const Shape shapes[] = {{"attn_q", 4096, 4096},    {"attn_k", 4096, 4096},
                          {"attn_v", 4096, 4096},    {"attn_output", 4096, 4096},
                          {"ffn_gate", 4096, 11008}, {"ffn_up", 4096, 11008},
                          {"ffn_down", 11008, 4096}};
  q4r::test::GgufWriter w;
  w.kv_string("general.architecture", "llama");
  w.kv_string("general.name", "q4repack synthetic big Q4_0");
  std::vector<uint64_t> sizes;
  for (int l = 0; l < layers; ++l) {
    for (const Shape& s : shapes) {
      const uint64_t bytes = uint64_t(s.rows) * (s.k / 32) * 18;
      w.tensor_sized("blk." + std::to_string(l) + "." + s.name + ".weight", 2, {s.k, s.rows},
                     bytes);
      sizes.push_back(bytes);
    }
  }
  std::FILE* f = std::fopen(argv[1], "wb");
  if (!f) {
    std::perror(argv[1]);
    return 1;
  }
  const std::vector<uint8_t> head = w.header();
  bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
  std::mt19937 rng(42);
  std::vector<uint8_t> chunk(18 * 4096);
  for (uint64_t bytes : sizes) {
    for (uint64_t done = 0; done < bytes && ok;) {
      const uint64_t n = std::min<uint64_t>(chunk.size(), bytes - done);
      for (uint64_t b = 0; b < n; b += 18) {
        chunk[b] = uint8_t(rng());
        chunk[b + 1] = uint8_t(0x1c + rng() % 8);  // fp16 scale around 2^-8 .. 2^-6
        for (int i = 2; i < 18; ++i) chunk[b + i] = uint8_t(rng());
      }
      ok = std::fwrite(chunk.data(), 1, n, f) == n;
      done += n;
    }
    const uint64_t pad = (32 - bytes % 32) % 32;
    const std::vector<uint8_t> zeros(pad, 0);
    ok = ok && std::fwrite(zeros.data(), 1, pad, f) == pad;
  }
  if (std::fclose(f) != 0 || !ok) {
    std::fprintf(stderr, "writing %s failed\n", argv[1]);
    return 1;
  }
  return 0;
}
