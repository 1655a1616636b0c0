#!/usr/bin/env python3
"""The base encoder's pretraining as an SVG: the masked-LM training loss
(mean of each 50-step window, shorter for a short run) above the held-out masked-LM accuracy at each
evaluation. Standard library only.

plot_pretrain.py DIR OUT.svg

DIR is a scripts/pretrain-base output: its mlm-loss.csv (step,loss,lr) and
mlm.log ("step N: dev score A" lines). Steps past the last row of the loss
file (a run still going or stopped) are simply not drawn.
"""
import csv
import os
import re
import sys

WINDOW = 50


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_pretrain.py DIR OUT.svg")
    run, out_path = sys.argv[1], sys.argv[2]
    try:
        with open(run + "/mlm-loss.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f)]
        log = open(run + "/mlm.log", encoding="utf-8", errors="replace").read()
    except OSError as e:
        sys.exit("plot_pretrain.py: error: %s: %s" % (e.filename, e.strerror))
    losses = [(int(r["step"]), float(r["loss"])) for r in rows]
    if not losses:
        sys.exit("plot_pretrain.py: error: %s/mlm-loss.csv has no rows" % run)
    # Windows of 50 steps, fewer for a short (--quick) run.
    window = max(1, min(WINDOW, len(losses) // 10))
    windows = []
    for start in range(0, len(losses) - window + 1, window):
        chunk = losses[start:start + window]
        windows.append((chunk[-1][0], sum(v for _, v in chunk) / window))
    scores = [(int(s), float(a)) for s, a in
              re.findall(r"step (\d+): dev score ([0-9.]+)", log)]
    max_step = max(windows[-1][0], scores[-1][0] if scores else 0)

    width, left, right = 760, 60, 20
    top1, h1, top2, h2 = 40, 220, 320, 160
    height = top2 + h2 + 50

    def x(step):
        return left + (width - left - right) * step / max_step

    lo = int(min(v for _, v in windows) * 2) / 2
    hi = int(max(v for _, v in windows) * 2 + 1) / 2
    acc_hi = max(0.05, (int(max([a for _, a in scores] or [0]) * 20) + 1) / 20)

    def y1(v):
        return top1 + h1 * (hi - v) / (hi - lo)

    def y2(a):
        return top2 + h2 * (acc_hi - a) / acc_hi

    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<rect width="%d" height="%d" fill="white"/>' % (width, height),
           '<text x="%d" y="22" font-size="14">Base encoder: masked-LM loss '
           '(mean of each %d steps)</text>' % (left, window),
           '<text x="%d" y="%d" font-size="14">Held-out masked-LM accuracy</text>'
           % (left, top2 - 14)]
    v = lo
    while v <= hi + 1e-9:
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                   % (left, width - right, y1(v), y1(v)))
        svg.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>'
                   % (left - 6, y1(v) + 4, v))
        v += 0.5
    a = 0.0
    while a <= acc_hi + 1e-9:
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                   % (left, width - right, y2(a), y2(a)))
        svg.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>'
                   % (left - 6, y2(a) + 4, a))
        a += 0.05
    tick = 1000 if max_step > 3000 else 500
    for step in range(0, max_step + 1, tick):
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>'
                   % (x(step), height - 30, step))
    svg.append('<text x="%d" y="%d" text-anchor="middle">step</text>'
               % ((left + width - right) // 2, height - 10))
    svg.append('<polyline fill="none" stroke="#1f77b4" stroke-width="2" '
               'points="%s"/>' % " ".join("%.1f,%.1f" % (x(s), y1(v))
                                          for s, v in windows))
    if scores:
        svg.append('<polyline fill="none" stroke="#d62728" stroke-width="2" '
                   'points="%s"/>' % " ".join("%.1f,%.1f" % (x(s), y2(a))
                                              for s, a in scores))
        for s, a in scores:
            svg.append('<circle cx="%.1f" cy="%.1f" r="3" fill="#d62728"/>'
                       % (x(s), y2(a)))
            svg.append('<text x="%.1f" y="%.1f" text-anchor="middle" '
                       'font-size="10">%.3f</text>' % (x(s), y2(a) - 7, a))
    svg.append("</svg>")
    with open(out_path + ".tmp", "w") as f:
        f.write("\n".join(svg) + "\n")
    os.replace(out_path + ".tmp", out_path)


if __name__ == "__main__":
    main()
