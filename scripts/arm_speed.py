#!/usr/bin/env python3
"""Static speed check of the ARM kernels (driven by scripts/arm-speed.sh; docs/ARM.md).

Reads `objdump -d -C` listings of our ARM kernel objects and of GGML's ARM repack object, finds each
kernel's hot K-loop (the innermost backward-branch loop with the most multiply-accumulate
instructions in the kernel's symbols), feeds it to llvm-mca-19 for several Neoverse models and
prints, per (CPU, kernel):

  ARM-SPEED <cpu> <kernel> ours=<cycles per 1k MACs> ggml=<same or -> ratio=<ours/ggml or ->

plus the loop's size, MACs and stack loads/stores (spills), and a markdown table.
Numbers come from a model (llvm-mca): no caches, no memory bandwidth, no branch misses.
"""
import argparse
import concurrent.futures
import re
import subprocess
import sys

# CPU models: the -mcpu name and the level families whose instructions exist on it.
CPUS = {
    "neoverse-n1": {"neon", "dotprod"},
    "neoverse-n2": {"neon", "dotprod", "i8mm"},
    "neoverse-v1": {"neon", "dotprod", "i8mm", "sve256"},
    "neoverse-v2": {"neon", "dotprod", "i8mm"},
}
# The CPU each level is judged on (the goals table of issue 14).
HOME_CPU = {"neon": "neoverse-n1", "dotprod": "neoverse-n1", "i8mm": "neoverse-n2",
            "sve256": "neoverse-v1"}
SVE_BYTES = 32  # MACs of SVE instructions are counted for a 256-bit vector length (Neoverse V1)

# Our kernels: (level, type, layout, kind) -> demangled symbol pattern. Kinds: gemv (1 row),
# gemv3 (the 3-row multi-row GEMV), gemm (the widest GEMM tile), plain.
TYPES = {"q4_0": "Q4_0", "iq4_nl": "Iq4nl"}
LAYOUTS = {"4x4": (4, 4), "4x8": (4, 8), "8x8": (8, 8)}
LEVEL_LAYOUTS = {"neon": ["4x4", "4x8", "8x8"], "dotprod": ["4x4", "4x8", "8x8"],
                 "i8mm": ["4x4", "4x8", "8x8"], "sve256": ["8x8"]}
LEVEL_KINDS = {"neon": ["gemv", "gemv3", "gemm", "plain"],
               "dotprod": ["gemv", "gemv3", "gemm", "plain"],
               "i8mm": ["gemm"], "sve256": ["gemv", "gemv3", "gemm"]}

# GGML's counterparts (object "dp": -march=armv8.2-a+dotprod+i8mm; "sve": + sve).
GGML = {
    ("dotprod", "q4_0", "4x4", "gemv"): ("dp", "ggml_gemv_q4_0_4x4_q8_0"),
    ("dotprod", "q4_0", "4x4", "gemm"): ("dp", "ggml_gemm_q4_0_4x4_q8_0"),
    ("dotprod", "q4_0", "4x8", "gemv"): ("dp", "ggml_gemv_q4_0_4x8_q8_0"),
    ("i8mm", "q4_0", "4x8", "gemm"): ("dp", "ggml_gemm_q4_0_4x8_q8_0"),
    ("dotprod", "iq4_nl", "4x4", "gemv"): ("dp", "ggml_gemv_iq4_nl_4x4_q8_0"),
    ("dotprod", "iq4_nl", "4x4", "gemm"): ("dp", "ggml_gemm_iq4_nl_4x4_q8_0"),
    ("sve256", "q4_0", "8x8", "gemv"): ("sve", "ggml_gemv_q4_0_8x8_q8_0"),
    ("sve256", "q4_0", "8x8", "gemm"): ("sve", "ggml_gemm_q4_0_8x8_q8_0"),
}

BRANCH = re.compile(r"^(b|b\.\w+|cbz|cbnz|tbz|tbnz)$")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
FUNC = re.compile(r"^([0-9a-f]+) <(.*)>:$")


def parse_objdump(text):
    """{symbol: [(addr, mnemonic, operands)]} from `objdump -d -C --no-show-raw-insn`."""
    funcs, cur = {}, None
    for line in text.splitlines():
        m = FUNC.match(line)
        if m:
            cur = funcs.setdefault(m.group(2), [])
            continue
        m = INSN.match(line)
        if m and cur is not None:
            ops = m.group(3).split("//")[0].split(" <")[0].strip()  # no comment, no symbol
            cur.append((int(m.group(1), 16), m.group(2), ops))
    return funcs


def macs_of(mn, ops):
    """int8 multiply-accumulates of one instruction (0 if none)."""
    sve = " z" in " " + ops
    vec_bytes = SVE_BYTES if sve else 16
    if mn in ("sdot", "udot", "usdot"):
        if ".2s" in ops:
            return 8
        return vec_bytes
    if mn in ("smmla", "ummla", "usmmla"):
        return 2 * vec_bytes
    if mn in ("smull", "smull2", "smlal", "smlal2", "umull", "umull2", "umlal", "umlal2"):
        return 8 if ".8h" in ops else 0
    return 0


def loops(insns):
    """Innermost loops as (start, end) index ranges (end = the backward branch)."""
    index = {a: i for i, (a, _, _) in enumerate(insns)}
    found = []
    for i, (addr, mn, ops) in enumerate(insns):
        if not BRANCH.match(mn):
            continue
        target = ops.split(",")[-1].strip().split()[0]
        try:
            t = int(target, 16)
        except ValueError:
            continue
        if t <= addr and t in index:
            found.append((index[t], i))
    return [lp for lp in found
            if not any(o != lp and lp[0] <= o[0] and o[1] <= lp[1] for o in found)]


def with_callees(body, funcs):
    """A loop that calls a function of the same object gets the callee's body in place of the
    call (so that the block products a loop calls are counted; the call itself is a defect that
    loop_stats reports)."""
    by_addr = {insns[0][0]: insns for insns in funcs.values() if insns}
    out = []
    for insn in body:
        _, mn, ops = insn
        out.append(insn)
        if mn == "bl":
            try:
                callee = by_addr.get(int(ops.split()[0], 16))
            except ValueError:
                callee = None
            if callee:
                out.extend(i for i in callee if i[1] != "ret")
    return out


def hot_loop(funcs, pattern):
    """The innermost loop with the most MACs among the symbols matching pattern."""
    best = None
    rx = re.compile(pattern)
    for name, insns in funcs.items():
        if not rx.search(name):
            continue
        for s, e in loops(insns):
            body = with_callees(insns[s:e + 1], funcs)
            macs = sum(macs_of(mn, ops) for _, mn, ops in body)
            key = (macs, -len(body))
            if macs and (best is None or key > best[0]):
                best = (key, name, body)
    return best


STACK = re.compile(r"\[(sp|x29)\b")


def loop_stats(body):
    macs = sum(macs_of(mn, ops) for _, mn, ops in body)
    spills = sum(1 for _, mn, ops in body
                 if STACK.search(ops) and re.match(r"^(ld|st)", mn))
    calls = sum(1 for _, mn, _ in body if mn in ("bl", "blr"))
    return macs, spills, calls


def to_asm(body):
    """The loop body as assembler text for llvm-mca (branch targets become a local label)."""
    lines = [".Lloop:"]
    for _, mn, ops in body:
        if mn in ("bl", "blr", "ret"):
            continue
        if BRANCH.match(mn):
            parts = [p.strip() for p in ops.split(",")]
            parts[-1] = ".Lloop"
            ops = ", ".join(parts)
        lines.append(f"  {mn} {ops}")
    return "\n".join(lines) + "\n"


def mca(asm, cpu):
    """Cycles per loop iteration in llvm-mca's steady-state simulation."""
    iters = 200
    r = subprocess.run(["llvm-mca-19", "-mtriple=aarch64", f"-mcpu={cpu}",
                        "-mattr=+dotprod,+i8mm,+fullfp16,+sve", f"-iterations={iters}",
                        "-"], input=asm, capture_output=True, text=True)
    m = re.search(r"Total Cycles:\s+(\d+)", r.stdout)
    if r.returncode != 0 or not m:
        return None
    return int(m.group(1)) / iters


def our_pattern(level, typ, layout, kind):
    """Symbols that may hold the kernel's loop (the entry point and the templates it inlines)."""
    n, b = LAYOUTS[layout]
    w = TYPES[typ] + ("Plain" if kind == "plain" and typ == "q4_0" else
                      "Packed" if typ == "q4_0" else "")
    if level == "sve256":
        w = "Sve" + TYPES[typ]
    w = rf"q4r::\(anonymous namespace\)::{w}"
    ns = r"q4r::\(anonymous namespace\)::"
    if kind == "plain":
        return rf"{ns}plain\w*<{w}>\("
    if kind == "gemv":
        return rf"{ns}gemv(_rows)?<{w}, {n}, {b}(, 1)?>\("
    if kind == "gemv3":
        return rf"{ns}gemv(_n|_rows)<{w}, {n}, {b}(, 3)?>\("
    return rf"{ns}gemm\w*<{w}, {n}, {b}[,>]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", nargs="+", required=True, help="level=objdump-listing")
    ap.add_argument("--ggml", nargs="+", default=[], help="dp=listing sve=listing")
    ap.add_argument("--cpus", default=",".join(CPUS))
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--only", default="", help="regex: only kernels whose name matches")
    args = ap.parse_args()

    ours = {k: parse_objdump(open(v).read()) for k, v in (a.split("=", 1) for a in args.ours)}
    ggml = {k: parse_objdump(open(v).read()) for k, v in (a.split("=", 1) for a in args.ggml)}

    kernels = []  # (name, level, key, loop)
    for level, funcs in ours.items():
        for kind in LEVEL_KINDS.get(level, []):
            for typ in TYPES:
                layouts = LEVEL_LAYOUTS[level] if kind != "plain" else ["plain"]
                for layout in layouts:
                    pat = our_pattern(level, typ, layout if layout != "plain" else "4x4", kind)
                    lp = hot_loop(funcs, pat)
                    name = f"{level}/{typ}/{layout}/{kind}"
                    if args.only and not re.search(args.only, name):
                        continue
                    if lp is None:
                        # A level may leave an optional entry (the multi-row GEMV) empty.
                        level_note = "not provided" if kind == "gemv3" else "NO LOOP FOUND"
                        print(f"ARM-SPEED-NOTE {name}: {level_note}", file=sys.stderr)
                        continue
                    g = GGML.get((level, typ, layout, kind))
                    glp = None
                    if g and g[0] in ggml:
                        glp = hot_loop(ggml[g[0]], "^" + re.escape(g[1]) + "$")
                    kernels.append((name, level, typ, lp, glp))

    cpus = args.cpus.split(",")
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for name, level, typ, lp, glp in kernels:
            for cpu in cpus:
                if level not in CPUS[cpu]:
                    continue
                jobs[(name, cpu, "ours")] = ex.submit(mca, to_asm(lp[2]), cpu)
                if glp:
                    jobs[(name, cpu, "ggml")] = ex.submit(mca, to_asm(glp[2]), cpu)
    res = {k: f.result() for k, f in jobs.items()}

    rows = []
    for name, level, typ, lp, glp in kernels:
        macs, spills, calls = loop_stats(lp[2])
        gstats = loop_stats(glp[2]) if glp else None
        print(f"ARM-LOOP {name}: {len(lp[2])} instr, {macs} MACs, spills={spills}, "
              f"calls={calls} in {lp[1]}" +
              (f" | ggml {len(glp[2])} instr, {gstats[0]} MACs, spills={gstats[1]}" if glp
               else ""))
        for cpu in cpus:
            if (name, cpu, "ours") not in res:
                continue
            c = res[(name, cpu, "ours")]
            o = 1000 * c / macs if c else None
            g = None
            if (name, cpu, "ggml") in res and res[(name, cpu, "ggml")]:
                g = 1000 * res[(name, cpu, "ggml")] / gstats[0]
            ratio = o / g if (o and g) else None
            fmt = lambda v, p=1: f"{v:.{p}f}" if v else "-"
            print(f"ARM-SPEED {cpu} {name} ours={fmt(o)} ggml={fmt(g)} ratio={fmt(ratio, 2)} "
                  f"spills={spills}")
            rows.append((cpu, name, level, typ, o, g, ratio, spills, len(lp[2]), macs))

    # Kernels GGML lacks are judged against the best of ours of the same level, type and class
    # (GEMV-like: gemv and plain; gemv3; gemm) on the same CPU.
    def cls(name):
        kind = name.split("/")[-1]
        return "gemv" if kind in ("gemv", "plain") else kind
    best = {}
    for cpu, name, level, typ, o, *_ in rows:
        if o:
            key = (cpu, level, typ, cls(name))
            best[key] = min(best.get(key, o), o)
    for cpu, name, level, typ, o, g, *_ in rows:
        b = best.get((cpu, level, typ, cls(name)))
        if o and b:
            print(f"ARM-REL {cpu} {name} ours/best={o / b:.2f}")
    if args.markdown:
        print()
        print("Cycles per 1k int8 MACs in llvm-mca-19's model of each CPU (lower is better); "
              "`ours / GGML (ratio)` where GGML has the kernel.")
        print()
        print("| kernel | instr / MACs per loop | spills | " + " | ".join(cpus) + " |")
        print("|---|---|---|" + "---|" * len(cpus))
        by = {(r[0], r[1]): r for r in rows}
        for name, level, typ, lp, glp in kernels:
            first = next((by[(c, name)] for c in cpus if (c, name) in by), None)
            if not first:
                continue
            cells = []
            for c in cpus:
                r = by.get((c, name))
                if not r or not r[4]:
                    cells.append("-")
                elif r[5]:
                    cells.append(f"{r[4]:.1f} / {r[5]:.1f} ({r[6]:.2f})")
                else:
                    cells.append(f"{r[4]:.1f}")
            print(f"| {name} | {first[8]} / {first[9]} | {first[7]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
