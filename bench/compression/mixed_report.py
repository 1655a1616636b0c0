#!/usr/bin/env python3
"""mixed_report.py: SensiMix from the current teacher, with intervals.

    mixed_report.py OUTPUT_DIR TEACHER_DIR RESULTS_DIR SEEDS

Reads bench/compression/run's results in OUTPUT_DIR (run with --teacher
TEACHER_DIR and --no-report) and
  - replaces the text between `<!-- current-teacher:begin -->` and
    `<!-- current-teacher:end -->` in RESULTS_DIR/compression.md with a
    table: per configuration the seeds, test accuracy mean ± sd with a 95%
    t interval, the change against the teacher, and the bundle's bytes
    against the teacher's; then, for each pair of configurations trained on
    the same seeds, the mean paired difference with its 95% t interval;
  - replaces the rows of these configurations (recipe names suffixed
    "@main-job") in RESULTS_DIR/compression.json, {"results": [{"recipe",
    "seeds", "test_acc_mean", "test_acc_std", "delta_vs_teacher",
    "bytes"}]}.
Python standard library only.
"""

import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import (accuracy, interval, paired, record,  # noqa: E402
                     replace_rows, replace_section, seed_accuracies,
                     tensor_bytes)

CONFIGS = [
    ("fp32-control", "FP32, the same QAT schedule without quantization"),
    ("q8bert", "Q8BERT: every encoder linear int8 on int8 activations"),
    ("ternary-kd-rep", "TernaryBERT weights on int8 activations, distilled (pred, rep)"),
    ("ternary-kd-attscore", "the same plus attention-score MSE"),
    ("sensimix", "SensiMix: top half of the layers 1-bit FFN (the paper's unscaled ±1), ABWR + PT + ILF"),
    ("sensimix-naive", "the same layers binarized from the start (no ABWR, PT, ILF)"),
    ("sensimix-kd", "SensiMix with distillation (pred, rep) from the teacher"),
    ("sensimix-naive-kd", "naive with distillation (pred, rep)"),
    ("sensimix-6ep", "SensiMix over 6 epochs instead of 3"),
    ("sensimix-naive-6ep", "naive over 6 epochs"),
    ("sensimix-meanscale", "SensiMix with 1-bit weights scaled by their mean absolute value"),
    ("sensimix-naive-meanscale", "naive with 1-bit weights scaled by their mean absolute value"),
]
PAIRS = [("sensimix", "sensimix-naive"), ("sensimix-kd", "sensimix"),
         ("sensimix-naive-kd", "sensimix-naive"),
         ("sensimix-6ep", "sensimix-naive-6ep"), ("sensimix-6ep", "sensimix"),
         ("sensimix-naive-6ep", "sensimix-naive"),
         ("sensimix-meanscale", "sensimix-naive-meanscale"),
         ("sensimix-meanscale", "sensimix"),
         ("sensimix-naive-meanscale", "sensimix-naive")]
def main():
    out, teacher_dir, results, seeds = sys.argv[1:5]
    seeds = seeds.split()
    teacher = accuracy(os.path.join(out, "teacher.txt"))
    teacher_bytes = tensor_bytes(teacher_dir)[0]
    scores, rows, records = {}, [], []
    for name, what in CONFIGS:
        runs = seed_accuracies(out, name, seeds)
        if not runs:
            continue
        scores[name] = runs
        mean, sd, half = interval(list(runs.values()))
        bundle = os.path.join(out, f"{name}-bundle")
        size = (tensor_bytes(bundle)[0] if os.path.exists(
            os.path.join(bundle, "model.safetensors")) else teacher_bytes)
        span = (f"[{mean - half:.4f}, {mean + half:.4f}]"
                if not math.isnan(half) else "—")
        versus = "—"
        if "fp32-control" in scores and name != "fp32-control":
            versus = f"{100 * (mean - statistics.mean(scores['fp32-control'].values())):+.2f}"
        rows.append(f"| {name} | {what} | {len(runs)} | {mean:.4f} ± {sd:.4f} "
                    f"| {span} | {100 * (mean - teacher):+.2f} | {versus} | "
                    f"{size / 1e6:.1f} ({100 * size / teacher_bytes:.0f}%) |")
        records.append(record(f"{name}@main-job", runs, teacher, size))
    table = ["| configuration | what | seeds | test accuracy (mean ± sd) | "
             "95% interval | vs teacher (points) | vs FP32 control (points) "
             "| bytes (MB) |",
             "|---|---|---|---|---|---|---|---|",
             f"| teacher | the main job's FP32 model | — | {teacher:.4f} | — | "
             f"— | — | {teacher_bytes / 1e6:.1f} (100%) |"] + rows
    pairs = []
    for a, b in PAIRS:
        difference = paired(scores, a, b)
        if not difference:
            continue
        count, mean, half = difference
        pairs.append(f"| {a} − {b} | {count} | {mean:+.2f} | "
                     f"[{mean - half:+.2f}, {mean + half:+.2f}] |")
    if pairs:
        table += ["", "Paired by seed (same data order and initial "
                  "quantizer state), in points:", "",
                  "| difference | seeds | mean | 95% interval |",
                  "|---|---|---|---|"] + pairs

    replace_section(os.path.join(results, "compression.md"), "current-teacher",
                    "\n".join(table))
    replace_rows(os.path.join(results, "compression.json"), records)


if __name__ == "__main__":
    main()
