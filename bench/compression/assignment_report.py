#!/usr/bin/env python3
"""assignment_report.py: sensitivity-assigned precision against SensiMix's
fixed policy and random assignments, at equal bytes.

    assignment_report.py OUTPUT_DIR TEACHER_DIR RESULTS_DIR SEEDS

Reads bench/compression/run's results in OUTPUT_DIR (run with --teacher
TEACHER_DIR and --no-report) for the assignments
  sensimix[-naive]-meanscale      fixed: the top half of the layers 1-bit FFN
  sensitivity[-naive]-meanscale   --assign budget from OUTPUT_DIR's
                                  sensitivity.json (1-bit modules measured
                                  as deployed: weights and inputs)
  sensitivity-weights[-naive]-meanscale
                                  the same from sensitivity-weights.json
                                  (weights alone)
  random{1,2}[-naive]-meanscale   --assign random, draws 1 and 2
each trained naive (binarized from the start) and with the full recipe
(ABWR + PT + ILF), and
  - replaces the text between `<!-- assignment:begin -->` and
    `<!-- assignment:end -->` in RESULTS_DIR/compression.md with a table
    (the 1-bit modules each assignment chose, their summed sensitivity by
    both measures, test accuracy mean ± sd and 95% t interval, the change
    against the teacher, the bundle's encoder bytes) and the paired-by-seed
    differences against the fixed policy;
  - writes RESULTS_DIR/compression-assignment.svg: per assignment the seeds'
    accuracies, their mean and its 95% interval;
  - replaces these rows (recipe names suffixed "@main-job") in
    RESULTS_DIR/compression.json.
The 1-bit modules come from the "modules (...)" line quant-bert-train
finetune logs (OUTPUT_DIR/NAME-seedS.train.log). Python standard library
only.
"""

import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import (accuracy, interval, paired, record,  # noqa: E402
                     replace_rows, replace_section, seed_accuracies,
                     tensor_bytes, write_atomically)

# (training, [(configuration, assignment)]), the fixed policy first.
VARIANTS = [
    ("naive", [("sensimix-naive-meanscale", "fixed"),
               ("sensitivity-naive-meanscale", "sensitivity"),
               ("sensitivity-weights-naive-meanscale", "weights-only"),
               ("random1-naive-meanscale", "random 1"),
               ("random2-naive-meanscale", "random 2")]),
    ("ABWR + PT + ILF", [("sensimix-meanscale", "fixed"),
                         ("sensitivity-meanscale", "sensitivity"),
                         ("sensitivity-weights-meanscale", "weights-only"),
                         ("random1-meanscale", "random 1"),
                         ("random2-meanscale", "random 2")]),
]
COLORS = {"fixed": "#444444", "sensitivity": "#d62728",
          "weights-only": "#ff7f0e", "random 1": "#1f77b4",
          "random 2": "#2ca02c"}
PAIRS = [("sensitivity", "fixed"), ("sensitivity", "random 1"),
         ("sensitivity", "random 2"), ("weights-only", "fixed"),
         ("sensitivity", "weights-only"), ("fixed", "random 1"),
         ("fixed", "random 2")]


def binary_modules(out, name, seeds):
    """The 1-bit modules the run logged, as ["layer.3.ffn", ...]: from the
    "modules (...)" line, or, in logs older than it (the fixed policy's
    runs of 7 Dec), the FFNs of the "MP layers" of the recipe line."""
    mp_layers = None
    for seed in seeds:
        log = os.path.join(out, f"{name}-seed{seed}.train.log")
        if not os.path.exists(log):
            continue
        for line in open(log):
            if line.startswith("modules ("):
                return [m.split("=")[0] for m in
                        line.split(":", 1)[1].split(";")[0].split()
                        if m.endswith("=binary")]
            found = re.search(r"; MP layers ([0-9 ]+) \(", line)
            if line.startswith("recipe sensimix") and found:
                mp_layers = found.group(1).split()
    if mp_layers is None:
        raise SystemExit(f"assignment_report.py: no 'modules (' or 'MP "
                         f"layers' line in the logs of {name}")
    return [f"layer.{layer}.ffn" for layer in mp_layers]


def summed_sensitivity(report, modules):
    """The 1-bit modules' measured sensitivities, summed."""
    total = 0.0
    for module in modules:
        _, layer, kind = module.split(".")
        total += next(m["sensitivity"]["binary"] for m in report["modules"]
                      if m["layer"] == int(layer) and m["module"] == kind)
    return total


def short(modules):
    """"layer.1.attention" -> "A1", "layer.3.ffn" -> "F3"."""
    return " ".join(("A" if m.endswith("attention") else "F") +
                    m.split(".")[1] for m in modules)


def svg(groups, teacher, path, width=1000, height=400):
    """Per training variant, per assignment: seed dots, the mean (bar) and
    its 95% interval (whisker); the teacher dashed."""
    left, right, top, bottom = 60, 20, 30, 85
    values = [v for _, points in groups for p in points for v in p["runs"]]
    values += [p["mean"] + sign * p["half"] for _, points in groups
               for p in points if not math.isnan(p["half"]) for sign in (-1, 1)]
    values += [teacher]
    step = next(s for s in (0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
                if (max(values) - min(values)) / s <= 8)
    y0 = math.floor(min(values) / step) * step
    y1 = math.ceil(max(values) / step) * step
    w, h = width - left - right, height - top - bottom
    columns = sum(len(points) for _, points in groups) + len(groups) - 1
    pitch = w / columns

    def py(y):
        return top + (1 - (y - y0) / (y1 - y0)) * h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect x="{left}" y="{top}" width="{w}" height="{h}" '
           'fill="none" stroke="#999"/>']
    for i in range(round((y1 - y0) / step) + 1):
        y = y0 + step * i
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" '
                   f'text-anchor="end">{y:.3f}</text>')
        out.append(f'<line x1="{left}" x2="{left + 4}" y1="{py(y):.1f}" '
                   f'y2="{py(y):.1f}" stroke="#999"/>')
    ty = py(teacher)
    out.append(f'<line x1="{left}" x2="{left + w}" y1="{ty:.1f}" '
               f'y2="{ty:.1f}" stroke="#444" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{left + w - 4}" y="{ty - 4:.1f}" '
               'text-anchor="end" fill="#444">teacher (FP32)</text>')
    column = 0
    for title, points in groups:
        first = column
        for p in points:
            cx = left + (column + 0.5) * pitch
            color = COLORS[p["assignment"]]
            for i, v in enumerate(p["runs"]):
                out.append(f'<circle cx="{cx - 10 + 10 * (i % 3):.1f}" '
                           f'cy="{py(v):.1f}" r="2.5" fill="{color}" '
                           'fill-opacity="0.5"/>')
            out.append(f'<line x1="{cx - 14:.1f}" x2="{cx + 14:.1f}" '
                       f'y1="{py(p["mean"]):.1f}" y2="{py(p["mean"]):.1f}" '
                       f'stroke="{color}" stroke-width="2.5"/>')
            if not math.isnan(p["half"]):
                out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" '
                           f'y1="{py(p["mean"] - p["half"]):.1f}" '
                           f'y2="{py(p["mean"] + p["half"]):.1f}" '
                           f'stroke="{color}"/>')
            out.append(f'<text x="{cx:.1f}" y="{top + h + 15}" '
                       f'text-anchor="middle" fill="{color}">'
                       f'{p["assignment"]}</text>')
            out.append(f'<text x="{cx:.1f}" y="{top + h + 28}" '
                       f'text-anchor="middle" fill="#666">'
                       f'{short(p["modules"])}</text>')
            out.append(f'<text x="{cx:.1f}" y="{top + h + 41}" '
                       f'text-anchor="middle" fill="#666">'
                       f'{p["sensitivity"]:+.4f}</text>')
            out.append(f'<text x="{cx:.1f}" y="{top + h + 54}" '
                       f'text-anchor="middle" fill="#666">'
                       f'{p["weights_only"]:+.4f}</text>')
            column += 1
        middle = left + (first + (column - first) / 2) * pitch
        out.append(f'<text x="{middle:.1f}" y="{top - 8}" '
                   f'text-anchor="middle" font-weight="bold">trained '
                   f'{title}</text>')
        if column < columns:
            x = left + (column + 0.5) * pitch
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
                       f'y2="{top + h}" stroke="#ccc"/>')
            column += 1
    out.append(f'<text x="14" y="{top + h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + h / 2})">test accuracy '
               '(seeds, mean, 95% interval)</text>')
    out.append(f'<text x="{left}" y="{height - 6}" fill="#666">1-bit modules '
               '(A: attention, F: FFN, by layer), their summed sensitivity '
               'as deployed and weights only; every assignment 5.67 bits '
               'per encoder-linear weight</text>')
    out.append("</svg>")
    write_atomically(path, "\n".join(out) + "\n")


def main():
    out, teacher_dir, results, seeds = sys.argv[1:5]
    seeds = seeds.split()
    teacher = accuracy(os.path.join(out, "teacher.txt"))
    # 1-bit modules measured as deployed (weights and inputs), and weights
    # alone.
    report = json.load(open(os.path.join(out, "sensitivity.json")))
    weights = json.load(open(os.path.join(out, "sensitivity-weights.json")))
    _, teacher_encoder = tensor_bytes(teacher_dir)
    table = ["| training | assignment | configuration | 1-bit modules | "
             "Σ sensitivity (deployed) | Σ sensitivity (weights only) | "
             "seeds | test accuracy (mean ± sd) | 95% interval | "
             "vs teacher (points) | encoder bytes (MB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    pairs = ["| training | difference | seeds | mean (points) | "
             "95% interval |", "|---|---|---|---|---|"]
    records, groups = [], []
    for title, configs in VARIANTS:
        points, runs_of = [], {}
        for name, assignment in configs:
            runs = seed_accuracies(out, name, seeds)
            if not runs:
                continue
            runs_of[assignment] = runs
            modules = binary_modules(out, name, seeds)
            sensitivity = summed_sensitivity(report, modules)
            weights_only = summed_sensitivity(weights, modules)
            mean, sd, half = interval(list(runs.values()))
            bundle = os.path.join(out, f"{name}-bundle")
            encoder = (tensor_bytes(bundle)[1] if os.path.exists(
                os.path.join(bundle, "model.safetensors")) else float("nan"))
            span = (f"[{mean - half:.4f}, {mean + half:.4f}]"
                    if not math.isnan(half) else "—")
            table.append(
                f"| {title} | {assignment} | {name} | {short(modules)} | "
                f"{sensitivity:+.4f} | {weights_only:+.4f} | {len(runs)} | "
                f"{mean:.4f} ± {sd:.4f} | "
                f"{span} | {100 * (mean - teacher):+.2f} | "
                f"{encoder / 1e6:.3f} ({100 * encoder / teacher_encoder:.1f}%) |")
            if os.path.exists(bundle):
                records.append(record(f"{name}@main-job", runs, teacher,
                                      tensor_bytes(bundle)[0]))
            points.append({"assignment": assignment, "modules": modules,
                           "sensitivity": sensitivity,
                           "weights_only": weights_only, "mean": mean,
                           "half": half, "runs": list(runs.values())})
        groups.append((title, points))
        for a, b in PAIRS:
            difference = paired(runs_of, a, b)
            if not difference:
                continue
            count, mean, half = difference
            pairs.append(f"| {title} | {a} − {b} | {count} | "
                         f"{mean:+.2f} | [{mean - half:+.2f}, "
                         f"{mean + half:+.2f}] |")
    text = table + ["", "Paired by seed, in points:", ""] + pairs + [
        "", "![accuracy per assignment](compression-assignment.svg)"]
    replace_section(os.path.join(results, "compression.md"), "assignment",
                    "\n".join(text))
    svg(groups, teacher, os.path.join(results, "compression-assignment.svg"))
    replace_rows(os.path.join(results, "compression.json"), records)


if __name__ == "__main__":
    main()
