#!/usr/bin/env bash
# TransferQuickTest.sh: ctest Train.TransferQuick. scripts/pretrain-base
# --quick (a tiny encoder, 20 masked-LM steps with held-out accuracy) and
# bench/transfer/run --quick on two tasks from it: the baselines, fine-tuning
# with the defaults (learning-rate trials, automatic length, early
# stopping), a two-cell sweep, Q8BERT and SensiMix, each compared with
# bag-of-words. Checks that every output is there and well formed, that a
# second pretrain-base reuses the finished encoder and that a second
# benchmark run reruns nothing. Accuracies are not checked: the runs are far
# too short to learn anything.
#
#   TransferQuickTest.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
source=$1 build=$2 work=$3
rm -rf "$work"
mkdir -p "$work"

"$source/scripts/pretrain-base" --quick --build "$build" --output "$work/base" \
  2> "$work/pretrain.log"
for f in mlm/final/model.safetensors mlm/best/model.safetensors \
         mlm-loss.csv provenance.json pretrain.svg; do
  [[ -s $work/base/$f ]] || { echo "error: pretrain-base did not write $f"; exit 1; }
done
python3 - "$work/base/provenance.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
scores = p["held_out_mlm_accuracy"]
assert len(scores) == 2 and all(0 <= s <= 1 for s in scores), scores
assert len(p["corpus"]["sha256"]) == 64 and p["commit"], p
assert p["loss_csv_rows"] == 20, p["loss_csv_rows"]
PY
"$source/scripts/pretrain-base" --quick --build "$build" --output "$work/base" \
  2> "$work/pretrain-again.log"
grep -q "is complete" "$work/pretrain-again.log" ||
  { echo "error: a second pretrain-base did not reuse the encoder"; exit 1; }

bench=("$source/bench/transfer/run" --quick --build "$build"
       --base "$work/base/mlm/final" --output "$work/transfer"
       --tasks spam,gcide-pos --jobs 2)
"${bench[@]}" 2> "$work/transfer.log"
for task in spam gcide-pos; do
  for run in default-s42 sweep-lr3e-4-e3 sweep-lr1e-3-e3 q8bert sensimix; do
    d=$work/transfer/$task/$run
    grep -q "McNemar exact test" "$d/compare.txt" ||
      { echo "error: $task/$run has no comparison"; exit 1; }
    grep -q "^accuracy" "$d/test.txt" ||
      { echo "error: $task/$run has no test accuracy"; exit 1; }
  done
  grep -q "bag-of-words" "$work/transfer/$task/bow/scores.txt"
  # The defaults searched the learning rate and left no trial behind.
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert len(j['trials']) == 3" \
    "$work/transfer/$task/default-s42/lr-trials.json"
  [[ ! -e $work/transfer/$task/default-s42/lr-trials ]]
done
"${bench[@]}" 2> "$work/transfer-again.log"
if grep -q ": start" "$work/transfer-again.log"; then
  echo "error: a second benchmark run ran again:"; cat "$work/transfer-again.log"; exit 1
fi
echo "ok"
