#!/usr/bin/env python3
"""max_abs_diff.py A B [PREFIX]: the largest |a - b| over the F32 tensors of
two safetensors files (names starting with PREFIX), printed; exit 1 when the
files do not hold the same F32 tensors (names, shapes). Standard library only.
"""
import json
import struct
import sys
from array import array


def tensors(path, prefix):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        if not name.startswith(prefix):
            continue
        begin, end = info["data_offsets"]
        values = array("f")
        values.frombytes(body[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        out[name] = (info["shape"], values)
    return out


def main():
    a = tensors(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 else "")
    b = tensors(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    if a.keys() != b.keys() or not a:
        print("tensor names differ or are empty: %s vs %s"
              % (sorted(a)[:5], sorted(b)[:5]))
        return 1
    worst, where = 0.0, ""
    for name, (shape, values) in a.items():
        if b[name][0] != shape:
            print("%s: shape %s vs %s" % (name, shape, b[name][0]))
            return 1
        for x, y in zip(values, b[name][1]):
            d = abs(x - y)
            if d > worst or d != d:
                worst, where = d, name
    print("%.3g %s" % (worst, where))
    return 0


sys.exit(main())
