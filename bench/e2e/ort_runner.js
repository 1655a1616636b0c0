// ort_runner.js: latency of ONNX graphs under ONNX Runtime (onnxruntime-node).
//
//   node ort_runner.js --model NAME=FILE [--model ...] [--runs 10]
//        [--warmup 2] [--threads 2] [--seq 128] [--batch 1]
//        [--optimized-dir DIR] [--logits-out FILE]
//
// Each session is created with graph optimization level "all", sequential
// execution, intra_op_num_threads = --threads and inter_op 1 (ORT's best
// CPU setting for one request at a time); with --optimized-dir it also
// writes the graph ORT runs (NAME.optimized.onnx), so the fused kernels can
// be listed. Every model gets the token ids e2e-bench uses (the same
// generator), no padding, and the models run round-robin, one call each per
// round. Prints the e2e-bench CSV: model,layers,median_ms,p10_ms,p90_ms,
// runs,param_bytes, and one line per call with --samples
// (sample,MODEL,MS). --logits-out writes each model's logits of the first
// sequence ("NAME v0 v1 ...").
"use strict";
const fs = require("fs");
const path = require("path");

function fail(message) {
  process.stderr.write("ort_runner.js: error: " + message + "\n");
  process.exit(1);
}

function parseArgs(argv) {
  const a = { models: [], runs: 10, warmup: 2, threads: 2, seq: 128, batch: 1,
              optimizedDir: null, logitsOut: null, samples: false,
              ortDir: process.env.QB_ORT_DIR || "" };
  for (let i = 0; i < argv.length; ++i) {
    const key = argv[i];
    if (key === "--samples") { a.samples = true; continue; }
    if (i + 1 >= argv.length) fail("option '" + key + "' needs a value");
    const value = argv[++i];
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) fail(key + " takes a whole number");
      return n;
    };
    if (key === "--model") {
      const eq = value.indexOf("=");
      if (eq <= 0) fail("--model takes NAME=FILE");
      a.models.push({ name: value.slice(0, eq), file: value.slice(eq + 1) });
    } else if (key === "--runs") a.runs = int();
    else if (key === "--warmup") a.warmup = int();
    else if (key === "--threads") a.threads = int();
    else if (key === "--seq") a.seq = int();
    else if (key === "--batch") a.batch = int();
    else if (key === "--optimized-dir") a.optimizedDir = value;
    else if (key === "--logits-out") a.logitsOut = value;
    else if (key === "--ort-dir") a.ortDir = value;
    else fail("unknown option '" + key + "'");
  }
  if (!a.models.length) fail("give at least one --model NAME=FILE");
  if (a.runs < 1 || a.threads < 1 || a.seq < 1 || a.batch < 1)
    fail("--runs, --threads, --seq and --batch must be positive");
  return a;
}

// e2e_bench.cpp's token ids: an LCG from 12345, ids in [1000, 29000).
function tokenIds(seq) {
  const ids = new BigInt64Array(seq);
  let state = 12345;
  for (let i = 0; i < seq; ++i) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    ids[i] = BigInt(1000 + (state % 29000));
  }
  return ids;
}

function percentile(values, q) {
  const v = [...values].sort((x, y) => x - y);
  const position = q * (v.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, v.length - 1);
  return v[lower] + (position - lower) * (v[upper] - v[lower]);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = require(path.join(a.ortDir, "node_modules", "onnxruntime-node"));
  const one = tokenIds(a.seq);
  const tokens = a.batch * a.seq;
  const ids = new BigInt64Array(tokens);
  for (let b = 0; b < a.batch; ++b) ids.set(one, b * a.seq);
  const dims = [a.batch, a.seq];
  const feeds = {
    input_ids: new ort.Tensor("int64", ids, dims),
    token_type_ids: new ort.Tensor("int64", new BigInt64Array(tokens), dims),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(tokens).fill(1n), dims),
  };
  const sessions = [];
  for (const m of a.models) {
    const options = {
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      intraOpNumThreads: a.threads,
      interOpNumThreads: 1,
      enableCpuMemArena: true,
      enableMemPattern: true,
    };
    if (a.optimizedDir)
      options.optimizedModelFilePath =
          path.join(a.optimizedDir, m.name.replace(/[^A-Za-z0-9._-]/g, "_") +
                                        ".optimized.onnx");
    let session;
    try {
      session = await ort.InferenceSession.create(m.file, options);
    } catch (e) {
      fail(m.name + " (" + m.file + "): " + e.message);
    }
    sessions.push({ name: m.name, session, millis: [], logits: null });
  }
  for (let round = 0; round < a.warmup + a.runs; ++round) {
    for (const s of sessions) {
      const start = process.hrtime.bigint();
      const out = await s.session.run(feeds);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (round >= a.warmup) {
        s.millis.push(ms);
        if (a.samples) process.stdout.write("sample," + s.name + "," + ms.toFixed(3) + "\n");
      }
      if (!s.logits) s.logits = out.logits;
    }
  }
  console.log("model,layers,median_ms,p10_ms,p90_ms,runs,param_bytes");
  for (const s of sessions)
    console.log([s.name, 0, percentile(s.millis, 0.5).toFixed(3),
                 percentile(s.millis, 0.1).toFixed(3),
                 percentile(s.millis, 0.9).toFixed(3), a.runs, 0].join(","));
  if (a.logitsOut) {
    const lines = sessions.map((s) => {
      const labels = s.logits.dims[1];
      return s.name + " " + Array.from(s.logits.data.slice(0, labels)).join(" ");
    });
    fs.writeFileSync(a.logitsOut, lines.join("\n") + "\n");
  }
}

main().catch((e) => fail(e.stack || String(e)));
