#!/usr/bin/python3
"""Counts the operators of an ONNX graph (the optimized graph ONNX Runtime
wrote), as JSON {"domain:op": count}. Needs Debian's python3-onnx.

onnx_ops.py MODEL.onnx
"""
import collections
import json
import sys

import onnx


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: onnx_ops.py MODEL.onnx")
    model = onnx.load(sys.argv[1], load_external_data=False)
    counts = collections.Counter(
        (node.domain or "ai.onnx") + ":" + node.op_type for node in model.graph.node)
    print(json.dumps(dict(sorted(counts.items()))))


if __name__ == "__main__":
    main()
