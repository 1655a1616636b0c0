#!/usr/bin/env python3
"""Turns sparse-int8-bench's JSON into the block-sparse table of
docs/results/kernels.md (printed) and docs/results/sparse-int8.svg.
Python standard library only.

sparse_report.py SPARSE.json SPARSE.svg

The run interleaves the dense int8 linear, the block-sparse one at 50%, 20%
and 10% block density, and this core's vpdpbusd and FMA peak loops: the
sparse kernel's multiply-accumulates are quoted against the int8 peak of the
same run.
"""
import sys

from report import bar_chart, medians, print_fma_peak

SHAPES = ((768, 768), (768, 3072), (3072, 768))
DENSITIES = (50, 20, 10)


def main():
    runs = medians(sys.argv[1])
    svg_path = sys.argv[2]
    peak = runs["vnniPeak"]["MAC/s"]
    print("| threads | K x N | dense int8 us | "
          + " | ".join("%d%% sparse us (x dense)" % (100 - d) for d in DENSITIES)
          + " | 90%: MAC/s of 1-core peak |")
    print("|---|---|---|" + "---|" * len(DENSITIES) + "---|")
    groups = []
    for threads in (1, 2):
        for k, n in SHAPES:
            dense = runs["denseInt8/%d/%d/%d/real_time" % (k, n, threads)]
            cells, bars = [], [("dense int8", 1.0)]
            for d in DENSITIES:
                s = runs["sparseInt8/%d/%d/%d/%d/real_time" % (k, n, threads, d)]
                ratio = dense["real_time"] / s["real_time"]
                cells.append("%.0f (%.2fx)" % (s["real_time"], ratio))
                bars.append(("%d%% sparse" % (100 - d), ratio))
            last = runs["sparseInt8/%d/%d/%d/%d/real_time" % (k, n, threads, DENSITIES[-1])]
            print("| %d | %d x %d | %.0f | %s | %.0f%% |" % (
                threads, k, n, dense["real_time"], " | ".join(cells),
                100 * last["MAC/s"] / (peak * threads)))
            groups.append(("%dx%d %dt" % (k, n, threads), bars))
    print()
    print("vpdpbusd peak, same run: %.0f G int8 MAC/s per core" % (peak / 1e9))
    print_fma_peak(runs)
    svg = bar_chart(groups, "Block-sparse int8 linear, M=128: speed-up over dense int8 "
                    "(medians)", "x dense int8", width=900, height=320)
    open(svg_path, "w").write(svg + "\n")


if __name__ == "__main__":
    main()
