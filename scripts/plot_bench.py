#!/usr/bin/python3
"""Turns `q4repack bench --json` output into PNG charts with gnuplot (Debian: python3, gnuplot-nox).

    scripts/plot_bench.py [--type q4_0] [--threads 1] OUT_DIR RUN.json [RUN.json ...]

Writes, one panel per weight shape (file names get -TYPE-tTHREADS unless q4_0 on 1 thread):
  OUT_DIR/throughput.png  GOPS vs batch size M per layout and ISA (one JSON file per ISA, e.g.
                          Q4REPACK_ISA=scalar and the default), with the roofline of the run:
                          the measured memory read bandwidth (weights streamed once per call:
                          2*M*N*K ops per N*K*18/32 bytes = 3.56*M ops per byte) and the measured
                          in-cache GEMM rate as the compute ceiling.
  OUT_DIR/speedup.png     time of the plain baseline / time of each layout, same run, same M.
Points use cold weights for M <= 4 and warm weights for M > 4 (as the bench measures them).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

LAYOUT_COLORS = {"none": "#555555", "4x4": "#1f77b4", "4x8": "#2ca02c", "8x8": "#d62728"}
ISA_DASH = ["1", "2", "4", "5"]  # gnuplot dash types, one per input file (ISA)


def load(paths):
    runs = []
    for p in paths:
        with open(p) as f:
            runs.append(json.load(f))
    return runs


def pick(run, shape, type_, threads):
    """{layout: [(m, gops, speedup)]} for one shape: cold for M <= 4, warm for M > 4."""
    series = {}
    for r in run["results"]:
        if (r["n"], r["k"]) != shape or r["type"] != type_ or r["threads"] != threads:
            continue
        if (r["cache"] == "cold") != (r["m"] <= 4):
            continue
        series.setdefault(r["layout"], []).append((r["m"], r["gops"], r["speedup"]))
    for pts in series.values():
        pts.sort()
    return series


def machine(run, threads):
    for m in run["machine"]:
        if m["threads"] == threads:
            return m
    sys.exit(f"plot_bench: no {threads}-thread measurement in the run (bench --threads {threads})")


def shapes_of(runs):
    seen = []
    for run in runs:
        for r in run["results"]:
            key = (r["n"], r["k"])
            if key not in [s[0] for s in seen]:
                seen.append((key, r["shape"]))
    return seen


def grid(count):
    cols = 1 if count == 1 else 2
    return (count + cols - 1) // cols, cols


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--type", default="q4_0", help="weight type to plot (q4_0 or iq4_nl)")
    ap.add_argument("--threads", type=int, default=1, help="thread count to plot")
    ap.add_argument("out_dir")
    ap.add_argument("runs", nargs="+", help="q4repack bench --json files (one per ISA)")
    a = ap.parse_args()
    runs = load(a.runs)
    shapes = shapes_of(runs)
    if not shapes:
        sys.exit("plot_bench: no results in the input")
    os.makedirs(a.out_dir, exist_ok=True)
    rows, cols = grid(len(shapes))
    tmp = tempfile.mkdtemp(prefix="q4r_plot_")
    width, height = 600 * cols, 470 * rows + 40

    def header(out, title, ylabel, logy):
        return [
            f"set terminal pngcairo size {width},{height} noenhanced font 'DejaVu Sans,10'",
            f"set output '{out}'",
            f"set multiplot layout {rows},{cols} title '{title}'",
            "set logscale x 2",
            "set logscale y 10" if logy else "unset logscale y",
            "set xlabel 'batch M (activation rows)'",
            f"set ylabel '{ylabel}'",
            "set grid xtics ytics mxtics mytics lc rgb '#dddddd'",
            "set key below horizontal maxrows 3 width -3 font ',8'",
            "set style data linespoints",
        ]

    run0 = runs[0]
    mach = machine(run0, a.threads)
    bw, roof = mach["read_gbps"], mach["compute_roof_gops"]
    thr = f"{a.threads} thread" + ("s" if a.threads > 1 else "")
    cpu = run0.get("cpu", "")
    # q4_0 on 1 thread is the main chart; other selections get a suffix.
    suffix = "" if (a.type, a.threads) == ("q4_0", 1) else f"-{a.type}-t{a.threads}"
    out_t = os.path.join(a.out_dir, f"throughput{suffix}.png")
    out_s = os.path.join(a.out_dir, f"speedup{suffix}.png")
    tput = header(out_t,
                  f"{a.type} throughput, {thr}, {cpu} (M<=4 cold weights, M>4 warm)",
                  "GOPS (2*M*N*K / s)", True)
    spd = header(out_s,
                 f"{a.type} speedup over the plain (un-repacked) baseline, same run, {thr}",
                 "plain time / layout time", False)
    for si, ((n, k), name) in enumerate(shapes):
        t_plots, s_plots = [], []
        ms, ys = [], []
        for ri, run in enumerate(runs):
            isa = run["isa"]
            dash = ISA_DASH[ri % len(ISA_DASH)]
            for layout, pts in sorted(pick(run, (n, k), a.type, a.threads).items()):
                path = os.path.join(tmp, f"s{si}_r{ri}_{layout}.dat")
                with open(path, "w") as f:
                    for m, gops, sp in pts:
                        f.write(f"{m} {gops} {sp}\n")
                ms += [p[0] for p in pts]
                ys += [p[1] for p in pts]
                color = LAYOUT_COLORS.get(layout, "black")
                label = f"{layout} {isa}" if layout != "none" else f"plain {isa}"
                style = f"lw 2 dt {dash} pt 7 ps 0.8 lc rgb '{color}'"
                t_plots.append(f"'{path}' using 1:2 title '{label}' {style}")
                if layout != "none":
                    s_plots.append(f"'{path}' using 1:3 title '{label}' {style}")
        if not ms:
            continue
        lo, hi = min(ms) / 1.5, max(ms) * 1.5
        title = name if name == f"{n}x{k}" else f"{name} ({n} x {k})"
        common = [f"set title '{title}'", f"set xrange [{lo}:{hi}]"]
        # The roofline first, wide and light, under the measured lines.
        t_plots.insert(0, f"(({bw}*64.0/18*x) < {roof} ? {bw}*64.0/18*x : {roof}) "
                          "title 'roofline' with lines lw 8 lc rgb '#e6e6e6'")
        t_plots.append(f"{bw}*64.0/18*x title 'memory roof ({bw:.1f} GB/s)' "
                       "with lines lw 1.5 dt 2 lc rgb 'black'")
        t_plots.append(f"{roof} title 'compute roof (in-cache GEMM {roof:.0f} GOPS)' "
                       "with lines lw 1.5 dt 4 lc rgb 'black'")
        y_lo, y_hi = min(ys) / 2, max(max(ys), roof) * 2
        tput += common + [f"set yrange [{y_lo}:{y_hi}]", "plot " + ", \\\n  ".join(t_plots)]
        s_plots.append("1 notitle with lines lw 1 lc rgb 'black'")
        spd += common + ["set yrange [0:*]", "plot " + ", \\\n  ".join(s_plots)]
    script = os.path.join(tmp, "plot.gp")
    with open(script, "w") as f:
        f.write("\n".join(tput + ["unset multiplot"] + spd + ["unset multiplot"]) + "\n")
    subprocess.run(["gnuplot", script], check=True)
    print(f"wrote {out_t} and {out_s}")


if __name__ == "__main__":
    main()
