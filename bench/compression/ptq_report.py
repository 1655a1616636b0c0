#!/usr/bin/env python3
"""ptq_report.py: the post-training quantization table of compression.md.

    ptq_report.py OUTPUT_DIR COMPRESSION_MD

Reads bench/compression/ptq's results in OUTPUT_DIR and replaces the text
between `<!-- ptq:begin -->` and `<!-- ptq:end -->` in COMPRESSION_MD.
"""

import glob
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import accuracy, replace_section  # noqa: E402




def compile_summary(path):
    """(weight bytes, {layer: "attention i8 ffn binary"}) of a compile log."""
    total, layers = 0, []
    with open(path) as f:
        for line in f:
            if "weight bytes:" in line:
                fields = line.split("weight bytes:")[1].split()
                total = sum(int(n) for n in fields[1::2])
            match = re.match(r"\s+layer (\d+): (.*)", line)
            if match:
                layers.append(match.group(2).strip())
    return total, layers


def describe(layers):
    """Layer precisions, runs of equal layers merged: "0-1 i8/i8, 2-3 i8/bin"."""
    short = {"binary": "bin", "mixed": "mix"}
    parts, start = [], 0
    for i in range(1, len(layers) + 1):
        if i == len(layers) or layers[i] != layers[start]:
            words = layers[start].split()
            pair = "/".join(short.get(w, w) for w in words[1::2])
            span = str(start) if i - 1 == start else f"{start}-{i - 1}"
            parts.append(f"{span} {pair}")
            start = i
    return ", ".join(parts)


def main():
    out, page = sys.argv[1], sys.argv[2]
    fp32 = accuracy(os.path.join(out, "fp32.txt"))
    fp32_bytes, _ = compile_summary(os.path.join(out, "fp32.compile.txt"))
    best = open(os.path.join(out, "best-calibrator.txt")).read().strip()

    rows = []

    def row(name, method, accuracies, summary):
        size, layers = compile_summary(summary)
        mean = statistics.mean(accuracies)
        spread = (f" ± {statistics.stdev(accuracies):.4f}"
                  if len(accuracies) > 1 else "")
        rows.append(f"| {name} | {method} | {mean:.4f}{spread} | "
                    f"{100 * (mean - fp32):+.1f} | {size / 1e6:.2f} MB "
                    f"({100 * size / fp32_bytes:.1f}%) | {describe(layers)} |")

    row("fp32", "the fine-tuned checkpoint", [fp32],
        os.path.join(out, "fp32.compile.txt"))
    for calibrator, what in [("max", "max |x|"),
                             ("percentile", "99.99th percentile of |x|"),
                             ("mse", "min squared error"),
                             ("entropy", "min KL divergence (TensorRT)")]:
        name = f"ptq-{calibrator}"
        mark = " (best on dev)" if calibrator == best else ""
        row(name, f"static int8, {what}{mark}",
            [accuracy(os.path.join(out, name + ".txt"))],
            os.path.join(out, name + ".compile.txt"))
    row("ptq-dynamic", "dynamic int8, per-row scales at run time",
        [accuracy(os.path.join(out, "ptq-dynamic.txt"))],
        os.path.join(out, "ptq-dynamic.compile.txt"))

    def qat(config, method):
        runs = sorted(glob.glob(os.path.join(out, f"{config}-seed*.txt")))
        runs = [r for r in runs if re.search(r"-seed\d+\.txt$", r)]
        if not runs:
            return
        row(f"{config} (QAT, {len(runs)} seeds)", method,
            [accuracy(r) for r in runs],
            runs[0].replace(".txt", ".compile.txt"))

    qat("q8bert", "Q8BERT: int8 weights and activations, trained")
    mixed = sorted(int(m.group(1)) for m in
                   (re.search(r"ptq-mixed-(\d+)\.txt$", p)
                    for p in glob.glob(os.path.join(out, "ptq-mixed-*.txt")))
                   if m)
    for mp in mixed:
        budget = float(open(os.path.join(out, f"budget-{mp}.txt")).read())
        row(f"ptq-mixed-{mp}",
            f"ptq-{best} + qb-assign-precision, budget {100 * budget:.1f}% "
            f"(= sensimix-{mp}'s size), native",
            [accuracy(os.path.join(out, f"ptq-mixed-{mp}.txt"))],
            os.path.join(out, f"ptq-mixed-{mp}.compile.txt"))
        qat(f"sensimix-{mp}",
            f"SensiMix, top {mp} layers 1-bit FFN, ABWR + PT + ILF, trained")

    table = "\n".join(
        ["| model | method | test accuracy | vs FP32 (points) | weights | "
         "layers (attention/FFN) |",
         "|---|---|---|---|---|---|"] + rows)
    replace_section(page, "ptq", table)
    print(table)


if __name__ == "__main__":
    main()
