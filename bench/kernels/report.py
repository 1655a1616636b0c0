#!/usr/bin/env python3
"""Turns the kernel benchmarks' JSON into docs/results/kernels.svg and a
Markdown table (printed). Python standard library only.

report.py BINARY.json ATTENTION.json BINARY.svg ATTENTION.svg

BINARY.json holds binary-linear-bench's run, whose repetitions of the
binary linear interleave with those of this machine's xor+popcount and FMA
peak loops: the kernel is quoted as a fraction of the peak of that run.
"""
import json
import sys


def medians(path):
    data = json.load(open(path))
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"]] = b
    return out


def print_fma_peak(runs):
    """The f32 FMA peak loop of the same run, when it ran: how quiet the
    core was."""
    if "fmaPeak" in runs:
        print("f32 FMA peak, same run: %.1f GFLOP/s (quiet core: about 224)"
              % (runs["fmaPeak"]["FLOP/s"] / 1e9))


def bar_chart(groups, title, unit, width=720, height=300):
    """groups: list of (label, [(series, value)]) -> SVG text."""
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    series = []
    for _, bars in groups:
        for name, _ in bars:
            if name not in series:
                series.append(name)
    vmax = max(v for _, bars in groups for _, v in bars) * 1.15
    left, bottom, top = 70, 40, 60
    plot_h = height - bottom - top
    group_w = (width - left - 20) / len(groups)
    bar_w = group_w * 0.8 / len(series)
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (width, height),
           '<text x="%d" y="20" font-size="14">%s</text>' % (left, title)]
    for k in range(5):
        v = vmax * k / 4
        y = top + plot_h - plot_h * v / vmax
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                   % (left, width - 20, y, y))
        svg.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                   % (left - 5, y + 4, "%.0f" % v if vmax >= 20 else "%.1f" % v))
    svg.append('<text x="15" y="%d" transform="rotate(-90 15 %d)">%s</text>'
               % (top + plot_h // 2, top + plot_h // 2, unit))
    for g, (label, bars) in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        for name, v in bars:
            s = series.index(name)
            h = plot_h * v / vmax
            x = x0 + s * bar_w
            svg.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                       'fill="%s"/>' % (x, top + plot_h - h, bar_w - 2, h,
                                        colors[s % len(colors)]))
            svg.append('<text x="%.1f" y="%.1f" text-anchor="middle" '
                       'font-size="10">%s</text>'
                       % (x + bar_w / 2, top + plot_h - h - 3,
                          "%.0f" % v if v >= 10 else "%.2f" % v))
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (left + g * group_w + group_w / 2, height - 22, label))
    x = left
    for s, name in enumerate(series):
        svg.append('<rect x="%d" y="30" width="10" height="10" fill="%s"/>'
                   % (x, colors[s % len(colors)]))
        svg.append('<text x="%d" y="39">%s</text>' % (x + 14, name))
        x += 24 + 7 * len(name)
    svg.append("</svg>")
    return "\n".join(svg)


def main():
    binary, attention = medians(sys.argv[1]), medians(sys.argv[2])
    svg_binary, svg_attention = sys.argv[3], sys.argv[4]
    measured_peak = binary["xorPopcountPeak"]["bMAC/s"]
    rows, groups = [], []
    for shape in ("K:768/N:3072", "K:3072/N:768"):
        b = binary["binaryLinearCompiled/" + shape]
        f = binary["oneDnnF32Matmul/" + shape]
        rows.append("| %s | %.0f | %.2f | %.0f%% | %.0f | %.1fx |" % (
            shape.replace("K:", "").replace("/N:", " x "),
            b["real_time"], b["bMAC/s"] / 1e12, 100 * b["bMAC/s"] / measured_peak,
            f["real_time"], f["real_time"] / b["real_time"]))
        groups.append((shape.replace("K:", "K=").replace("/N:", " N="),
                       [("compiled binary linear", b["bMAC/s"] / 1e9),
                        ("oneDNN f32 matmul (MAC/s)", f["MAC/s"] / 1e9),
                        ("xor+popcount peak, same run", measured_peak / 1e9)]))
    print("| K x N | binary us | T bMAC/s | of the same run's peak | oneDNN f32 us | speed-up |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("xor+popcount+add peak, same run: %.3f T bMAC/s (REFERENCE.md: 2.2 T on a "
          "quiet core, about half on a contended one)" % (measured_peak / 1e12))
    print_fma_peak(binary)
    print()
    print("| seq | fused f16 ms | unfused f32 ms | speed-up | fused peak MiB | unfused peak MiB |")
    print("|---|---|---|---|---|---|")
    att_groups = []
    for seq in (128, 512):
        fu = attention["fusedAttentionF16/seq:%d" % seq]
        un = attention["unfusedAttentionF32/seq:%d" % seq]
        print("| %d | %.2f | %.1f | %.1fx | %.2f | %.2f |" % (
            seq, fu["real_time"], un["real_time"], un["real_time"] / fu["real_time"],
            fu["peak_heap_MiB"], un["peak_heap_MiB"]))
        att_groups.append(("seq %d" % seq, [("fused f16 (ms)", fu["real_time"]),
                                            ("unfused f32 (ms)", un["real_time"])]))
    svg = bar_chart(groups, "Binary linear, M=128, 1 thread (G MAC/s, medians)", "G MAC/s",
                    height=320)
    open(svg_binary, "w").write(svg + "\n")
    svg = bar_chart(att_groups, "BERT-base self-attention, batch 1, 1 thread (ms, medians)", "ms")
    open(svg_attention, "w").write(svg + "\n")


if __name__ == "__main__":
    main()
