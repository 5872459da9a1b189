#!/usr/bin/env python3
"""What the Python layer adds to a matmul: q4repack.matmul against the same q4r_matmul call timed
inside C, in one process, alternating, min of N (docs/PYTHON.md, "Overhead").

A small C helper (compiled here with cc against the same library) calls q4r_matmul `reps` times
and returns the fastest call, timed with clock_gettime around the bare C call. The Python side
times q4repack.matmul (argument checks, ctypes call, result array) with time.perf_counter.

    python3 python/bench/matmul_overhead.py [--n 4096] [--k 4096] [--batches 1,16]
                                            [--threads 1,0] [--rounds 7] [--reps 20]
"""

import argparse
import ctypes
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import q4repack  # noqa: E402
from q4repack import _library  # noqa: E402

HELPER = r"""
#include <stdint.h>
#include <time.h>
#include <q4repack/q4repack.h>
double q4r_bench_min_call_ns(int type, int layout, const void* w, size_t w_size, int64_t n,
                             int64_t k, const float* x, int64_t m, float* y, int threads,
                             int reps) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads) != Q4R_OK) return -1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    if (ns < best) best = ns;
  }
  return best;
}
"""


def build_helper(tmp):
    lib = q4repack.library_path()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    src, out = os.path.join(tmp, "helper.c"), os.path.join(tmp, "helper.so")
    with open(src, "w") as f:
        f.write(HELPER)
    subprocess.check_call(["cc", "-O2", "-shared", "-fPIC", "-o", out, src,
                           "-I", os.path.join(root, "include"), lib])
    helper = ctypes.CDLL(out)
    fn = helper.q4r_bench_min_call_ns
    fn.restype = ctypes.c_double
    fn.argtypes = _library._PROTOTYPES["q4r_matmul"][1] + [ctypes.c_int]
    return fn


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--k", type=int, default=4096)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--threads", default="1,0")
    ap.add_argument("--layout", default=None, help="default: the preferred layout")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    layout = a.layout or q4repack.preferred_layout("q4_0")
    rng = np.random.default_rng(0)
    w = q4repack.quantize(rng.standard_normal((a.n, a.k), dtype=np.float32), "q4_0")
    if layout != "none":
        w = q4repack.repack(w, "q4_0", layout, out=w)
    t_id, l_id = 0, q4repack.LAYOUTS.index(layout)
    print("cpu: %s, %d cores; isa %s; q4_0 %s, N=%d K=%d; min of %d rounds x %d calls, alternating"
          % (cpu_model(), os.cpu_count(), q4repack.active_isa(), layout, a.n, a.k, a.rounds, a.reps))
    print("%-3s %-7s %12s %12s %12s %9s" % ("M", "threads", "C call us", "python us", "python out=", "overhead"))
    with tempfile.TemporaryDirectory() as tmp:
        c_call = build_helper(tmp)
        for m in (int(s) for s in a.batches.split(",")):
            x = rng.standard_normal((m, a.k), dtype=np.float32)
            y = np.empty((m, a.n), np.float32)
            for threads in (int(s) for s in a.threads.split(",")):
                best_c = best_py = best_out = float("inf")
                for _ in range(a.rounds):
                    ns = c_call(t_id, l_id, w.ctypes.data, w.nbytes, a.n, a.k, x.ctypes.data, m,
                                y.ctypes.data, threads, a.reps)
                    assert ns > 0
                    best_c = min(best_c, ns / 1e3)
                    for _ in range(a.reps):
                        t0 = time.perf_counter()
                        q4repack.matmul(w, x, "q4_0", layout, threads)
                        t1 = time.perf_counter()
                        q4repack.matmul(w, x, "q4_0", layout, threads, out=y)
                        t2 = time.perf_counter()
                        best_py = min(best_py, (t1 - t0) * 1e6)
                        best_out = min(best_out, (t2 - t1) * 1e6)
                print("%-3d %-7s %12.1f %12.1f %12.1f %8.1f%%" % (
                    m, threads or "all", best_c, best_py, best_out, 100 * (best_py / best_c - 1)))


if __name__ == "__main__":
    main()
