#!/usr/bin/env python3
"""What the Python layer adds to a matmul: q4repack.matmul against the same q4r_matmul call timed
inside C, in one process, like for like, alternating, min and median of many rounds
(docs/PYTHON.md, "Overhead of the Python layer").

A small C helper (compiled here with cc against the same library) times q4r_matmul with
clock_gettime(CLOCK_MONOTONIC) around the bare C call; the Python side times q4repack.matmul with
time.perf_counter (the same clock). Two methods, each run for C and for Python in every round
(the order of the sides is shuffled every round, so no side is always first after another case
or always next to C):

- ``gap``: an untimed call, a busy wait of ``--gap`` microseconds done in C, then the timed call
  (the same before the C sample and before the Python sample), so the thread pool's workers, the
  caches and the branch predictors start from the same state on both sides.
- ``loop``: an untimed call, then ``--reps`` calls back to back; the figure is the total divided
  by the calls (C: a loop
  in C; Python: a Python for loop over q4repack.matmul). Between two C calls there is no gap;
  between two Python calls there is the layer's own work, as in a real Python loop.

Sides: ``C`` (the helper), ``ctypes`` (q4r_matmul called through ctypes with precomputed
arguments: what any ctypes binding costs), ``python`` (q4repack.matmul, result array allocated),
``out=`` (q4repack.matmul into a preallocated array), ``prep`` and ``prep out=`` (the same
through q4repack.prepare_matmul's callable). Besides min and median, ``paired`` is the
median over rounds of each round's ratio to the C sample of the same round.

    python3 python/bench/matmul_overhead.py [--n 4096] [--k 4096] [--batches 1,16]
        [--threads 1,2] [--rounds 300] [--reps 10] [--gap 20] [--methods gap,loop]
    python3 python/bench/matmul_overhead.py --gap-sweep 0,3,10,30,100,300,1000 [...]
    python3 python/bench/matmul_overhead.py --split [...]
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
from q4repack import _library, core  # noqa: E402

HELPER = r"""
#include <stdint.h>
#include <time.h>
#include <q4repack/q4repack.h>
static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
/* A busy wait (not a sleep: the calling core stays as busy as in a program doing other work). */
void q4r_bench_spin_ns(int64_t ns) {
  const int64_t end = now_ns() + ns;
  while (now_ns() < end) {
  }
}
/* `reps` q4r_matmul calls back to back: total ns (-1 on an error). */
int64_t q4r_bench_loop_ns(int type, int layout, const void* w, size_t w_size, int64_t n,
                          int64_t k, const float* x, int64_t m, float* y, int threads, int reps) {
  const int64_t a = now_ns();
  for (int i = 0; i < reps; ++i) {
    if (q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads) != Q4R_OK) return -1;
  }
  return now_ns() - a;
}
/* One call, a busy wait of gap_ns, then the timed call: all in C (the --gap-sweep). */
int64_t q4r_bench_after_gap_ns(int type, int layout, const void* w, size_t w_size, int64_t n,
                               int64_t k, const float* x, int64_t m, float* y, int threads,
                               int64_t gap_ns) {
  if (q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads) != Q4R_OK) return -1;
  q4r_bench_spin_ns(gap_ns);
  const int64_t a = now_ns();
  if (q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads) != Q4R_OK) return -1;
  return now_ns() - a;
}
/* Same signature as q4r_matmul: calls it and records when it entered and left (--split). */
int64_t q4r_bench_entered_ns, q4r_bench_left_ns;
int q4r_bench_timed_matmul(int type, int layout, const void* w, size_t w_size, int64_t n,
                           int64_t k, const float* x, int64_t m, float* y, int threads) {
  q4r_bench_entered_ns = now_ns();
  const int status = q4r_matmul(type, layout, w, w_size, n, k, x, m, y, threads);
  q4r_bench_left_ns = now_ns();
  return status;
}
int64_t q4r_bench_entered(void) { return q4r_bench_entered_ns; }
int64_t q4r_bench_left(void) { return q4r_bench_left_ns; }
int64_t q4r_bench_now_ns(void) { return now_ns(); }
/* Same signature as q4r_matmul, does nothing: the Python layer's own cost per call. */
int q4r_bench_empty_matmul(int type, int layout, const void* w, size_t w_size, int64_t n,
                           int64_t k, const float* x, int64_t m, float* y, int threads) {
  return 0;
}
"""


class Helper:
    """The compiled helper's functions."""

    def __init__(self, tmp):
        lib = q4repack.library_path()
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        src, out = os.path.join(tmp, "helper.c"), os.path.join(tmp, "helper.so")
        with open(src, "w") as f:
            f.write(HELPER)
        subprocess.check_call(["cc", "-O2", "-shared", "-fPIC", "-o", out, src,
                               "-I", os.path.join(root, "include"), lib])
        helper = ctypes.CDLL(out)
        matmul_args = _library._PROTOTYPES["q4r_matmul"][1]
        self.loop_ns = helper.q4r_bench_loop_ns
        self.loop_ns.restype = ctypes.c_int64
        self.loop_ns.argtypes = matmul_args + [ctypes.c_int]
        self.after_gap_ns = helper.q4r_bench_after_gap_ns
        self.after_gap_ns.restype = ctypes.c_int64
        self.after_gap_ns.argtypes = matmul_args + [ctypes.c_int64]
        self.spin_ns = helper.q4r_bench_spin_ns
        self.spin_ns.restype, self.spin_ns.argtypes = None, [ctypes.c_int64]
        self.timed = helper.q4r_bench_timed_matmul
        self.timed.restype, self.timed.argtypes = _library._PROTOTYPES["q4r_matmul"]
        for name in ("entered", "left", "now_ns"):
            fn = getattr(helper, "q4r_bench_" + name)
            fn.restype, fn.argtypes = ctypes.c_int64, []
            setattr(self, name, fn)
        self.empty = helper.q4r_bench_empty_matmul
        self.empty.restype, self.empty.argtypes = _library._PROTOTYPES["q4r_matmul"]


def layer_cost_us(empty, w, x, layout, rounds=200, calls=100):
    """Each side with q4r_matmul swapped for an empty C function: argument checks, result array,
    ctypes conversions, GIL release/reacquire. Per side, min over rounds of the mean of `calls`."""
    lib = _library.lib()
    real, lib.q4r_matmul = lib.q4r_matmul, empty
    core._matmul_fast.clear()  # it caches the function
    try:
        calls_of = python_calls(w, x, np.empty((x.shape[0], w.shape[0]), np.float32), layout, 0)
        best = {}
        for name, call in calls_of.items():
            call()
            best[name] = float("inf")
            for _ in range(rounds):
                t0 = time.perf_counter()
                for _ in range(calls):
                    call()
                best[name] = min(best[name], (time.perf_counter() - t0) / calls * 1e6)
        return best
    finally:
        lib.q4r_matmul = real
        core._matmul_fast.clear()


def python_calls(w, x, y, layout, threads):
    """The Python sides as argument-less calls (the prepared ones bound to the q4r_matmul that
    is in place now: the real one, or the bench's empty or timed stand-in)."""
    lib = _library.lib()
    bare = lib.q4r_matmul
    args = (0, q4repack.LAYOUTS.index(layout), w.ctypes.data, w.nbytes, w.shape[0], x.shape[1],
            x.ctypes.data, x.shape[0], y.ctypes.data, threads)
    pm = q4repack.prepare_matmul(w, "q4_0", layout, threads)
    return {"ctypes": lambda: bare(*args),
            "matmul": lambda: q4repack.matmul(w, x, "q4_0", layout, threads),
            "out=": lambda: q4repack.matmul(w, x, "q4_0", layout, threads, out=y),
            "prep": lambda: pm(x),
            "prep out=": lambda: pm(x, out=y)}


def cpu_model():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor()
    return "%s (family %s model %s)" % (fields.get("model name", "?"), fields.get("cpu family", "?"),
                                        fields.get("model", "?"))


SIDES = ("C", "ctypes", "python", "out=", "prep", "prep out=")


class Case:
    """One (M, threads) case: samples of both sides and both methods, in microseconds."""

    def __init__(self, a, helper, w, layout, m, threads, rng):
        self.a, self.h, self.w, self.layout, self.m, self.threads = a, helper, w, layout, m, threads
        self.x = rng.standard_normal((m, a.k), dtype=np.float32)
        self.y = np.empty((m, a.n), np.float32)
        self.samples = {(meth, side): [] for meth in a.methods for side in SIDES}
        self.bare = _library.lib().q4r_matmul
        self.prepared = q4repack.prepare_matmul(w, "q4_0", layout, threads)
        self.args = (0, q4repack.LAYOUTS.index(layout), w.ctypes.data, w.nbytes, a.n, a.k,
                     self.x.ctypes.data, m, self.y.ctypes.data, threads)

    def c_loop(self, reps):
        ns = self.h.loop_ns(*self.args, reps)
        assert ns > 0, q4repack._library.lib().last_error()
        return ns / 1e3 / reps

    def py_loop(self, reps, side):
        if side == "ctypes":
            bare, args = self.bare, self.args
            t0 = time.perf_counter()
            for _ in range(reps):
                bare(*args)
            return (time.perf_counter() - t0) * 1e6 / reps
        w, x, layout, threads = self.w, self.x, self.layout, self.threads
        y = self.y if side.endswith("out=") else None
        if side.startswith("prep"):
            pm = self.prepared
            t0 = time.perf_counter()
            for _ in range(reps):
                pm(x, out=y)
            return (time.perf_counter() - t0) * 1e6 / reps
        t0 = time.perf_counter()
        for _ in range(reps):
            q4repack.matmul(w, x, "q4_0", layout, threads, out=y)
        return (time.perf_counter() - t0) * 1e6 / reps

    def round(self, order):
        a, spin, gap = self.a, self.h.spin_ns, int(self.a.gap * 1000)
        sides = [SIDES[i] for i in order]
        for meth in a.methods:
            reps = 1 if meth == "gap" else a.reps
            for side in sides:
                # Every sample has the same history: an untimed call of this case (the cases
                # alternate, and a pool worker idle since another case wakes slowly), then for
                # the gap method the busy wait.
                self.c_loop(1)
                if meth == "gap":
                    spin(gap)
                us = self.c_loop(reps) if side == "C" else self.py_loop(reps, side)
                self.samples[(meth, side)].append(us)

    def rows(self):
        """Per method: mins, medians, and the paired overheads (median over rounds of each
        round's Python / C ratio: the two samples of a round ran next to each other, so a load
        change on the shared machine between rounds cancels out)."""
        for meth in self.a.methods:
            v = [np.array(self.samples[(meth, s)]) for s in SIDES]
            mins = [s.min() for s in v]
            meds = [float(np.median(s)) for s in v]
            paired = [float(np.median(s / v[0] - 1)) * 100 for s in v[1:]]
            yield meth, mins, meds, paired


def split(a, helper, cases):
    """q4r_matmul swapped for a C shim that timestamps its entry and exit: of a Python call
    (after the same busy gap), the part before the library, in it, and after it."""
    lib = _library.lib()
    real, lib.q4r_matmul = lib.q4r_matmul, helper.timed
    core._matmul_fast.clear()
    print("%-3s %-7s %-9s %17s %17s %19s" % ("M", "threads", "call", "before us min/med",
                                             "after us min/med", "in library us med"))
    try:
        for case in cases:
            calls = python_calls(case.w, case.x, case.y, case.layout, case.threads)
            calls["matmul"]()
            t = {name: ([], [], []) for name in calls}
            for r in range(a.rounds):
                for name in (list(calls) if r % 2 else list(calls)[::-1]):
                    helper.spin_ns(int(a.gap * 1000))
                    t0 = helper.now_ns()
                    calls[name]()
                    t1 = helper.now_ns()
                    before, after, inside = t[name]
                    before.append((helper.entered() - t0) / 1e3)
                    after.append((t1 - helper.left()) / 1e3)
                    inside.append((helper.left() - helper.entered()) / 1e3)
            for name, (before, after, inside) in t.items():
                print("%-3d %-7s %-9s %8.2f / %6.2f %8.2f / %6.2f %19.1f" % (
                    case.m, case.threads or "all", name, min(before), np.median(before),
                    min(after), np.median(after), np.median(inside)))
    finally:
        lib.q4r_matmul = real
        core._matmul_fast.clear()


def gap_sweep(a, helper, cases):
    """C only: each gap's call time, alternating gap order per round; paired against gap 0."""
    gaps = [float(g) for g in a.gap_sweep.split(",")]
    if gaps[0] != 0:
        gaps.insert(0, 0.0)
    print("%-3s %-7s %8s %9s %9s %16s" % ("M", "threads", "gap us", "min us", "median us",
                                          "paired vs gap 0"))
    for case in cases:
        t = {g: [] for g in gaps}
        for r in range(a.rounds):
            for g in (gaps if r % 2 else gaps[::-1]):
                ns = helper.after_gap_ns(*case.args, int(g * 1000))
                assert ns > 0
                t[g].append(ns / 1e3)
        base = np.array(t[0.0])
        for g in gaps:
            v = np.array(t[g])
            print("%-3d %-7s %8.0f %9.1f %9.1f %+15.1f us" % (
                case.m, case.threads or "all", g, v.min(), np.median(v), np.median(v - base)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--k", type=int, default=4096)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--layout", default=None, help="default: the preferred layout")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--reps", type=int, default=10, help="calls per loop sample")
    ap.add_argument("--gap", type=float, default=20.0, help="us of busy wait before a gap sample")
    ap.add_argument("--methods", default="gap,loop")
    ap.add_argument("--split", action="store_true",
                    help="instead: where a Python call's time goes, before the library is "
                         "entered / in it / after it left, for a bare ctypes call and matmul")
    ap.add_argument("--gap-sweep", default=None, metavar="US,US,...",
                    help="instead: C alone, a call after each busy gap (e.g. 0,3,10,30,100,300), "
                         "paired medians against gap 0 (does the pool's sleeping cost a caller "
                         "that pauses between calls?)")
    a = ap.parse_args()
    a.methods = a.methods.split(",")
    layout = a.layout or q4repack.preferred_layout("q4_0")
    rng = np.random.default_rng(0)
    w = q4repack.quantize(rng.standard_normal((a.n, a.k), dtype=np.float32), "q4_0")
    if layout != "none":
        w = q4repack.repack(w, "q4_0", layout, out=w)
    print("cpu: %s, %d cores; isa %s; q4_0 %s, N=%d K=%d; %d rounds, C and Python alternating "
          "(sides shuffled every round); gap %.0f us; loop %d calls"
          % (cpu_model(), os.cpu_count(), q4repack.active_isa(), layout, a.n, a.k, a.rounds, a.gap,
             a.reps))
    batches = [int(s) for s in a.batches.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        helper = Helper(tmp)
        print("the Python layer alone per call (q4r_matmul swapped for an empty C function):")
        for m in batches:
            x = rng.standard_normal((m, a.k), dtype=np.float32)
            cost = layer_cost_us(helper.empty, w, x, layout)
            print("  M=%d: %s" % (m, ", ".join("%s %.2f us" % kv for kv in cost.items())))
        cases = [Case(a, helper, w, layout, m, int(t), rng)
                 for m in batches for t in a.threads.split(",")]
        if a.gap_sweep:
            return gap_sweep(a, helper, cases)
        if a.split:
            return split(a, helper, cases)
        for case in cases:  # warm up: pool threads started, pages touched
            case.round(range(len(SIDES)))
            for samples in case.samples.values():
                samples.clear()
        for r in range(a.rounds):
            for case in cases:
                case.round(rng.permutation(len(SIDES)))
    us = " ".join("%9s" % s for s in ("C us",) + SIDES[1:])
    print("%-3s %-7s %-6s %-6s %s | overhead: %s" % ("M", "threads", "method", "stat", us,
                                                   " ".join("%9s" % s for s in SIDES[1:])))
    for case in cases:
        for meth, mins, meds, paired in case.rows():
            for stat, v in (("min", mins), ("median", meds), ("paired", None)):
                times = " ".join("%9.1f" % t for t in v) if v else " " * len(us)
                over = paired if v is None else [100 * (s / v[0] - 1) for s in v[1:]]
                print("%-3d %-7s %-6s %-6s %s | %9s %s" % (
                    case.m, case.threads or "all", meth, stat, times, "",
                    " ".join("%8.1f%%" % o for o in over)))


if __name__ == "__main__":
    main()
