"""results.py: what the compression report scripts read from a bench run.

Python standard library only; imported by the report scripts beside it
(run from any directory: they put this one on sys.path).
"""

import json
import math
import os
import statistics
import struct

# Two-sided 95% critical values of Student's t by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447,
       7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def interval(values):
    """(mean, sd, half-width of the 95% t interval of the mean); the
    half-width is nan for a single value."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, 0.0, float("nan")
    sd = statistics.stdev(values)
    return mean, sd, T95[len(values) - 1] * sd / math.sqrt(len(values))


def accuracy(path):
    """The `accuracy` line's value of a quant-bert-train eval output."""
    with open(path) as f:
        for line in f:
            if line.startswith("accuracy"):
                return float(line.split()[1])
    raise SystemExit(f"{os.path.basename(path)}: no accuracy line in {path}")


def tensor_bytes(directory):
    """(all tensors' bytes, bert.encoder.* tensors' bytes) of the
    model.safetensors in `directory`."""
    with open(os.path.join(directory, "model.safetensors"), "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    total = encoder = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        total += end - begin
        if name.startswith("bert.encoder."):
            encoder += end - begin
    return total, encoder


def seed_accuracies(out, name, seeds):
    """{seed: accuracy} of configuration `name`'s finished runs in `out`
    (the NAME-seedS.txt eval outputs bench/compression/run writes)."""
    paths = {s: os.path.join(out, f"{name}-seed{s}.txt") for s in seeds}
    return {s: accuracy(p) for s, p in paths.items() if os.path.exists(p)}


def record(recipe, runs, teacher, size):
    """A compression.json row: seeds, mean and sd of `runs` (seed ->
    accuracy), the change against `teacher` in points, `size` bytes."""
    mean, sd, _ = interval(list(runs.values()))
    return {"recipe": recipe, "seeds": len(runs),
            "test_acc_mean": round(mean, 4), "test_acc_std": round(sd, 4),
            "delta_vs_teacher": round(100 * (mean - teacher), 2),
            "bytes": int(size)}


def paired(scores, a, b):
    """The per-seed differences a - b in points, scores[name] being a dict
    seed -> accuracy, over the seeds both hold: (seeds, mean, half-width of
    its 95% t interval), or None when either is missing or fewer than 2
    seeds are common."""
    if a not in scores or b not in scores:
        return None
    runs_a, runs_b = scores[a], scores[b]
    common = sorted(set(runs_a) & set(runs_b), key=int)
    if len(common) < 2:
        return None
    mean, _, half = interval([100 * (runs_a[s] - runs_b[s]) for s in common])
    return len(common), mean, half


def write_atomically(path, text):
    """Writes `text` to `path` through a temporary file and a rename."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def replace_section(page, name, text):
    """Replaces what lies between `<!-- NAME:begin -->` and
    `<!-- NAME:end -->` in the markdown file `page` with `text`."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text_before = open(page).read()
    if begin not in text_before or end not in text_before:
        raise SystemExit(f"{page} has no {begin} ... {end}")
    head, rest = text_before.split(begin, 1)
    _, tail = rest.split(end, 1)
    write_atomically(page, head + begin + "\n" + text + "\n" + end + tail)


def replace_rows(path, records):
    """Replaces the rows of `records`' recipes in the {"results": [...]}
    document at `path` (created if missing), keeping the others."""
    document = {"results": []}
    if os.path.exists(path):
        document = json.load(open(path))
    owned = {r["recipe"] for r in records}
    document["results"] = [r for r in document["results"]
                           if r["recipe"] not in owned] + records
    write_atomically(path, json.dumps(document, indent=2) + "\n")
