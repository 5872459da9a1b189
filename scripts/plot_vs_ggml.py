#!/usr/bin/python3
"""Turns `q4repack_vs_ggml --json` output into a PNG chart with gnuplot (Debian: python3, gnuplot-nox).

    scripts/plot_vs_ggml.py RUN.json OUT.png

One panel per thread count; per case (type, M, shape, cache) one bar per variant: its speed
relative to GGML's CPU_REPACK path in the same case of the same run (1 = as fast as GGML repack),
on a log scale. The absolute figures are in the table the binary prints and in the JSON.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

COLORS = ["#999999", "#555555", "#9ecae1", "#d62728", "#c7e9c0", "#2ca02c", "#fdd0a2", "#ff7f0e",
          "#dadaeb", "#6a51a3"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("out")
    a = ap.parse_args()
    with open(a.run) as f:
        run = json.load(f)
    results = [r for r in run["results"] if r.get("vs_ggml_repack") is not None]
    if not results:
        sys.exit("plot_vs_ggml: no case with a GGML repack figure in the input")
    columns, cases, threads = [], [], []
    for r in results:
        case = f"{r['type']} M={r['m']} {r['n']}x{r['k']} {r['cache']}"
        for lst, v in ((columns, r["column"]), (cases, case), (threads, r["threads"])):
            if v not in lst:
                lst.append(v)
    tmp = tempfile.mkdtemp(prefix="q4r_plot_")
    lines = [
        f"set terminal pngcairo size {max(900, 110 * len(cases))},{380 * len(threads) + 60} "
        "noenhanced font 'DejaVu Sans,9'",
        f"set output '{a.out}'",
        f"set multiplot layout {len(threads)},1 title 'speed relative to GGML CPU_REPACK, same "
        f"run (fastest call of each), {run.get('cpu', '')}, {run.get('note', '')}'",
        "set style data histogram", "set style histogram cluster gap 1",
        "set style fill solid border -1", "set boxwidth 0.9", "set logscale y 2",
        "set datafile separator '\\t'", "set datafile missing '?'",
        "set grid ytics lc rgb '#dddddd'", "set key outside right top vertical font ',8'",
        "set xtics rotate by -20 font ',8'", "set ylabel 'x GGML repack (log scale)'",
    ]
    for t in threads:
        path = os.path.join(tmp, f"t{t}.dat")
        with open(path, "w") as f:
            for case in cases:
                row = [case]
                for col in columns:
                    v = [r["vs_ggml_repack"] for r in results
                         if r["threads"] == t and r["column"] == col and
                         f"{r['type']} M={r['m']} {r['n']}x{r['k']} {r['cache']}" == case]
                    row.append(f"{v[0]:.4g}" if v else "?")
                f.write("\t".join(row) + "\n")
        plots = [f"'{path}' using {i + 2}{':xtic(1)' if i == 0 else ''} title '{col}' "
                 f"lc rgb '{COLORS[i % len(COLORS)]}'" for i, col in enumerate(columns)]
        plots.append("1 notitle with lines lw 1.5 lc rgb 'black'")
        lines += [f"set title '{t} thread{'s' if t > 1 else ''}'", "plot " + ", \\\n  ".join(plots)]
    lines.append("unset multiplot")
    script = os.path.join(tmp, "plot.gp")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["gnuplot", script], check=True)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
