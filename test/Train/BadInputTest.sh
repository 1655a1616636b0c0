#!/usr/bin/env bash
# BadInputTest.sh TRAIN_TOOL VOCAB WORK_DIR
#
# quant-bert-train on bad input, as a user would meet it: malformed TSVs
# (a missing column, a label the training set does not have, an empty file,
# invalid UTF-8), a corrupt checkpoint, pruning and sharing options and a
# pruned or shared config.json that its tensors contradict, and resuming with a different
# configuration. Each must fail with exit code 1 and one line naming the
# file (and line) or the setting, and leave an earlier run's checkpoints
# byte for byte as they were.
set -euo pipefail
tool=$1 vocab=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"

printf 'text\tlabel\n' > good.tsv
for i in $(seq 1 12); do
  printf 'the film was good %d\tpos\nthe film was bad %d\tneg\n' "$i" "$i" >> good.tsv
done
printf 'text\tcategory\nthe film\tpos\n' > missing-column.tsv
printf 'text\tlabel\nthe film was fine\tneutral\n' > unknown-label.tsv
: > empty.tsv
printf 'text\tlabel\nthe film\tpos\nthe \xff film\tneg\n' > bad-utf8.tsv

tiny=(--vocab "$vocab" --hidden-size 32 --layers 1 --heads 2
      --intermediate-size 64 --max-seq-length 16 --batch-size 8 --threads 1
      --log-every 0)
"$tool" finetune --train good.tsv --output run --max-steps 2 "${tiny[@]}" \
  2> train.log
checksums() { sha256sum run/final/* run/training-state.safetensors; }
checksums > before.sha

# expect_error NAME REGEX COMMAND...: exit code 1 and exactly one error
# line, the last, matching REGEX (progress lines may come before it).
expect_error() {
  local name=$1 regex=$2 out status=0
  shift 2
  out=$("$@" 2>&1) || status=$?
  if [[ $status != 1 ]]; then
    echo "FAILED $name: exit code $status: $out"
    exit 1
  fi
  local last errors
  last=$(printf '%s\n' "$out" | tail -n 1)
  errors=$(printf '%s\n' "$out" | grep -c "error:" || true)
  if [[ $errors != 1 || $last != *"error: "* || ! $last =~ $regex ]]; then
    echo "FAILED $name: expected one error line matching '$regex', got: $out"
    exit 1
  fi
  echo "ok $name: $last"
}

expect_error missing-column "missing-column.tsv:1: header needs a 'label' column" \
  "$tool" finetune --train missing-column.tsv --output run "${tiny[@]}"
expect_error unknown-label "unknown-label.tsv:2: unknown label 'neutral'" \
  "$tool" finetune --train good.tsv --dev unknown-label.tsv --output run \
  "${tiny[@]}"
expect_error empty-file "empty.tsv:1: empty file, expected a header row" \
  "$tool" finetune --train empty.tsv --output run "${tiny[@]}"
expect_error invalid-utf8 "bad-utf8.tsv:3: invalid UTF-8 at byte 5 of the line" \
  "$tool" finetune --train good.tsv --dev bad-utf8.tsv --output run \
  "${tiny[@]}"
expect_error eval-invalid-utf8 "bad-utf8.tsv:3: invalid UTF-8" \
  "$tool" eval --model run/final --data bad-utf8.tsv

# A checkpoint cut short (a copy: the run's own must stay intact).
cp -r run/final corrupt
head -c 300 run/final/model.safetensors > corrupt/model.safetensors
expect_error corrupt-finetune "corrupt/model.safetensors: " \
  "$tool" finetune --train good.tsv --model corrupt --output run2 --threads 1
expect_error corrupt-eval "corrupt/model.safetensors: " \
  "$tool" eval --model corrupt --data good.tsv
# config.json that is not JSON.
cp -r run/final badconfig
printf '{"hidden_size": ' > badconfig/config.json
expect_error bad-config "badconfig/config.json: not valid JSON" \
  "$tool" eval --model badconfig --data good.tsv

# Resuming with a different configuration is refused before any step.
expect_error resume-other-seed "saved by a different run: seed is '42', this run has '5'" \
  "$tool" finetune --train good.tsv --output run --max-steps 4 --seed 5 \
  --resume run/training-state.safetensors "${tiny[@]}"
expect_error resume-other-data "saved by a different run" \
  "$tool" finetune --train unknown-label.tsv --output run --max-steps 4 \
  --resume run/training-state.safetensors "${tiny[@]}"

# Pruning: no fraction, a fraction out of range, a config.json whose
# pruned_heads the tensors do not match.
expect_error prune-no-fraction "prune needs --head-fraction F, --ffn-fraction F or both" \
  "$tool" prune --train good.tsv --model run/final --output pruned --threads 1
expect_error prune-fraction "--ffn-fraction: must be in \[0, 1\), got 1.5" \
  "$tool" prune --train good.tsv --model run/final --output pruned \
  --ffn-fraction 1.5
cp -r run/final mispruned
sed -i 's/"num_hidden_layers"/"pruned_heads": {"0": [1]}, "num_hidden_layers"/' \
  mispruned/config.json
grep -q pruned_heads mispruned/config.json
expect_error prune-shapes "mispruned/model.safetensors: .*bert.encoder.layer.0.attention.self.query" \
  "$tool" eval --model mispruned --data good.tsv

# Weight sharing: nothing to share, more groups than layers, a config.json
# whose embedding_size the tensors do not match.
expect_error share-nothing "share: nothing to share" \
  "$tool" share --train good.tsv --model run/final --output shared --threads 1
expect_error share-groups "share: --groups 3 for 1 layers" \
  "$tool" share --train good.tsv --model run/final --output shared --groups 3 \
  --threads 1
cp -r run/final misshared
sed -i 's/"num_hidden_layers"/"embedding_size": 16, "num_hidden_layers"/' \
  misshared/config.json
expect_error share-shapes "misshared/model.safetensors: .*bert.embeddings.word_embeddings" \
  "$tool" eval --model misshared --data good.tsv

# Precision per module: an unknown assignment, a budget without sensitivity
# data, a map naming a layer the model lacks, a size too small for any
# assignment.
expect_error assign-unknown "--assign must be layers, budget or random, got 'greedy'" \
  "$tool" finetune --train good.tsv --model run/final --output assigned \
  --recipe sensimix --assign greedy "${tiny[@]}"
expect_error assign-no-sensitivity "assign budget needs sensitivity.json" \
  "$tool" finetune --train good.tsv --model run/final --output assigned \
  --recipe sensimix --assign budget "${tiny[@]}"
printf '{"module_precisions": {"layer.1.ffn": "binary"}}' > modules.json
expect_error assign-map-layer "module_precisions names layer.1.ffn, but the model has 1 layer" \
  "$tool" finetune --train good.tsv --model run/final --output assigned \
  --recipe sensimix --recipe-config modules.json "${tiny[@]}"
expect_error assign-too-small "assign random: no assignment fits the budget" \
  "$tool" finetune --train good.tsv --model run/final --output assigned \
  --recipe sensimix --assign random --bits-per-weight 0.5 "${tiny[@]}"
if [[ -e assigned ]]; then
  echo "FAILED: a rejected assignment left an output directory"
  exit 1
fi

# Nothing above touched the first run's files.
# The learning rate and early stopping: a rate that is no number, a search
# or early stopping without a dev set, a search for sensimix; held-out
# masked-LM text too short for one block.
expect_error lr-not-a-number "--lr: must be a positive number or auto, got 'fast'" \
  "$tool" finetune --train good.tsv --output tuned --lr fast "${tiny[@]}"
expect_error lr-auto-no-dev "--lr auto needs --dev" \
  "$tool" finetune --train good.tsv --output tuned --lr auto "${tiny[@]}"
expect_error patience-no-dev "--patience needs --dev" \
  "$tool" finetune --train good.tsv --output tuned --patience 2 "${tiny[@]}"
expect_error lr-auto-sensimix "--lr auto: sensimix's schedule is per epoch" \
  "$tool" finetune --train good.tsv --dev good.tsv --model run/final \
  --output tuned --recipe sensimix --lr auto "${tiny[@]}"
expect_error sparsity-window "--sparsity-window '0.7:0.2' is not BEGIN:END" \
  "$tool" finetune --train good.tsv --output tuned --sparsity 0.5 \
  --sparsity-window 0.7:0.2 --lr 1e-3 "${tiny[@]}"
expect_error sparsity-block "sparsity block '16by4' is not ROWSxCOLS" \
  "$tool" finetune --train good.tsv --output tuned --sparsity 0.5 \
  --sparsity-block 16by4 --lr 1e-3 "${tiny[@]}"
expect_error sparsity-block-alone "--sparsity-block needs --sparsity" \
  "$tool" finetune --train good.tsv --output tuned --sparsity-block 1x1 \
  --lr 1e-3 "${tiny[@]}"
if [[ -e tuned ]]; then
  echo "FAILED: a rejected fine-tuning left an output directory"
  exit 1
fi
printf 'the film was good and the film was bad\n' > corpus.txt
printf 'the end\n' > short.txt
expect_error dev-corpus-short "short.txt: MLM corpus has fewer than" \
  "$tool" pretrain --corpus corpus.txt --dev-corpus short.txt --output mlm \
  --vocab "$vocab" --hidden-size 32 --layers 1 --heads 2 \
  --intermediate-size 64 --seq-length 8 --max-steps 1 --threads 1

checksums > after.sha
if ! cmp -s before.sha after.sha; then
  echo "FAILED: a rejected command changed the run's checkpoints"
  diff before.sha after.sha
  exit 1
fi
echo "ok: the run's checkpoints are unchanged"
