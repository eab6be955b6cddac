#!/usr/bin/env python3
"""Prints BENCHMARKS.md's result tables from the files one benchmark session wrote.

    python3 tools/bench/table.py            # reads tools/bench/out/*.json

Inputs (written by the commands in BENCHMARKS.md, "Reproduce"):
  tools/bench/out/nn-threads-1.json   MATMUL_NUM_THREADS=1 cargo bench --bench workloads
  tools/bench/out/nn-threads-2.json   MATMUL_NUM_THREADS=2 cargo bench --bench workloads
  tools/bench/out/torch.json          .venv/bin/python tools/bench/torch_bench.py

Optional inputs, each printed as its own table when present:
  tools/bench/out/nn-avx2-run{1,2,3}.json, torch-avx2-run{1,2,3}.json
      issue 17's AVX2 comparison at one thread, three alternating runs of
      each side (BENCHMARKS.md, "Reproduce"); the table shows their medians.
  tools/bench/out/previous-main-threads-1.json
      the same benchmark built from an earlier main (`git worktree`), run in
      the same session, to show a change did not slow a workload down.

No third-party packages: it runs with any Python 3.
"""

import statistics

import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent / "out"

# Issue 9's acceptance targets: (ratio to floor at most, speed-up over PyTorch at least).
TARGETS_1 = {
    "W1": (1.2, 4.0),
    "W2": (1.15, None),
    "W3": (1.25, None),
    "W4": (None, 1.0),
    "W5": (None, 1.5),
}
TARGETS_2 = {"W2": (None, 1.0), "W4": (None, 1.0)}


def load(name):
    path = OUT / name
    if not path.exists():
        sys.exit(f"missing {path}: run the commands in BENCHMARKS.md first")
    return json.loads(path.read_text())


def us(seconds):
    return f"{seconds * 1e6:,.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def verdict(ratio, speedup, target):
    max_ratio, min_speedup = target
    parts = []
    if max_ratio is not None:
        parts.append(f"ratio <= {max_ratio}: " + ("met" if ratio <= max_ratio else f"MISSED by {ratio / max_ratio - 1:.0%}"))
    if min_speedup is not None:
        parts.append(
            f"speed-up >= {min_speedup}: "
            + ("met" if speedup >= min_speedup else f"MISSED by {1 - speedup / min_speedup:.0%}")
        )
    return "; ".join(parts)


def table(nn, torch, threads, targets):
    key = f"threads_{threads}"
    rows = [
        "| | floor | nn | ratio | nn GFLOP/s | floor GFLOP/s | PyTorch | speed-up | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w in ["W1", "W2", "W3", "W4", "W5"]:
        r = nn["workloads"][w]
        t = torch["workloads"][w][key]["median_s"]
        speedup = t / r["nn_s"]
        floor_gf = r["flops"] / r["floor_s"] * 1e-9
        target = verdict(r["ratio"], speedup, targets[w]) if w in targets else ""
        rows.append(
            f"| {w} | {us(r['floor_s'])} | {us(r['nn_s'])} | {r['ratio']:.2f} | {r['gflops']:.1f} | {floor_gf:.1f} "
            f"| {us(t)} | {speedup:.2f}x | {target} |"
        )
    return "\n".join(rows)


def w6_table(nn1, nn2, torch):
    rows = [
        "| W6 | floor (gemv) | nn `predict` | weight bytes / us (nn) | matrixmultiply, one column | PyTorch | speed-up | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for threads, nn in [(1, nn1), (2, nn2)]:
        r = nn["workloads"]["W6"]
        t = torch["workloads"]["W6"][f"threads_{threads}"]["median_s"]
        speedup = t / r["nn_s"]
        per_us = r["weight_bytes"] / (r["nn_s"] * 1e6)
        target = verdict(0, speedup, (None, 2.5)) if threads == 1 else ""
        rows.append(
            f"| {threads} thread{'s' if threads > 1 else ''} | {us(r['floor_s'])} | {us(r['nn_s'])} | {per_us:,.0f} "
            f"| {us(r['matrixmultiply_one_column_s'])} | {us(t)} | {speedup:.2f}x | {target} |"
        )
    return "\n".join(rows)


def w7_table(nn1, nn2, torch):
    """Issue 15: W7 at least 1.5x faster than PyTorch at one thread, and its
    mixed lengths at most 1.15x a batch of one length with as many real steps."""
    rows = [
        "| W7 | nn, mixed lengths (599 steps) | nn, one length (600 steps) | mixed / one length | PyTorch | speed-up | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for threads, nn in [(1, nn1), (2, nn2)]:
        r = nn["workloads"].get("W7")
        t = torch["workloads"].get("W7", {}).get(f"threads_{threads}")
        if r is None or t is None:
            rows.append(f"| {threads} thread{'s' if threads > 1 else ''} | not measured | | | | | |")
            continue
        ratio, speedup = r["nn_s"] / r["fixed_length_s"], t["median_s"] / r["nn_s"]
        target = ""
        if threads == 1:
            mixed = "mixed <= 1.15: " + ("met" if ratio <= 1.15 else f"MISSED by {ratio / 1.15 - 1:.0%}")
            target = verdict(0, speedup, (None, 1.5)) + "; " + mixed
        rows.append(
            f"| {threads} thread{'s' if threads > 1 else ''} | {us(r['nn_s'])} | {us(r['fixed_length_s'])} "
            f"| {ratio:.2f} | {us(t['median_s'])} | {speedup:.2f}x | {target} |"
        )
    return "\n".join(rows)


# Issue 17: speed-up over PyTorch, both capped to AVX2, one thread.
TARGETS_AVX2 = {"W1": 4.0, "W2": 1.15, "W3": 1.5, "W4": 1.15, "W5": 1.5, "W6": 2.5}


def avx2_table():
    """The medians of three alternating runs of each side, or None without them."""
    runs = [(OUT / f"nn-avx2-run{i}.json", OUT / f"torch-avx2-run{i}.json") for i in (1, 2, 3)]
    if not all(a.exists() and b.exists() for a, b in runs):
        return None
    nns = [json.loads(a.read_text()) for a, _ in runs]
    torches = [json.loads(b.read_text()) for _, b in runs]
    rows = [
        f"nn kernels: {', '.join(sorted({n['gemv_isa'] for n in nns}))}; "
        f"PyTorch CPU capability: {', '.join(sorted({t['cpu_capability'] for t in torches}))}\n",
        "| | nn (3 runs) | nn median | PyTorch (3 runs) | PyTorch median | speed-up | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for w, want in TARGETS_AVX2.items():
        mine = [n["workloads"][w]["nn_s"] for n in nns]
        theirs = [t["workloads"][w]["threads_1"]["median_s"] for t in torches]
        speedup = statistics.median(theirs) / statistics.median(mine)
        rows.append(
            f"| {w} | {', '.join(us(v) for v in mine)} | {us(statistics.median(mine))} "
            f"| {', '.join(us(v) for v in theirs)} | {us(statistics.median(theirs))} | {speedup:.2f}x "
            f"| {verdict(0, speedup, (None, want))} |"
        )
    return "\n".join(rows)


def previous_main_table(nn1):
    """This main against an earlier one, one thread, or None without its file."""
    path = OUT / "previous-main-threads-1.json"
    if not path.exists():
        return None
    old = json.loads(path.read_text())
    rows = ["| | previous main | this main | this / previous |", "|---|---|---|---|"]
    for w in ["W1", "W2", "W3", "W4", "W5", "W6"]:
        a, b = old["workloads"][w]["nn_s"], nn1["workloads"][w]["nn_s"]
        rows.append(f"| {w} | {us(a)} | {us(b)} | {b / a:.2f} |")
    return "\n".join(rows)


def main():
    nn1, nn2, torch = load("nn-threads-1.json"), load("nn-threads-2.json"), load("torch.json")
    for name, data in [("nn-threads-1.json", nn1), ("nn-threads-2.json", nn2), ("torch.json", torch)]:
        if data.get("quick"):
            print(f"warning: {name} comes from a quick (smoke) run", file=sys.stderr)
    print(f"PyTorch {torch['torch']}, CPU capability {torch['cpu_capability']}; nn matrix-vector loops: {nn1['gemv_isa']}\n")
    print("### 1 thread (`MATMUL_NUM_THREADS=1`, `torch.set_num_threads(1)`)\n")
    print(table(nn1, torch, 1, TARGETS_1))
    print("\n### 2 threads (`MATMUL_NUM_THREADS=2`, `torch.set_num_threads(2)`)\n")
    print(table(nn2, torch, 2, TARGETS_2))
    print("\n### W6: one-sample latency\n")
    print(w6_table(nn1, nn2, torch))
    print("\n### W7: the train step of examples/words.rs\n")
    print(w7_table(nn1, nn2, torch))
    avx2 = avx2_table()
    if avx2:
        print("\n### AVX2 (`NN_ISA=avx2`; PyTorch capped to AVX2), 1 thread\n")
        print(avx2)
    previous = previous_main_table(nn1)
    if previous:
        print("\n### Against the previous main, 1 thread\n")
        print(previous)


if __name__ == "__main__":
    main()
