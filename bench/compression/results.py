"""results.py: what the compression report scripts read from a bench run.

Python standard library only; imported by structured_report.py and
mixed_report.py (run from any directory: they put this one on sys.path).
"""

import json
import os
import struct


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


def replace_section(page, name, text):
    """Replaces what lies between `<!-- NAME:begin -->` and
    `<!-- NAME:end -->` in the markdown file `page` with `text`."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    head, rest = open(page).read().split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(page + ".tmp", "w") as f:
        f.write(head + begin + "\n" + text + "\n" + end + tail)
    os.replace(page + ".tmp", page)


def replace_rows(path, records):
    """Replaces the rows of `records`' recipes in the {"results": [...]}
    document at `path` (created if missing), keeping the others."""
    document = {"results": []}
    if os.path.exists(path):
        document = json.load(open(path))
    owned = {r["recipe"] for r in records}
    document["results"] = [r for r in document["results"]
                           if r["recipe"] not in owned] + records
    with open(path + ".tmp", "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
