#!/usr/bin/env python3
"""structured_report.py: the pruning / low-rank / sharing table of compression.md.

    structured_report.py OUTPUT_DIR TEACHER_DIR RESULTS_DIR SEEDS [SECTION]

Reads bench/compression/structured's results in OUTPUT_DIR and
  - replaces the text between `<!-- structured:begin -->` and
    `<!-- structured:end -->` in RESULTS_DIR/compression.md,
  - writes RESULTS_DIR/compression-structured.svg (test accuracy against
    the encoder layers' bytes and against the whole model's, one point per
    configuration, bars for the seeds' spread),
  - replaces its rows (recipes prune-*, lowrank-*, share-*,
    fp32-control-structured)
    in RESULTS_DIR/compression.json, {"results": [{"recipe", "seeds",
    "test_acc_mean", "test_acc_std", "delta_vs_teacher", "bytes"}]}.
SECTION "sparse" does the same for the gradual magnitude pruning rows
(sparse-*) alone: the `sparse` section, compression-sparse.svg, their
json rows; the default, "structured", every other configuration.
Python standard library only.
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import (accuracy, replace_rows, replace_section,  # noqa: E402
                     tensor_bytes, write_atomically)

CONFIGS = [
    ("fp32-control", "distillation alone, no cut (control)"),
    ("prune-25", "25% of heads and FFN neurons pruned"),
    ("prune-50", "50% of heads and FFN neurons pruned"),
    ("prune-75", "75% of heads and FFN neurons pruned"),
    ("lowrank-75", "low-rank, factors 75% of the linears' weights"),
    ("lowrank-50", "low-rank, factors 50%"),
    ("lowrank-25", "low-rank, factors 25%"),
    ("prune-50+sensimix", "prune-50, then SensiMix QAT (top 2 layers 1-bit FFN)"),
    ("lowrank-50+int8", "lowrank-50, then static int8 (PTQ, entropy)"),
    ("lowrank-50+q8bert", "lowrank-50, then Q8BERT QAT (int8, 3 epochs)"),
    ("share-2", "2 groups of 2 layers, each group one layer's weights (ALBERT)"),
    ("share-1", "all 4 layers run one shared layer"),
    ("share-1-emb128", "share-1, embeddings 128 wide + projection to 256"),
    ("share-1-emb128+int8", "share-1-emb128, then static int8 (PTQ, entropy)"),
    ("sparse-80", "gradual magnitude pruning, 80% of the encoder's 16x4 weight "
                  "blocks zero (FP32, distilled)"),
    ("sparse-90", "the same, 90% zero"),
    ("sparse-0+q8bert", "Q8BERT QAT distilled for 6 epochs, nothing pruned "
                        "(control of the next two)"),
    ("sparse-80+q8bert", "80% zero blocks, pruned during Q8BERT QAT (int8, "
                         "distilled, 6 epochs)"),
    ("sparse-90+q8bert", "90% zero blocks, pruned during Q8BERT QAT"),
    ("sparse-80+sensimix", "80% zero blocks, pruned during SensiMix QAT (top 2 "
                           "layers' FFNs 1-bit in 32x64 blocks, the rest "
                           "int8 in 16x4)"),
]


def kind_of(name):
    return ("combo" if "+" in name else "fp32" if name.startswith("fp32")
            else name.split("-")[0])


COLORS = {"fp32": "#444444", "prune": "#1f77b4", "lowrank": "#2ca02c",
          "share": "#9467bd", "sparse": "#ff7f0e", "combo": "#d62728"}


def panel(points, teacher, key, title, x_left, top, w, h, y0, y1):
    """One scatter panel: accuracy against points[key] bytes (log scale),
    labels placed greedily where they overlap no earlier label or point."""
    import math
    xs = [p[key] for p in points] + [teacher[key]]
    x0, x1 = math.log10(min(xs)) - 0.08, math.log10(max(xs)) + 0.08

    def px(x):
        return x_left + (math.log10(x) - x0) / (x1 - x0) * w

    def py(y):
        return top + (1 - (y - y0) / (y1 - y0)) * h

    out = [f'<rect x="{x_left}" y="{top}" width="{w}" height="{h}" '
           'fill="none" stroke="#999"/>',
           f'<text x="{x_left + w / 2}" y="{top - 6}" text-anchor="middle" '
           f'font-weight="bold">{title}</text>']
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        out.append(f'<text x="{x_left - 6}" y="{py(y) + 4:.1f}" '
                   f'text-anchor="end">{y:.3f}</text>')
    for exponent in range(int(math.floor(x0)), int(math.ceil(x1)) + 1):
        for mantissa in (1, 2, 5):
            x = mantissa * 10 ** exponent
            if x0 <= math.log10(x) <= x1:
                out.append(f'<text x="{px(x):.1f}" y="{top + h + 16}" '
                           f'text-anchor="middle">{x / 1e6:g} MB</text>')
    ty = py(teacher["acc"])
    out.append(f'<line x1="{x_left}" x2="{x_left + w}" y1="{ty:.1f}" '
               f'y2="{ty:.1f}" stroke="#444" stroke-dasharray="4 3"/>')
    taken = []  # (x0, y0, x1, y1) of placed labels and markers

    def free(box):
        return all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or
                   box[1] > b[3] for b in taken)

    marks = [(px(teacher[key]), ty, "teacher", COLORS["fp32"], 0)] + \
        [(px(p[key]), py(p["mean"]), p["name"], COLORS[kind_of(p["name"])],
          p["std"]) for p in points]
    for cx, cy, _, _, _ in marks:
        taken.append((cx - 5, cy - 5, cx + 5, cy + 5))
    for cx, cy, name, color, std in marks:
        if std:
            out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" '
                       f'y1="{cy - std / (y1 - y0) * h:.1f}" '
                       f'y2="{cy + std / (y1 - y0) * h:.1f}" stroke="{color}"/>')
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{color}"/>')
    for cx, cy, name, color, _ in marks:
        width = 6.2 * len(name)
        for dy in (0, -13, 13, -26, 26, -39, 39, -52, 52, -65, 65):
            for side in (1, -1):
                x = cx + 7 if side == 1 else cx - 7 - width
                box = (x, cy + dy - 9, x + width, cy + dy + 3)
                if box[0] >= x_left and box[2] <= x_left + w and \
                        box[1] >= top and box[3] <= top + h and free(box):
                    break
            else:
                continue
            break
        taken.append(box)
        if dy:
            out.append(f'<line x1="{cx:.1f}" y1="{cy:.1f}" '
                       f'x2="{box[0] if side == 1 else box[2]:.1f}" '
                       f'y2="{cy + dy - 3:.1f}" stroke="{color}" '
                       'stroke-width="0.5"/>')
        out.append(f'<text x="{box[0]:.1f}" y="{cy + dy:.1f}" '
                   f'fill="{color}">{name}</text>')
    return out


def svg(points, teacher, path, width=1100, height=460):
    """Accuracy (y) against the encoder layers' bytes (left) and the whole
    model's bytes (right), both log scale."""
    left, gap, right, top, bottom = 60, 60, 170, 30, 50
    ys = [p["mean"] - p["std"] for p in points] + \
         [p["mean"] + p["std"] for p in points] + [teacher["acc"]]
    y0, y1 = min(ys) - 0.01, max(ys) + 0.01
    w = (width - left - gap - right) / 2
    h = height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" font-family="sans-serif" font-size="11">']
    out += panel(points, teacher, "encoder", "encoder layers' bytes (log)",
                 left, top, w, h, y0, y1)
    out += panel(points, teacher, "total", "model.safetensors bytes (log)",
                 left + w + gap, top, w, h, y0, y1)
    out.append(f'<text x="14" y="{top + h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + h / 2})">test accuracy '
               '(mean ± sd of the seeds)</text>')
    # The kinds the points show, in this order.
    kinds = [("prune", "pruning"), ("lowrank", "low-rank"),
             ("share", "weight sharing"), ("sparse", "magnitude pruning"),
             ("combo", "with quantization")]
    shown = {kind_of(p["name"]) for p in points}
    legend = [("teacher (FP32; dashed:", COLORS["fp32"]),
              ("its accuracy)", None)] + [
        (label, COLORS[kind]) for kind, label in kinds if kind in shown]
    for i, (label, color) in enumerate(legend):
        y = top + 10 + 18 * i
        if color:
            out.append(f'<circle cx="{width - right + 20}" cy="{y}" r="4" '
                       f'fill="{color}"/>')
        out.append(f'<text x="{width - right + 30}" y="{y + 4}">{label}</text>')
    out.append("</svg>")
    write_atomically(path, "\n".join(out) + "\n")


def main():
    out, teacher_dir, results, seeds = sys.argv[1:5]
    section = sys.argv[5] if len(sys.argv) > 5 else "structured"
    if section not in ("structured", "sparse"):
        sys.exit(f"structured_report.py: error: unknown section '{section}'")
    seeds = seeds.split()
    configs = [(name, what) for name, what in CONFIGS
               if name.startswith("sparse-") == (section == "sparse")]
    teacher_acc = accuracy(os.path.join(out, "teacher.txt"))
    teacher_total, teacher_encoder = tensor_bytes(teacher_dir)
    latency = {}
    path = os.path.join(out, "latency.tsv")
    if os.path.exists(path):
        for line in open(path):
            name, _, ms = line.split("\t")
            if ms.strip():
                latency.setdefault(name, []).append(float(ms))
    load = ""
    if os.path.exists(os.path.join(out, "loadavg.txt")):
        load = open(os.path.join(out, "loadavg.txt")).read().split()[0]

    def object_mb(name):
        """The compiled object's size (seed 1's model), or a dash."""
        path = os.path.join(out, f"classify-{name}", "model.o")
        return f"{os.path.getsize(path) / 1e6:.1f}" if os.path.exists(path) else "—"

    def ms(name):
        values = latency.get(name)
        return f"{statistics.median(values):.2f}" if values else "—"

    teacher_ms = statistics.median(latency["teacher"]) if "teacher" in latency else None
    # The control: distillation alone (structured), or the same QAT and
    # distillation with nothing pruned (sparse).
    control_name = "fp32-control" if section == "structured" else "sparse-0+q8bert"
    control = [accuracy(os.path.join(out, f"{control_name}-seed{s}.txt"))
               for s in seeds
               if os.path.exists(os.path.join(out, f"{control_name}-seed{s}.txt"))]
    control_acc = statistics.mean(control) if control else None
    rows = [f"| teacher (FP32) | the main job's fine-tuned model | "
            f"{teacher_acc:.4f} | — | — | {teacher_total / 1e6:.1f} | "
            f"{teacher_encoder / 1e6:.2f} (100%) | {object_mb('teacher')} | "
            f"{ms('teacher')} | — |"]
    points, records = [], []
    for name, what in configs:
        runs = [s for s in seeds
                if os.path.exists(os.path.join(out, f"{name}-seed{s}.txt"))]
        if not runs:
            continue
        accs = [accuracy(os.path.join(out, f"{name}-seed{s}.txt")) for s in runs]
        sizes = [tensor_bytes(os.path.join(out, f"{name}-seed{s}", "best"))
                 for s in runs]
        total = statistics.mean(t for t, _ in sizes)
        encoder = statistics.mean(e for _, e in sizes)
        mean = statistics.mean(accs)
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        speed = "—"
        if teacher_ms and name in latency:
            speed = f"{teacher_ms / statistics.median(latency[name]):.2f}x"
        versus = (f"{100 * (mean - control_acc):+.1f}"
                  if control_acc is not None and name != control_name else "—")
        rows.append(f"| {name} | {what} | {mean:.4f} ± {std:.4f} | "
                    f"{100 * (mean - teacher_acc):+.1f} | {versus} | "
                    f"{total / 1e6:.1f} | "
                    f"{encoder / 1e6:.2f} ({100 * encoder / teacher_encoder:.0f}%) | "
                    f"{object_mb(name)} | {ms(name)} | {speed} |")
        points.append({"name": name, "mean": mean, "std": std,
                       "total": total, "encoder": encoder})
        records.append({"recipe": name if name != "fp32-control"
                        else "fp32-control-structured",
                        "seeds": len(runs), "test_acc_mean": round(mean, 4),
                        "test_acc_std": round(std, 4),
                        "delta_vs_teacher": round(100 * (mean - teacher_acc), 2),
                        "bytes": int(total)})

    table = "\n".join(
        ["| configuration | what | test accuracy | vs teacher (points) | "
         "vs control (points) | bytes (MB) | encoder bytes (MB) | "
         "object (MB) | compiled ms | speed-up |",
         "|---|---|---|---|---|---|---|---|---|---|"] + rows)
    if load:
        table += (f"\n\nObject: the size of quant-bert-compile's model.o for seed "
                  f"1's model. "
                  f"Compiled latency: seed 1's models, batch 1, one thread, "
                  f"500 test sentences, median of 3 round-robin passes; load "
                  f"average {load} at the end of the timing.")
    replace_section(os.path.join(results, "compression.md"), section, table)

    svg(points, {"acc": teacher_acc, "total": teacher_total,
                 "encoder": teacher_encoder},
        os.path.join(results, f"compression-{section}.svg"))

    replace_rows(os.path.join(results, "compression.json"), records)


if __name__ == "__main__":
    main()
