#!/usr/bin/env python3
"""Turns sweep.py's JSON into docs/results/e2e.json, the generated tables of
docs/results/e2e.md (between its `<!-- sweep:begin -->` and
`<!-- sweep:end -->` lines) and docs/results/e2e.svg. Python standard
library only.

report.py SWEEP.json BENCH_DIR DOCS_RESULTS_DIR

BENCH_DIR holds quant-bert-compile's summaries (NAME.summary.txt), the FP32
checkpoint (int8_12_fp32/) and the ONNX graphs (onnx/), for the sizes.
"""
import json
import os
import re
import sys

PEER = "onnxruntime int8 12l"
ORDER = ["quant-bert sensimix 3+6", "quant-bert int8 80% block-sparse 12l",
         "quant-bert int8 12l", "quant-bert int8 dynamic 12l",
         "onnxruntime int8 12l", "onnxruntime fp32 12l", "libtorch fp32 12l"]
COLORS = {"quant-bert sensimix 3+6": "#dd8452", "quant-bert int8 12l": "#c44e52",
          "quant-bert int8 dynamic 12l": "#da8bc3",
          "quant-bert int8 80% block-sparse 12l": "#55a868",
          "onnxruntime int8 12l": "#4c72b0", "onnxruntime fp32 12l": "#8172b3",
          "libtorch fp32 12l": "#937860"}
SUMMARIES = {"quant-bert sensimix 3+6": "sensimix_3_6", "quant-bert int8 12l": "int8_12",
             "quant-bert int8 dynamic 12l": "int8dyn_12",
             "quant-bert int8 80% block-sparse 12l": "sparse80_int8_12"}


def sizes(bench):
    """Bytes each model keeps: weights of the compiled models (and their
    objects), FP32 parameters, ONNX files."""
    out = {}
    for model, name in SUMMARIES.items():
        path = os.path.join(bench, name + ".summary.txt")
        if os.path.exists(path):
            text = open(path).read()
            weights = re.search(r"weight bytes:(.*)", text).group(1).split()
            total = sum(int(weights[i + 1]) for i in range(0, len(weights), 2))
            obj = int(re.search(r"object .*: (\d+) bytes", text).group(1))
            out[model] = "%.1f MB weights (object %.1f MB)" % (total / 1e6, obj / 1e6)
    checkpoint = os.path.join(bench, "int8_12_fp32", "model.safetensors")
    if os.path.exists(checkpoint):
        out["libtorch fp32 12l"] = "%.1f MB (safetensors)" % (os.path.getsize(checkpoint) / 1e6)
    for model, file in [("onnxruntime fp32 12l", "fp32-plain.onnx"),
                        ("onnxruntime int8 12l", "int8-plain.onnx")]:
        path = os.path.join(bench, "onnx", file)
        if os.path.exists(path):
            out[model] = "%.1f MB (.onnx)" % (os.path.getsize(path) / 1e6)
    return out


def index(results):
    return {(r["model"], r["threads"], r["seq"], r["batch"]): r for r in results}


def configs(results):
    return sorted({(r["threads"], r["seq"], r["batch"]) for r in results})


def table(results, models, cell, with_batch=True, batches=None):
    """Rows per (threads, seq[, batch]), one column per model; cell(row)
    formats a result (None: not measured)."""
    rows = index(results)
    key_columns = ["threads", "seq"] + (["batch"] if with_batch else [])
    lines = ["| " + " | ".join(key_columns + models) + " |",
             "|" + "---|" * (len(key_columns) + len(models))]
    for threads, seq, batch in configs(results):
        if batches and batch not in batches:
            continue
        keys = [threads, seq] + ([batch] if with_batch else [])
        cells = [cell(rows.get((m, threads, seq, batch)), rows.get((PEER, threads, seq, batch)))
                 for m in models]
        lines.append("| " + " | ".join(str(k) for k in keys) + " | " +
                     " | ".join(c or "-" for c in cells) + " |")
    return "\n".join(lines)


def present(results, exclude=()):
    return [m for m in ORDER if m not in exclude and any(r["model"] == m for r in results)]


def latency_table(results):
    def cell(r, _):
        return r and "%.2f (%.2f-%.2f)%s" % (
            r["median_ms"], r["p10_ms"], r["p90_ms"],
            " [%s]" % r["variant"] if r.get("variant") else "")
    return table(results, present(results), cell)


def speedup_table(results):
    def cell(r, peer):
        return r and peer and "%.2fx" % (peer["median_ms"] / r["median_ms"])
    return table(results, present(results, exclude=(PEER,)), cell)


def throughput_table(results):
    batches = sorted({r["batch"] for r in results if r["batch"] > 1})
    return table(results, present(results),
                 lambda r, _: r and "%.1f" % r["sentences_per_s"],
                 with_batch=False, batches=batches)


def targets(results):
    rows = index(results)
    lines = []

    def ms(model, threads, seq=128, batch=1):
        r = rows.get((model, threads, seq, batch))
        return r["median_ms"] if r else None

    checks = [
        ("quant-bert SensiMix 3+6 >= 3x ONNX Runtime int8 (seq 128, batch 1, 2 threads)",
         ms(PEER, 2), ms("quant-bert sensimix 3+6", 2), 3.0),
        ("quant-bert int8 12 layers >= 1.3x ONNX Runtime int8 (seq 128, batch 1, 2 threads)",
         ms(PEER, 2), ms("quant-bert int8 12l", 2), 1.3),
        ("quant-bert dynamic int8 12 layers vs ONNX Runtime dynamic int8, both "
         "quantizing activations at run time (seq 128, batch 1, 2 threads)",
         ms(PEER, 2), ms("quant-bert int8 dynamic 12l", 2), None),
        ("quant-bert int8 with 80% of the encoder's 16x4 weight blocks zero >= 4x "
         "ONNX Runtime int8 (seq 128, batch 1, 2 threads)",
         ms(PEER, 2), ms("quant-bert int8 80% block-sparse 12l", 2), 4.0),
        ("SensiMix 3+6 on 2 threads >= 1.8x its 1-thread time (seq 128, batch 1)",
         ms("quant-bert sensimix 3+6", 1), ms("quant-bert sensimix 3+6", 2), 1.8),
    ]
    lines.append("| target | measured | met? |")
    lines.append("|---|---|---|")
    for text, slow, fast, goal in checks:
        if slow is None or fast is None:
            lines.append("| %s | not measured | - |" % text)
            continue
        ratio = slow / fast
        met = "no target" if goal is None else "yes" if ratio >= goal else "**no**"
        lines.append("| %s | %.2fx (%.2f ms vs %.2f ms) | %s |"
                     % (text, ratio, fast, slow, met))
    return "\n".join(lines)


def parity_text(parity):
    lines = ["ORT and LibTorch on the same FP32 weights and sequence (128 tokens): "
             "largest logit difference from LibTorch FP32:", ""]
    names = {"ort-fp32-plain": "onnxruntime fp32 12l, plain graph",
             "ort-fp32-fused": "onnxruntime fp32 12l, fused graph",
             "ort-int8-plain": "onnxruntime int8 12l, plain graph",
             "ort-int8-fused": "onnxruntime int8 12l, fused graph",
             "quant-bert int8 12l": "quant-bert int8 12l (its quantization error)",
             "quant-bert int8 dynamic 12l":
                 "quant-bert int8 dynamic 12l (its quantization error)"}
    for model, diff in sorted(parity["max_abs_diff"].items()):
        lines.append("- %s: %.2e" % (names.get(model, model), diff))
    lines += ["", "Operators in the graphs ORT ran (its optimizer's output, level "
              "all):", "", "| graph | operators |", "|---|---|"]
    for graph, ops in parity["ort_operators"].items():
        text = ", ".join("%s x%d" % (op.split(":")[1], n) for op, n in ops.items())
        lines.append("| %s | %s |" % (graph, text))
    return "\n".join(lines)


def svg(results, path):
    """Speed-up over ONNX Runtime int8, one group of bars per configuration."""
    rows = index(results)
    models = [m for m in ORDER if m != PEER and any(r["model"] == m for r in results)]
    groups = [c for c in configs(results) if rows.get((PEER,) + c)]
    bar, gap, left, top = 9, 10, 150, 50
    height = top + len(groups) * (bar * len(models) + gap) + 40
    width = 820
    values = [rows[(PEER,) + c]["median_ms"] / rows[(m,) + c]["median_ms"]
              for c in groups for m in models if (m,) + c in rows]
    vmax = max(values + [1.0]) * 1.1
    scale = (width - left - 60) / vmax
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<text x="10" y="20" font-size="14">Speed-up over ONNX Runtime dynamic '
           'int8 (BERT-base shapes, median latency; &gt; 1 is faster)</text>']
    for i, m in enumerate(models):
        out.append('<rect x="%d" y="28" width="10" height="10" fill="%s"/>'
                   '<text x="%d" y="37">%s</text>' % (10 + i * 160, COLORS[m],
                                                      24 + i * 160, m))
    y = top
    for threads, seq, batch in groups:
        out.append('<text x="%d" y="%d" text-anchor="end">%d thr, seq %d, b %d</text>'
                   % (left - 6, y + bar * len(models) / 2 + 4, threads, seq, batch))
        for m in models:
            r = rows.get((m, threads, seq, batch))
            if r:
                v = rows[(PEER, threads, seq, batch)]["median_ms"] / r["median_ms"]
                out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                           '<text x="%.1f" y="%d" font-size="9">%.2f</text>'
                           % (left, y, v * scale, bar - 1, COLORS[m],
                              left + v * scale + 3, y + bar - 2, v))
            y += bar
        y += gap
    x1 = left + scale
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" '
               'stroke-dasharray="4,3"/>' % (x1, top - 4, x1, y))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">1x</text>' % (x1, y + 14))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: report.py SWEEP.json BENCH_DIR DOCS_RESULTS_DIR")
    sweep_path, bench, docs = sys.argv[1:]
    report = json.load(open(sweep_path))
    results = report["results"]
    with open(os.path.join(docs, "e2e.json"), "w") as f:
        json.dump({"machine": report["machine"], "results": results,
                   "ort_variants": report["ort_variants"],
                   "parity": report["parity"], "load": report["load"]}, f, indent=1)
        f.write("\n")
    svg(results, os.path.join(docs, "e2e.svg"))
    model_sizes = sizes(bench)
    text = "\n\n".join([
        "Generated by `bench/e2e/report.py` from the sweep of %s (%s, %d cores)."
        % (report["machine"]["date"], report["machine"]["cpu"], report["machine"]["cores"]),
        "### Against the targets\n\n" + targets(results),
        "### Latency: median ms (p10-p90)\n\nORT rows give the faster of its two "
        "graphs for each configuration ([plain] or [fused]; the slower one is in "
        "e2e.json's `ort_variants`).\n\n" + latency_table(results),
        "### Speed-up over ONNX Runtime int8 (the strongest peer)\n\n" + speedup_table(results),
        "### Batch 8 throughput: sentences per second\n\n" + throughput_table(results),
        "### Model sizes\n\n" + "\n".join("- %s: %s" % kv for kv in model_sizes.items()),
        "### Is the peer computing the same model?\n\n" + parity_text(report["parity"]),
    ])
    md = os.path.join(docs, "e2e.md")
    page = open(md).read()
    begin, end = "<!-- sweep:begin -->", "<!-- sweep:end -->"
    if begin not in page or end not in page:
        sys.exit("report.py: %s has no %s ... %s section" % (md, begin, end))
    head, rest = page.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(md, "w") as f:
        f.write(head + begin + "\n" + text + "\n" + end + tail)
    print("report.py: wrote %s, e2e.json and e2e.svg" % md, file=sys.stderr)


if __name__ == "__main__":
    main()
