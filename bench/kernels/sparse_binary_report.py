#!/usr/bin/env python3
"""Turns binary-linear-bench's JSON into the block-sparse binary table of
docs/results/kernels.md (printed) and docs/results/sparse-binary.svg.
Python standard library only.

sparse_binary_report.py BINARY.json SPARSE-BINARY.svg

The run interleaves the compiled binary linear, dense (density 100: no
block_mask) and block-sparse (20% and 10% of its 32 x 64 blocks stored, at
random places), and this core's xor+popcount peak loop, all on one thread.
Two outputs: f32 (the FFN's output linear, 3072 -> 768, and the same kernel
at 768 -> 3072) and packed signs (the FFN's first linear, 768 -> 3072, fused
with the bitpack the second one reads, as a SensiMix FFN runs it).
"""
import sys

from report import bar_chart, medians, print_fma_peak

CASES = ((768, 3072, 1, "signs"), (3072, 768, 0, "f32"), (768, 3072, 0, "f32"))
DENSITIES = (20, 10)


def main():
    runs = medians(sys.argv[1])
    svg_path = sys.argv[2]
    peak = runs["xorPopcountPeak"]["bMAC/s"]
    print("| K x N | output | dense binary us | "
          + " | ".join("%d%% sparse us (x dense)" % (100 - d) for d in DENSITIES)
          + " |")
    print("|---|---|---|" + "---|" * len(DENSITIES))
    groups = []
    for k, n, signs, output in CASES:
        name = "binaryLinearBlockSparse/K:%d/N:%d/density:%d/signs:%d"
        dense = runs[name % (k, n, 100, signs)]
        cells, bars = [], [("dense binary", 1.0)]
        for d in DENSITIES:
            s = runs[name % (k, n, d, signs)]
            ratio = dense["real_time"] / s["real_time"]
            cells.append("%.1f (%.2fx)" % (s["real_time"], ratio))
            bars.append(("%d%% sparse" % (100 - d), ratio))
        print("| %d x %d | %s | %.1f | %s |" % (
            k, n, output, dense["real_time"], " | ".join(cells)))
        groups.append(("%dx%d %s" % (k, n, output), bars))
    print()
    print("xor+popcount+add peak, same run: %.3f T bMAC/s" % (peak / 1e12))
    print_fma_peak(runs)
    svg = bar_chart(groups, "Block-sparse binary linear, M=128, 1 thread: speed-up over "
                    "dense binary (medians)", "x dense binary", width=720, height=300)
    open(svg_path, "w").write(svg + "\n")


if __name__ == "__main__":
    main()
