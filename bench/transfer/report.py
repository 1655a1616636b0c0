#!/usr/bin/env python3
"""Writes docs/results/transfer.md's results section, transfer.json and
transfer.svg from a bench/transfer/run output directory.

report.py --output BUILD/transfer [--tasks ...] [--docs docs/results]
"""
import argparse
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "compression"))
from results import interval, replace_section, write_atomically  # noqa: E402

HELD_OUT = "gcide-pos"
SWEEP = [(lr, e) for lr in ("1e-4", "3e-4", "1e-3") for e in ("3", "10")]


def scores(path, heading=None):
    """accuracy and macro-F1 of the first metrics line (after `heading`)."""
    found = heading is None
    for line in open(path):
        if heading and line.startswith(heading):
            found = True
        if found and line.startswith("accuracy"):
            parts = line.split()
            return float(parts[1]), float(parts[3])
    raise SystemExit("report.py: no accuracy line in %s" % path)


def mcnemar(path):
    text = open(path).read()
    p = float(re.search(r"p = ([0-9.eE+-]+)", text).group(1))
    counts = re.search(r"only A (\d+), only B (\d+)", text)
    return p, int(counts.group(1)), int(counts.group(2))


def trained_steps(run):
    log = os.path.join(run, "run.log")
    text = open(log).read() if os.path.exists(log) else ""
    m = re.findall(r"trained (\d+) steps", text)
    lr = re.findall(r"learning rate ([0-9.e+-]+) \(auto", text)
    stop = "stopped early" in text
    return (int(m[-1]) if m else None), (float(lr[-1]) if lr else None), stop


def task_rows(out, task, seeds):
    d = os.path.join(out, task)
    row = {"task": task, "held_out": task == HELD_OUT}
    bow = os.path.join(d, "bow", "scores.txt")
    if not os.path.exists(bow):
        return None
    row["majority"] = scores(bow, "majority test")[0]
    row["bow"] = scores(bow, "bow test")[0]
    defaults = {}
    for s in seeds:
        run = os.path.join(d, "default-s%s" % s)
        if os.path.exists(os.path.join(run, "compare.txt")):
            acc = scores(os.path.join(run, "test.txt"))[0]
            p, only_bert, only_bow = mcnemar(os.path.join(run, "compare.txt"))
            steps, lr, stop = trained_steps(run)
            defaults[s] = {"accuracy": acc, "mcnemar_p": p, "only_bert": only_bert,
                           "only_bow": only_bow, "steps": steps, "lr": lr,
                           "stopped_early": stop}
    row["default"] = defaults
    if defaults:
        mean, sd, half = interval([v["accuracy"] for v in defaults.values()])
        row["default_mean"], row["default_sd"] = mean, sd
        row["default_ci"] = None if half != half else half  # nan: one seed
    sweep = {}
    for lr, e in SWEEP:
        run = os.path.join(d, "sweep-lr%s-e%s" % (lr, e))
        if os.path.exists(os.path.join(run, "compare.txt")):
            dev = re.findall(r"best dev accuracy ([0-9.]+)",
                             open(os.path.join(run, "run.log")).read())
            sweep["lr %s, %s epochs" % (lr, e)] = {
                "accuracy": scores(os.path.join(run, "test.txt"))[0],
                "dev": float(dev[-1]) if dev else None}
    row["sweep"] = sweep
    if sweep:
        row["sweep_best"] = max(v["accuracy"] for v in sweep.values())
        by_dev = max(sweep.items(), key=lambda kv: (kv[1]["dev"] or 0))
        row["sweep_dev_choice"] = {"cell": by_dev[0], "accuracy": by_dev[1]["accuracy"]}
    for recipe in ("q8bert", "sensimix"):
        run = os.path.join(d, recipe)
        if os.path.exists(os.path.join(run, "compare.txt")):
            row[recipe] = scores(os.path.join(run, "test.txt"))[0]
    return row


def pct(x):
    return "—" if x is None else "%.1f" % (100 * x)


def table(rows):
    lines = ["| task | classes | train | majority | bag-of-words | base encoder, defaults (3 seeds) | vs bow: McNemar p (seeds) | sweep best | defaults - sweep best | Q8BERT | SensiMix |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = r["task"] + (" (held out)" if r["held_out"] else "")
        mean = r.get("default_mean")
        cell = "—" if mean is None else "%.1f" % (100 * mean)
        if mean is not None and r.get("default_ci") is not None:
            cell += " ± %.1f" % (100 * r["default_ci"])
        ps = ", ".join("%.2g" % v["mcnemar_p"] for v in r["default"].values()) or "—"
        gap = "—" if mean is None or "sweep_best" not in r else "%+.1f" % (100 * (mean - r["sweep_best"]))
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, r.get("classes", "?"), r.get("train", "?"), pct(r["majority"]), pct(r["bow"]),
            cell, ps, pct(r.get("sweep_best")), gap, pct(r.get("q8bert")), pct(r.get("sensimix"))))
    return "\n".join(lines)


def svg(rows):
    """Grouped bars: majority, bow, defaults (mean), sweep best per task."""
    series = [("majority", "majority", "#bbbbbb"), ("bag-of-words", "bow", "#8888cc"),
              ("base encoder, defaults", "default_mean", "#cc5533"),
              ("sweep best", "sweep_best", "#e8a060")]
    width, height, left, bottom = 760, 300, 50, 40
    group = (width - left - 10) / max(1, len(rows))
    bar = group * 0.8 / len(series)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (width, height + 30)]
    plot = height - bottom
    for k in range(0, 11, 2):
        y = 10 + plot * (1 - k / 10)
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (left, width - 10, y, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%d%%</text>' % (left - 4, y + 4, k * 10))
    for i, r in enumerate(rows):
        x0 = left + i * group + group * 0.1
        for j, (_, key, color) in enumerate(series):
            v = r.get(key)
            if v is None:
                continue
            h = plot * v
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (x0 + j * bar, 10 + plot - h, bar - 1, h, color))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x0 + group * 0.4, height - bottom + 25, r["task"] + ("*" if r["held_out"] else "")))
    for j, (label, _, color) in enumerate(series):
        out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>' % (left + j * 170, height + 10, color, left + j * 170 + 14, height + 19, label))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--output", required=True)
    p.add_argument("--tasks", default="brown15,sotu-party,spam,fortunes,gcide-pos")
    p.add_argument("--seeds", default="1,2,42")
    p.add_argument("--docs", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs", "results"))
    a = p.parse_args()
    rows = []
    for task in a.tasks.split(","):
        r = task_rows(a.output, task, a.seeds.split(","))
        if r is None:
            continue
        train = os.path.join(a.output, "data", task, "train.tsv")
        labels = [line.rsplit("\t", 1)[1] for line in open(train).read().split("\n")[1:] if line]
        r["train"], r["classes"] = len(labels), len(set(labels))
        rows.append(r)
    rows.sort(key=lambda r: r["held_out"])
    write_atomically(os.path.join(a.docs, "transfer.json"),
                     json.dumps({"results": rows}, indent=1) + "\n")
    write_atomically(os.path.join(a.docs, "transfer.svg"), svg(rows))
    md = os.path.join(a.docs, "transfer.md")
    replace_section(md, "transfer", table(rows))
    print("report.py: wrote %s, transfer.json, transfer.svg" % md, file=sys.stderr)


if __name__ == "__main__":
    main()
