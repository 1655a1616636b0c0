#!/usr/bin/env python3
"""Packs a bundle directory into one fuzz input (BundleFuzzer.cpp's format).

pack_bundle.py BUNDLE_DIR OUTPUT

[u32 n][config.json] [u32 n][quant.json] [u32 n][sensitivity.json] then
model.safetensors; little-endian lengths, 0xffffffff for a missing file.
"""
import os
import struct
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    bundle, output = sys.argv[1], sys.argv[2]
    out = bytearray()
    for name in ("config.json", "quant.json", "sensitivity.json"):
        path = os.path.join(bundle, name)
        if os.path.exists(path):
            data = open(path, "rb").read()
            out += struct.pack("<I", len(data)) + data
        else:
            out += struct.pack("<I", 0xFFFFFFFF)
    out += open(os.path.join(bundle, "model.safetensors"), "rb").read()
    with open(output, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
