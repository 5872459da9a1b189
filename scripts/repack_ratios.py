#!/usr/bin/env python3
"""Repack/unpack speed as a fraction of memcpy, from q4repack_bench JSON output.

    build/release/bench/q4repack_bench --benchmark_filter='^repack/' \
        --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
        --benchmark_min_time=0.1 --benchmark_format=json > repack.json
    scripts/repack_ratios.py repack.json

For every repack/... benchmark: the fastest single pass over all iterations and repetitions (the
best_GB counter, wall clock; best_cpu_GB, thread CPU time, 1 thread only), and its ratio to
repack/memcpy of the same shape and thread count (1.00 = copy speed). The fastest pass because the
machine may be shared: it is the pass least disturbed by other work. With
--benchmark_enable_random_interleaving the repetitions of all cases alternate.
"""
import collections
import json
import re
import sys


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    best = collections.defaultdict(lambda: [0.0, 0.0])
    for r in runs:
        if r.get("run_type", "iteration") != "iteration" or not r["name"].startswith("repack/"):
            continue
        name = re.sub(r"/real_time$", "", r.get("run_name", r["name"]))
        b = best[name]
        b[0] = max(b[0], r.get("best_GB", 0.0))
        b[1] = max(b[1], r.get("best_cpu_GB", 0.0))
    print(f"{'benchmark':58} {'GB/s':>6} {'x memcpy':>8} {'cpu GB/s':>8} {'x memcpy':>8}")
    for name in sorted(best, key=lambda n: (n.split("/")[-2:], n)):
        m = re.match(r"repack/(\w+)/(?:.*/)?(\d+x\d+)/threads:(\d+)$", name)
        base = best.get(f"repack/memcpy/{m.group(2)}/threads:{m.group(3)}", [0.0, 0.0])
        wall, cpu = best[name]
        rw = wall / base[0] if base[0] else float("nan")
        rc = cpu / base[1] if base[1] else float("nan")
        cpu_text = f"{cpu:8.2f} {rc:8.2f}" if cpu else f"{'-':>8} {'-':>8}"
        print(f"{name:58} {wall:6.2f} {rw:8.2f} {cpu_text}")


if __name__ == "__main__":
    main(sys.argv[1])
