#!/usr/bin/env python3
"""The side-by-side end-to-end benchmark: compiled models, LibTorch FP32 and
ONNX Runtime FP32 and int8, over sequence lengths, batch sizes and thread
counts. Python standard library only; bench/e2e/run prepares what it needs.

sweep.py --build BUILD --ort-dir DIR --onnx-dir DIR --out JSON
         [--seqs 32,128,384] [--batches 1,8] [--threads 1,2] [--rounds 4]
         [--samples 40]

For every (seq, batch, threads) it alternates three processes round by
round, e2e-bench with the compiled models (round-robin inside), e2e-bench
with LibTorch alone, and ort_runner.js (the ONNX Runtime graphs, round-robin
inside), so that a slow phase of the shared machine hits all of them; each
round times a few calls of every model after one warm-up call. LibTorch
runs in a process of its own because its OpenBLAS threads keep spinning
for a while after its calls and would slow the compiled models next to it. Before the sweep it checks that ONNX
Runtime computes the same model as LibTorch (FP32 logits of one sequence)
and lists the operators ORT's optimizer left in each graph.
"""
import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# e2e-bench and ort_runner names -> the names of docs/results/e2e.json.
NAMES = {
    "libtorch-fp32-12": "libtorch fp32 12l",
    "sensimix_3_6": "quant-bert sensimix 3+6",
    "int8_12": "quant-bert int8 12l",
    "int8dyn_12": "quant-bert int8 dynamic 12l",
    "sparse80_int8_12": "quant-bert int8 80% block-sparse 12l",
}
ORT_GRAPHS = {  # runner name -> (file, reported model, variant)
    "ort-fp32-plain": ("fp32-plain.onnx", "onnxruntime fp32 12l", "plain"),
    "ort-fp32-fused": ("fp32-fused.onnx", "onnxruntime fp32 12l", "fused"),
    "ort-int8-plain": ("int8-plain.onnx", "onnxruntime int8 12l", "plain"),
    "ort-int8-fused": ("int8-fused.onnx", "onnxruntime int8 12l", "fused"),
}


def fail(message):
    sys.exit("sweep.py: error: " + message)


def percentile(values, q):
    v = sorted(values)
    position = q * (len(v) - 1)
    lower = int(position)
    upper = min(lower + 1, len(v) - 1)
    return v[lower] + (position - lower) * (v[upper] - v[lower])


def run(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        fail("%s failed (%d):\n%s" % (" ".join(command), result.returncode,
                                      result.stderr[-2000:]))
    return result.stdout


def samples_of(text):
    for line in text.splitlines():
        if line.startswith("sample,"):
            _, name, ms = line.split(",")
            yield name, float(ms)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Sweep:
    def __init__(self, args):
        self.args = args
        self.bench = os.path.join(args.build, "bench", "e2e", "e2e-bench")
        self.checkpoint = os.path.join(args.build, "bench", "e2e", "int8_12_fp32")
        for path in (self.bench, self.checkpoint):
            if not os.path.exists(path):
                fail("%s is missing (run bench/e2e/run)" % path)

    def env(self, threads):
        env = dict(os.environ)
        # OpenBLAS (LibTorch's matrix products) and OpenMP teams get the
        # same thread count as everything else; idle OpenMP threads sleep.
        env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   OMP_WAIT_POLICY="passive")
        return env

    def compiled(self, threads, seq, batch, runs, warmup, extra=("--no-torch",)):
        # LibTorch runs one intra-op thread, its fastest setting here: its
        # matrix products go to OpenBLAS, which uses OPENBLAS_NUM_THREADS
        # (= threads), and a second LibTorch thread only competes with it
        # (docs/results/training.md).
        return [self.bench, "--threads", str(threads), "--torch-threads", "1",
                "--seq", str(seq),
                "--batch", str(batch), "--runs", str(runs), "--warmup",
                str(warmup), "--checkpoint", self.checkpoint, "--samples",
                *extra]

    def torch(self, threads, seq, batch, runs, warmup):
        return self.compiled(threads, seq, batch, runs, warmup, ("--no-compiled",))

    def ort(self, threads, seq, batch, runs, warmup, extra=()):
        models = []
        for name, (file, _, _) in ORT_GRAPHS.items():
            models += ["--model", "%s=%s" % (name, os.path.join(self.args.onnx_dir, file))]
        return ["node", os.path.join(HERE, "ort_runner.js"), "--ort-dir",
                self.args.ort_dir, "--threads", str(threads), "--seq", str(seq),
                "--batch", str(batch), "--runs", str(runs), "--warmup",
                str(warmup), "--samples", *models, *extra]

    def parity(self):
        """ORT's FP32 logits against LibTorch's on the same weights and
        input; the fused operators of each optimized graph."""
        out = os.path.join(self.args.onnx_dir, "parity")
        os.makedirs(out, exist_ok=True)
        torch_logits = os.path.join(out, "torch.txt")
        ort_logits = os.path.join(out, "ort.txt")
        run(self.compiled(2, 128, 1, 1, 0, ["--logits-out", torch_logits]),
            self.env(2))  # the compiled models and LibTorch
        run(self.ort(2, 128, 1, 1, 0, ["--logits-out", ort_logits,
                                        "--optimized-dir", out]), self.env(2))

        def read(path):
            return {line.split()[0]: [float(x) for x in line.split()[1:]]
                    for line in open(path) if line.strip()}

        logits = {**read(torch_logits), **read(ort_logits)}
        reference = logits["libtorch-fp32-12"]
        parity = {"input": "one sequence of 128 tokens", "reference": "libtorch fp32 12l",
                  "logits": {NAMES.get(k, k): v for k, v in logits.items()},
                  "max_abs_diff": {}}
        for name, values in logits.items():
            # SensiMix 3+6 (9 layers) and the block-sparse model (pruned)
            # have weights of their own.
            if name in ("libtorch-fp32-12", "sensimix_3_6", "sparse80_int8_12"):
                continue
            parity["max_abs_diff"][NAMES.get(name, name)] = max(
                abs(a - b) for a, b in zip(values, reference))
        parity["ort_operators"] = {}
        for name in ORT_GRAPHS:
            path = os.path.join(out, name + ".optimized.onnx")
            listing = run(["/usr/bin/python3", os.path.join(HERE, "onnx_ops.py"), path])
            parity["ort_operators"][name] = json.loads(listing)
        return parity

    def config(self, threads, seq, batch):
        tokens = seq * batch
        target = self.args.samples if tokens <= 512 else max(8, self.args.samples // 4)
        rounds = self.args.rounds
        runs = max(1, -(-target // rounds))
        samples = collections.defaultdict(list)
        load = [loadavg()]
        start = time.time()
        for _ in range(rounds):
            for command in (self.compiled, self.torch, self.ort):
                text = run(command(threads, seq, batch, runs, 1), self.env(threads))
                for name, ms in samples_of(text):
                    samples[name].append(ms)
        load.append(loadavg())
        rows = []
        for name, values in samples.items():
            if name in ORT_GRAPHS:
                model, variant = ORT_GRAPHS[name][1], ORT_GRAPHS[name][2]
            else:
                model, variant = NAMES.get(name, name), None
            median = statistics.median(values)
            row = {"model": model, "threads": threads, "seq": seq, "batch": batch,
                   "median_ms": round(median, 3),
                   "p10_ms": round(percentile(values, 0.1), 3),
                   "p90_ms": round(percentile(values, 0.9), 3),
                   "samples": len(values),
                   "sentences_per_s": round(batch * 1000.0 / median, 2)}
            if variant:
                row["variant"] = variant
            rows.append(row)
        print("sweep.py: threads %d seq %d batch %d: %d rounds of %d, %.0f s, load %s -> %s"
              % (threads, seq, batch, rounds, runs, time.time() - start, load[0], load[1]),
              file=sys.stderr)
        return rows, load


def best_ort(rows):
    """Per ORT model, the faster graph variant; the other goes to
    `ort_variants`."""
    results, variants = [], []
    by_model = collections.defaultdict(list)
    for row in rows:
        if "variant" in row:
            by_model[row["model"]].append(row)
        else:
            results.append(row)
    for model, candidates in by_model.items():
        candidates.sort(key=lambda r: r["median_ms"])
        results.append(candidates[0])
        variants.extend(candidates[1:])
    return results, variants


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--ort-dir", required=True)
    p.add_argument("--onnx-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seqs", default="32,128,384")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--samples", type=int, default=40)
    args = p.parse_args()
    for name in ("build", "ort_dir", "onnx_dir", "out"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    ints = lambda text: [int(x) for x in text.split(",") if x]
    sweep = Sweep(args)
    report = {"machine": {}, "parity": sweep.parity(), "results": [],
              "ort_variants": [], "load": []}
    with open("/proc/cpuinfo") as f:
        model = re.search(r"model name\s*:\s*(.*)", f.read())
    report["machine"] = {"cpu": model.group(1) if model else "?",
                         "cores": os.cpu_count(),
                         "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    for threads in ints(args.threads):
        for seq in ints(args.seqs):
            for batch in ints(args.batches):
                rows, load = sweep.config(threads, seq, batch)
                results, variants = best_ort(rows)
                report["results"] += results
                report["ort_variants"] += variants
                report["load"].append({"threads": threads, "seq": seq,
                                       "batch": batch, "before": load[0],
                                       "after": load[1]})
                with open(args.out, "w") as f:  # partial results survive
                    json.dump(report, f, indent=1)
    print("sweep.py: wrote " + args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
