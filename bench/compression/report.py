#!/usr/bin/env python3
"""Writes docs/results/compression.md and .svg from bench/compression/run's
output directory: test scores per configuration and seed, the bundles'
sizes from their bit-widths, and the FP32 model's sensitivity.json."""
import json
import math
import os
import re
import statistics
import struct
import sys

ORDER = [
    ("fp32-control", "FP32, the same 3 epochs of fine-tuning, no quantization"),
    ("q8bert", "Q8BERT QAT (8-bit weights and activations)"),
    ("sensimix", "SensiMix, 2 of 4 layers MP: ABWR + PT + ILF"),
    ("sensimix-no-abwr", "SensiMix without ABWR"),
    ("sensimix-no-pt", "SensiMix without PT"),
    ("sensimix-no-ilf", "SensiMix without ILF"),
    ("sensimix-naive", "SensiMix MP layers, naive binarization (none of the three)"),
    ("ternary-kd-rep", "ternary, KD pred + rep"),
    ("ternary-kd-attscore", "ternary, KD pred + rep + attention-score MSE"),
    ("ternary-kd-map", "ternary, KD pred + rep + attention-map KL"),
    ("ternary-kd-out", "ternary, KD pred + rep + attention-output MSE"),
    ("ternary-kd-unified", "ternary, KD pred + rep + unified map/output (w = 0.5)"),
]
BITS = {"f32": 32, "f16": 16, "bf16": 16, "i8": 8, "ternary": 2, "binary": 1}
DTYPE_BITS = {"F32": 32, "F16": 16, "BF16": 16, "F64": 64, "I64": 64,
              "I32": 32, "I16": 16, "I8": 8, "U8": 8, "BOOL": 8}


def header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h


def numel(shape):
    return math.prod(shape) if shape else 1


def size_bits(directory):
    """Bits of a checkpoint or bundle: quantized weights at their precision's
    bit-width, every other tensor at its stored dtype's."""
    tensors = header(os.path.join(directory, "model.safetensors"))
    quantized = {}
    quant_path = os.path.join(directory, "quant.json")
    if os.path.exists(quant_path):
        quant = json.load(open(quant_path))
        for entry in quant.get("linears", {}).values():
            quantized[entry["weight"]] = (
                entry["in_features"] * entry["out_features"], entry["precision"])
        for entry in quant.get("embeddings", {}).values():
            quantized[entry["weight"]] = (
                entry["num_embeddings"] * entry["embedding_dim"],
                entry["precision"])
    total = 0
    for name, t in tensors.items():
        if name in quantized:
            count, precision = quantized[name]
            total += count * BITS[precision]
        else:
            total += numel(t["shape"]) * DTYPE_BITS[t["dtype"]]
    return total


def scores(path):
    text = open(path).read()
    m = re.search(r"accuracy ([0-9.]+)\s+macro-F1 ([0-9.]+)\s+MCC ([-0-9.]+)",
                  text)
    if not m:
        sys.exit("report.py: no scores line in %s" % path)
    return tuple(float(v) for v in m.groups())


def mean_spread(values):
    if len(values) == 1:
        return values[0], 0.0
    return statistics.mean(values), statistics.stdev(values)


def svg(rows, teacher_acc, path, width=820, bar_h=24):
    left, top = 400, 40
    lo = min(m - s for _, m, s, _ in rows + [("", teacher_acc, 0, 0)]) - 0.02
    hi = max(m + s for _, m, s, _ in rows + [("", teacher_acc, 0, 0)]) + 0.01
    lo = math.floor(lo * 50) / 50
    span = width - left - 90
    x = lambda v: left + span * (v - lo) / (hi - lo)
    height = top + bar_h * len(rows) + 40
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<text x="10" y="22" font-size="14">Brown 4-way test accuracy, '
           'mean and standard deviation over seeds (axis from %.2f)</text>' % lo]
    for i, (label, m, s, pct) in enumerate(rows):
        y = top + i * bar_h
        color = {"F": "#8c8c8c", "Q": "#4c72b0", "S": "#dd8452",
                 "t": "#55a868"}[label[0]]
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                   % (left - 6, y + 16, label))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                   % (left, y + 4, x(m) - left, bar_h - 8, color))
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black"/>'
                   % (x(m - s), x(m + s), y + 12, y + 12))
        out.append('<text x="%.1f" y="%d">%.3f (%.1f%% size)</text>'
                   % (x(m + s) + 4, y + 16, m, pct))
    tx = x(teacher_acc)
    out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#c44e52" '
               'stroke-dasharray="4,3"/>' % (tx, tx, top - 4,
                                             top + bar_h * len(rows)))
    out.append('<text x="%.1f" y="%d" fill="#c44e52" text-anchor="middle">'
               'FP32 teacher %.3f</text>' % (tx, top + bar_h * len(rows) + 16,
                                              teacher_acc))
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def main():
    out_dir, teacher, md_path, svg_path, seeds, epoch_sentences = sys.argv[1:7]
    seeds = seeds.split()
    teacher_scores = scores(os.path.join(out_dir, "teacher.txt"))
    teacher_bits = size_bits(teacher)
    lines = []
    rows = []
    for name, label in ORDER:
        results = []
        for seed in seeds:
            path = os.path.join(out_dir, "%s-seed%s.txt" % (name, seed))
            if os.path.exists(path):
                results.append(scores(path))
        if not results:
            continue
        bundle = os.path.join(out_dir, name + "-bundle")
        bits = size_bits(bundle) if os.path.isdir(bundle) else teacher_bits
        acc = mean_spread([r[0] for r in results])
        f1 = mean_spread([r[1] for r in results])
        mcc = mean_spread([r[2] for r in results])
        seconds = [int(open(os.path.join(out_dir, "%s-seed%s.seconds"
                                         % (name, s))).read())
                   for s in seeds
                   if os.path.exists(os.path.join(out_dir, "%s-seed%s.seconds"
                                                  % (name, s)))]
        pct = 100.0 * bits / teacher_bits
        lines.append("| %s | %.4f ± %.4f | %+.2f | %.3f ± %.3f | %.3f ± %.3f "
                     "| %.2f MB (%.1f%%) | %d | %s |"
                     % (label, acc[0], acc[1],
                        100 * (acc[0] - teacher_scores[0]), f1[0], f1[1],
                        mcc[0], mcc[1], bits / 8e6, pct, len(results),
                        statistics.median(seconds) if seconds else "—"))
        rows.append((label.split(" (")[0], acc[0], acc[1], pct))

    md = []
    md.append("| model | test accuracy | vs teacher (points) | macro-F1 | MCC "
              "| size (from bit-widths) | seeds | train s (median) |")
    md.append("|---|---|---|---|---|---|---|---|")
    md.append("| FP32 teacher (the starting point of every run) | %.4f | — "
              "| %.3f | %.3f | %.2f MB (100%%) | 1 | — |"
              % (teacher_scores[0], teacher_scores[1], teacher_scores[2],
                 teacher_bits / 8e6))
    md.extend(lines)
    table = "\n".join(md)

    # The weights-only measure the section describes (runs before 7 Dec
    # 2026 wrote it as sensitivity.json).
    weights_only = os.path.join(out_dir, "sensitivity-weights.json")
    sens = json.load(open(weights_only if os.path.exists(weights_only) else
                          os.path.join(out_dir, "sensitivity.json")))
    s_md = ["| layer | module | params | i8 | ternary | binary |",
            "|---|---|---|---|---|---|"]
    for m in sens["modules"]:
        s = m["sensitivity"]
        s_md.append("| %d | %s | %d | %+.4f | %+.4f | %+.4f |"
                    % (m["layer"], m["module"], m["params"], s.get("i8", 0),
                       s.get("ternary", 0), s.get("binary", 0)))
    sens_table = "\n".join(s_md)

    begin, end = "<!-- table begin -->", "<!-- table end -->"
    sbegin, send = "<!-- sensitivity begin -->", "<!-- sensitivity end -->"
    text = open(md_path).read() if os.path.exists(md_path) else ""
    if begin in text and sbegin in text:
        text = (text.split(begin)[0] + begin + "\n" + table + "\n" + end
                + text.split(end)[1])
        text = (text.split(sbegin)[0] + sbegin + "\n" + sens_table + "\n"
                + send + text.split(send)[1])
        open(md_path, "w").write(text)
    else:
        open(md_path, "w").write(
            "# Compression results\n\n%s\n%s\n%s\n\n%s\n%s\n%s\n"
            % (begin, table, end, sbegin, sens_table, send))
    svg(rows, teacher_scores[0], svg_path)
    print(table)
    print()
    print("baseline dev loss %.4f" % sens["baseline_loss"])
    print(sens_table)


if __name__ == "__main__":
    main()
