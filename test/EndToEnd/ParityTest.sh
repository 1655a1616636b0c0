#!/usr/bin/env bash
# ParityTest.sh: ctest EndToEnd.Parity. The compiled model against the
# training front end, on real data:
#   1. quant-bert-train fine-tunes a small BERT (2 layers, hidden 128, the
#      real vocabulary) from scratch on Brown 4-way genre for 200 steps;
#   2. SensiMix QAT with the top layer mixed precision (layer 0 8-bit, layer 1
#      8-bit attention + 1-bit FFN) for 100 steps, then export -> bundle;
#   3. quant-bert-train eval of the bundle on the whole Brown test split
#      (5,879 sentences): the quantized model's LibTorch eval forward, with
#      Q/K/V rounded to f16 as the compiled attention stores them;
#   4. examples/classify built against the installed runtime compiles the
#      bundle (quant-bert-compile) and prints the native logits;
#   5. scripts/compare-logits: the same argmax on >= 99.5% of the sentences,
#      and per-sentence max |logit difference| median <= 1e-4, 99th
#      percentile <= 0.1;
#   6. steps 3-5 again for two post-training quantizations of the float
#      model of step 1 (quant-bert-train quantize, no training): static int8
#      calibrated on the dev sentences (entropy calibrator), and dynamic
#      int8 (per-row activation scales at run time); and for the one-command
#      forms, quant-bert-compile of the float checkpoint itself with
#      --calibrate (which runs quant-bert-train quantize) and with
#      --dynamic-int8 (the compiler quantizes), each against the LibTorch
#      eval of the matching quant-bert-train bundle;
#   7. structured pruning: quant-bert-train prune removes half the heads
#      and half the FFN neurons of the float model of step 1 (50 steps of
#      distillation), SensiMix QAT of the pruned model, export, and steps
#      3-5 for its bundle (narrower Q/K/V and FFN matrices per layer);
#   8. low-rank factorization of that pruned model (quant-bert-train
#      factorize, every encoder linear to half its weights by truncated SVD,
#      50 steps of distillation), post-training static int8 of it, steps
#      3-5: each linear is two int8 linears;
#   9. ALBERT-style weight sharing of the float model of step 1
#      (quant-bert-train share: both layers one group, embeddings 64 wide
#      with a projection, 50 steps of distillation), post-training static
#      int8 of it, steps 3-5: both layers run the group's int8 weights;
#  10. 1-bit modules anywhere: SensiMix QAT of the float model of step 1 with
#      layer 0's attention and layer 1's FFN 1-bit (a module_precisions map,
#      the form sensitivity-assigned and random assignments take; 1-bit
#      weights scaled by their mean |W|, where steps 2 and 7 use the
#      default unscaled ones), export, steps 3-5: binary Q, K, V and
#      attention output on sign inputs;
#  11. block sparsity: Q8BERT QAT of the float model of step 1 with gradual
#      magnitude pruning to 80% zero 16x4 blocks (finetune --sparsity 0.8),
#      export, steps 3-5: quant-bert-compile must send every encoder int8
#      linear to the block-sparse kernel (its summary says how many), which
#      runs on the packed nonzero blocks;
#  12. sparse + 1-bit: SensiMix QAT (top layer's FFN 1-bit) with gradual
#      pruning to half the blocks zero (finetune --recipe sensimix
#      --sparsity 0.5; at 0.8 this 60-step run ends predicting one class,
#      which would make the agreement check empty): the 8-bit linears in
#      16x4 blocks, the 1-bit FFN in the binary kernel's 32x64 blocks, whose
#      pruned blocks are zeros, not signs; export, steps 3-5: the summary
#      must count block-sparse binary weight bytes.
# Why those tolerances: both sides compute the same integer codes, sign bits
# and scales; what differs is float rounding order (oneDNN's and LibTorch's
# sums, the online softmax) and the compiler's polynomial exp/erf, all at the
# 1e-7..1e-6 relative level, so most sentences differ by ~1e-7 (median bound
# 1e-4 leaves 1000x). An activation that lands within that distance of an
# int8 rounding boundary, or of 0 before a binary layer, changes one code and
# moves the logits by a few hundredths (the 4-layer model of scripts/run:
# 99th percentile 0.054, max 0.31); such flips must stay rare, so the 99th
# percentile is bounded by 0.1, and they can change a prediction only where
# two logits nearly tie, which the 99.5% agreement bound admits. This
# test's model measured 100% agreement, median 6e-8, 99th percentile 2.4e-7.
# Exits 77 (skipped) without the data of scripts/fetch-data.
#
#   ParityTest.sh SOURCE_DIR BUILD_DIR WORK_DIR CMAKE QUANT_BERT_TRAIN
#                 QUANT_BERT_COMPILE PYTHON VOCAB BROWN_DIR GENERATOR
#                 C_COMPILER [C_FLAGS]
set -euo pipefail
source=$1 build=$2 work=$3 cmake=$4 train=$5 compile=$6 python=$7 vocab=$8
brown=$9 generator=${10} cc=${11} cflags=${12:-}

for f in "$vocab" "$brown/train.tsv" "$brown/dev.tsv" "$brown/test.tsv"; do
  if [[ ! -s "$f" ]]; then
    echo "skipped: no $f (scripts/fetch-data fetches it)"
    exit 77
  fi
done

fail() {
  echo "error: $*" >&2
  exit 1
}
run() { # NAME COMMAND...: stderr to NAME.log, shown on failure
  local name=$1
  shift
  "$@" 2> "$work/$name.log" || {
    tail -n 20 "$work/$name.log" >&2
    fail "$name failed (log: $work/$name.log)"
  }
}

rm -rf "$work"
mkdir -p "$work"
# Every 10th dev sentence keeps the dev evaluations short.
"$source/scripts/subsample-tsv" "$brown/dev.tsv" --every 10 > "$work/dev.tsv"
common=(--train "$brown/train.tsv" --dev "$work/dev.tsv" --max-seq-length 32
        --batch-size 32 --log-every 50 --seed 1 --threads 2)
run finetune "$train" finetune "${common[@]}" --vocab "$vocab" \
  --output "$work/float" --hidden-size 128 --layers 2 --heads 2 \
  --intermediate-size 512 --max-position 64 --max-steps 200 --lr 1e-3 \
  --eval-every 100
run qat "$train" finetune "${common[@]}" --model "$work/float/best" \
  --output "$work/qat" --recipe sensimix --mp-layers 1 --max-steps 100 \
  --lr 2e-4 --eval-every 50
run export "$train" export --model "$work/qat/best" --output "$work/bundle"
run ptq-static "$train" quantize --model "$work/float/best" \
  --output "$work/ptq-static" --calibration "$work/dev.tsv" \
  --calibrator entropy --threads 2
run ptq-dynamic "$train" quantize --model "$work/float/best" \
  --output "$work/ptq-dynamic" --dynamic --threads 2
run prune "$train" prune "${common[@]}" --model "$work/float/best" \
  --output "$work/pruned" --head-fraction 0.5 --ffn-fraction 0.5 \
  --iterations 1 --max-steps 50 --lr 5e-4 --eval-every 50
run pruned-qat "$train" finetune "${common[@]}" --model "$work/pruned/best" \
  --output "$work/pruned-qat" --recipe sensimix --mp-layers 1 --max-steps 50 \
  --lr 2e-4 --eval-every 50
run pruned-export "$train" export --model "$work/pruned-qat/best" \
  --output "$work/pruned-bundle"
run factorize "$train" factorize "${common[@]}" --model "$work/pruned/best" \
  --output "$work/low-rank" --linears all --budget 0.5 --max-steps 50 \
  --lr 5e-4 --eval-every 50
run low-rank-ptq "$train" quantize --model "$work/low-rank/best" \
  --output "$work/low-rank-ptq" --calibration "$work/dev.tsv" \
  --calibrator entropy --threads 2
run share "$train" share "${common[@]}" --model "$work/float/best" \
  --output "$work/shared" --groups 1 --embedding-size 64 --max-steps 50 \
  --lr 5e-4 --eval-every 50
run shared-ptq "$train" quantize --model "$work/shared/best" \
  --output "$work/shared-ptq" --calibration "$work/dev.tsv" \
  --calibrator entropy --threads 2
cat > "$work/modules.json" <<'JSON'
{"module_precisions": {"layer.0.attention": "binary", "layer.1.ffn": "binary"},
 "binary_quantizer": "binary-mean-scale", "prioritized_training": false,
 "inverse_layerwise": false}
JSON
run modules-qat "$train" finetune "${common[@]}" --model "$work/float/best" \
  --output "$work/modules-qat" --recipe sensimix \
  --recipe-config "$work/modules.json" --max-steps 50 --lr 2e-4 \
  --eval-every 50
run modules-export "$train" export --model "$work/modules-qat/best" \
  --output "$work/modules-bundle"
run sparse-qat "$train" finetune "${common[@]}" --model "$work/float/best" \
  --output "$work/sparse-qat" --recipe q8bert --sparsity 0.8 --max-steps 60 \
  --lr 2e-4 --eval-every 60
run sparse-export "$train" export --model "$work/sparse-qat/best" \
  --output "$work/sparse-bundle"
run sparse-sensimix-qat "$train" finetune "${common[@]}" \
  --model "$work/float/best" --output "$work/sparse-sensimix-qat" \
  --recipe sensimix --mp-layers 1 --sparsity 0.5 --max-steps 60 --lr 2e-4 \
  --eval-every 60
run sparse-sensimix-export "$train" export \
  --model "$work/sparse-sensimix-qat/best" --output "$work/sparse-sensimix-bundle"
grep -q '"num_hidden_groups": 1' "$work/shared-ptq/config.json" &&
  grep -q '"embedding_size": 64' "$work/shared-ptq/config.json" ||
  fail "the shared bundle's config.json records no sharing"
grep -q '"low_rank_linears"' "$work/low-rank-ptq/config.json" ||
  fail "the factorized bundle's config.json lists no low-rank linears"
grep -q '"pruned_heads"' "$work/pruned-bundle/config.json" &&
  grep -q '"intermediate_sizes"' "$work/pruned-bundle/config.json" ||
  fail "the pruned bundle's config.json records no pruning"

"$cmake" --install "$build" --prefix "$work/prefix" --component runtime \
  > "$work/install.log" || fail "installing the runtime (see $work/install.log)"
tail -n +2 "$brown/test.tsv" | cut -f 1 > "$work/test.txt"

# checkParity NAME REFERENCE PRECISIONS [MODEL COMPILE_OPTIONS]: steps 3-5:
# the LibTorch eval of the bundle REFERENCE against examples/classify built
# from MODEL (default REFERENCE) with quant-bert-compile COMPILE_OPTIONS,
# whose summary must list PRECISIONS (a grep -E pattern over its lines).
checkParity() {
  local name=$1 reference=$2 precisions=$3 model=${4:-$2} options=${5:-}
  local logits="$work/reference-$(basename "$reference").tsv"
  if [[ ! -s "$logits" ]]; then
    run "eval-$name" "$train" eval --model "$reference" \
      --data "$brown/test.tsv" --max-seq-length 32 --batch-size 32 \
      --attention-storage f16 --logits "$logits" --threads 2 \
      > "$work/eval-$name.txt"
  fi
  QB_COMPILE_OPTIONS=$options "$source/test/Examples/build-classify.sh" \
    "$source" "$model" "$work/classify-$name" "$work/prefix" "$compile" \
    "$cmake" "$generator" "$cc" "$cflags" ||
    fail "building examples/classify for $name"
  grep -Eq "$precisions" "$work/classify-$name.log" ||
    fail "$name: not the expected precisions: $(cat "$work/classify-$name.log")"
  "$work/classify-$name/classify" --logits --max-length 32 --batch 32 \
    --threads 2 < "$work/test.txt" > "$work/native-$name.tsv" ||
    fail "classify failed on $name"
  echo "$name:"
  "$python" "$source/scripts/compare-logits" "$logits" \
    "$work/native-$name.tsv" --min-agreement 0.995 --max-median 1e-4 \
    --max-p99 0.1
}
# The SensiMix bundle really is mixed precision; the post-training ones
# are int8 throughout.
checkParity sensimix "$work/bundle" \
  "layer 0: attention i8 ffn i8.*|layer 1: attention i8 ffn binary"
checkParity ptq-static "$work/ptq-static" "layer 1: attention i8 ffn i8"
checkParity ptq-dynamic "$work/ptq-dynamic" "layer 1: attention i8 ffn i8"
checkParity compile-calibrate "$work/ptq-static" "layer 1: attention i8 ffn i8" \
  "$work/float/best" \
  "--calibrate=$work/dev.tsv --calibrator=entropy --train-tool=$train"
checkParity compile-dynamic "$work/ptq-dynamic" "layer 1: attention i8 ffn i8" \
  "$work/float/best" "--dynamic-int8"
checkParity pruned-sensimix "$work/pruned-bundle" \
  "layer 0: attention i8 ffn i8.*|layer 1: attention i8 ffn binary"
checkParity pruned-low-rank-int8 "$work/low-rank-ptq" \
  "layer 1: attention i8 ffn i8"
checkParity shared-int8 "$work/shared-ptq" "layer 1: attention i8 ffn i8"
checkParity modules "$work/modules-bundle" "layer 0: attention binary ffn i8"
# 12 encoder linears (2 layers x Q, K, V, attention output, FFN in and out)
# plus the pooler and classifier, which the pruning leaves dense.
checkParity sparse-q8bert "$work/sparse-bundle" "layer 1: attention i8 ffn i8"
grep -q "int8 linears (12 block-sparse)" "$work/classify-sparse-q8bert.log" ||
  fail "sparse-q8bert: not 12 block-sparse linears: $(cat "$work/classify-sparse-q8bert.log")"
# Layer 1's two FFN linears 1-bit block-sparse, the other 10 int8 ones
# block-sparse.
checkParity sparse-sensimix "$work/sparse-sensimix-bundle" \
  "layer 0: attention i8 ffn i8.*|layer 1: attention i8 ffn binary"
grep -q "int8 linears (10 block-sparse)" "$work/classify-sparse-sensimix.log" &&
  grep -q "binary-block-sparse" "$work/classify-sparse-sensimix.log" ||
  fail "sparse-sensimix: not 10 block-sparse int8 linears and block-sparse binary ones: $(cat "$work/classify-sparse-sensimix.log")"
