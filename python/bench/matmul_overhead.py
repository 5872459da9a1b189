#!/usr/bin/env python3
"""What the Python layer adds to a matmul: q4repack.matmul against the same q4r_matmul call timed
inside C, in one process, alternating, min of N (docs/PYTHON.md, "Overhead").

A small C helper (compiled here with cc against the same library) calls q4r_matmul `reps` times
and returns the fastest call, timed with clock_gettime around the bare C call. The Python side
times q4repack.matmul (argument checks, ctypes call, result array) with the same clock: wall time
(CLOCK_MONOTONIC / perf_counter), and for one thread also the calling thread's CPU time
(CLOCK_THREAD_CPUTIME_ID / time.thread_time), which a busy shared machine's preemption does not
inflate.

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
                             int reps, int cpu_clock) {
  const clockid_t clock = cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    struct timespec a, b;
    clock_gettime(clock, &a);
    if (q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads) != Q4R_OK) return -1;
    clock_gettime(clock, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    if (ns < best) best = ns;
  }
  return best;
}
/* Same signature as q4r_matmul, does nothing: the Python layer's own cost per call. */
int q4r_bench_empty_matmul(int type, int layout, const void* w, size_t w_size, int64_t n,
                           int64_t k, const float* x, int64_t m, float* y, int threads) {
  return 0;
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
    fn.argtypes = _library._PROTOTYPES["q4r_matmul"][1] + [ctypes.c_int, ctypes.c_int]
    empty = helper.q4r_bench_empty_matmul
    empty.restype, empty.argtypes = _library._PROTOTYPES["q4r_matmul"]
    return fn, empty


def layer_cost_us(empty, w, x, layout, rounds=200, calls=100):
    """q4repack.matmul with q4r_matmul swapped for an empty C function: argument checks, result
    array, ctypes conversions, GIL release/reacquire. Min over rounds of the mean of `calls`."""
    lib = _library.lib()
    real, lib.q4r_matmul = lib.q4r_matmul, empty
    try:
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(calls):
                q4repack.matmul(w, x, "q4_0", layout)
            best = min(best, (time.perf_counter() - t0) / calls * 1e6)
        return best
    finally:
        lib.q4r_matmul = real


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
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--reps", type=int, default=1, help="C calls per round (Python: as many)")
    a = ap.parse_args()
    layout = a.layout or q4repack.preferred_layout("q4_0")
    rng = np.random.default_rng(0)
    w = q4repack.quantize(rng.standard_normal((a.n, a.k), dtype=np.float32), "q4_0")
    if layout != "none":
        w = q4repack.repack(w, "q4_0", layout, out=w)
    print("cpu: %s, %d cores; isa %s; q4_0 %s, N=%d K=%d; min of %d rounds x %d call(s), "
          "C and Python alternating" % (cpu_model(), os.cpu_count(), q4repack.active_isa(), layout,
                                        a.n, a.k, a.rounds, a.reps))
    print("the Python layer alone per call (q4r_matmul swapped for an empty C function):")
    batches = [int(s) for s in a.batches.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        c_call, empty = build_helper(tmp)
        for m in batches:
            x = rng.standard_normal((m, a.k), dtype=np.float32)
            print("  M=%d: %.2f us" % (m, layer_cost_us(empty, w, x, layout)))
        table(a, w, layout, rng, batches, c_call)


def table(a, w, layout, rng, batches, c_call):
    """C vs Python per (M, threads, clock): min and median over rounds, alternating."""
    t_id, l_id = 0, q4repack.LAYOUTS.index(layout)
    print("%-3s %-7s %-5s %11s %11s %11s %9s %9s   %s" % (
        "M", "threads", "clock", "C us", "python us", "py out= us", "overhead", "out=",
        "medians: C, python, out="))
    for m in batches:
        x = rng.standard_normal((m, a.k), dtype=np.float32)
        y = np.empty((m, a.n), np.float32)
        for threads, cpu in ((int(s), cpu) for s in a.threads.split(",") for cpu in (0, 1)):
            if cpu and threads != 1:
                continue  # the workers' CPU time is not the calling thread's
            clock = time.thread_time if cpu else time.perf_counter
            c_us, py_us, out_us = [], [], []
            for _ in range(a.rounds):
                ns = c_call(t_id, l_id, w.ctypes.data, w.nbytes, a.n, a.k, x.ctypes.data, m,
                            y.ctypes.data, threads, a.reps, cpu)
                assert ns > 0
                c_us.append(ns / 1e3)
                for _ in range(a.reps):
                    t0 = clock()
                    q4repack.matmul(w, x, "q4_0", layout, threads)
                    t1 = clock()
                    q4repack.matmul(w, x, "q4_0", layout, threads, out=y)
                    t2 = clock()
                    py_us.append((t1 - t0) * 1e6)
                    out_us.append((t2 - t1) * 1e6)
            best = [min(c_us), min(py_us), min(out_us)]
            mid = [float(np.median(v)) for v in (c_us, py_us, out_us)]
            print("%-3d %-7s %-5s %11.1f %11.1f %11.1f %8.1f%% %8.1f%%   %.0f, %.0f, %.0f" % (
                m, threads or "all", "cpu" if cpu else "wall", *best,
                100 * (best[1] / best[0] - 1), 100 * (best[2] / best[0] - 1), *mid))


if __name__ == "__main__":
    main()
