#!/usr/bin/env python3
"""Turns e2e-bench's CSV and quant-bert-compile's summaries into the table
of docs/results/e2e.md (printed) and a latency plot (SVG). Python standard
library only.

report.py E2E.csv SUMMARY_DIR OUT.svg THREADS SEQ [TORCH_THREADS]
"""
import csv
import os
import re
import sys

BASELINE = "libtorch-fp32-12"
LABELS = {
    "libtorch-fp32-12": "LibTorch FP32, 12 layers",
    "libtorch-fp32-9": "LibTorch FP32, 9 layers",
    "sensimix_3_6": "quant-bert SensiMix 3+6 (3 int8 + 6 int8/1-bit)",
    "int8_12": "quant-bert int8, 12 layers",
}


def compiled_bytes(summary_dir, name):
    """Weight bytes by precision and object size from quant-bert-compile's
    summary (NAME.summary.txt)."""
    path = os.path.join(summary_dir, name + ".summary.txt")
    if not os.path.exists(path):
        return None, None
    text = open(path).read()
    weights = re.search(r"weight bytes:(.*)", text).group(1).split()
    total = sum(int(weights[i + 1]) for i in range(0, len(weights), 2))
    obj = int(re.search(r"object .*: (\d+) bytes", text).group(1))
    return total, obj


def svg_bars(rows, title, width=760, bar_h=26):
    left, top = 330, 40
    height = top + bar_h * len(rows) + 30
    vmax = max(v for _, v, _ in rows) * 1.2
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<text x="10" y="22" font-size="14">%s</text>' % title]
    for i, (label, value, note) in enumerate(rows):
        y = top + i * bar_h
        w = (width - left - 20) * value / vmax
        color = "#4c72b0" if label.startswith("LibTorch") else "#dd8452"
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                   % (left - 6, y + 16, label))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                   % (left, y + 3, w, bar_h - 6, color))
        out.append('<text x="%.1f" y="%d">%.1f ms %s</text>'
                   % (left + w + 4, y + 16, value, note))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    csv_path, summary_dir, svg_path, threads, seq = sys.argv[1:6]
    torch_threads = sys.argv[6] if len(sys.argv) > 6 else threads
    rows = list(csv.DictReader(open(csv_path)))
    base = next(r for r in rows if r["model"] == BASELINE)
    base_ms = float(base["median_ms"])
    base_bytes = int(base["param_bytes"])
    print("| model | median (ms) | p10-p90 (ms) | speed-up vs %s | "
          "model bytes | share of FP32 12-layer |" % LABELS[BASELINE])
    print("|---|---|---|---|---|---|")
    plot = []
    for r in rows:
        name = r["model"]
        median = float(r["median_ms"])
        if name.startswith("libtorch"):
            size = int(r["param_bytes"])
            size_note = "%.1f MB (FP32 parameters)" % (size / 1e6)
        else:
            size, obj = compiled_bytes(summary_dir, name)
            size_note = ("%.1f MB weights (object %.1f MB)"
                         % (size / 1e6, obj / 1e6)) if size else "?"
        share = "%.1f%%" % (100.0 * size / base_bytes) if size else "?"
        speedup = base_ms / median
        print("| %s | %.2f | %.2f-%.2f | %.2fx | %s | %s |"
              % (LABELS.get(name, name), median, float(r["p10_ms"]),
                 float(r["p90_ms"]), speedup, size_note, share))
        plot.append((LABELS.get(name, name), median, "(%.2fx)" % speedup))
    title = ("BERT-base shapes, batch 1, seq %s, %s threads (LibTorch %s): "
             "median latency over %s runs"
             % (seq, threads, torch_threads, rows[0]["runs"]))
    with open(svg_path, "w") as f:
        f.write(svg_bars(plot, title))


if __name__ == "__main__":
    main()
