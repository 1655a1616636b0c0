#!/usr/bin/env bash
# RecipeQuickTest.sh: ctest Train.RecipeQuick. Runs scripts/recipe-brown
# --quick and checks that every output was written and that the summary has
# the three test-set score rows and the paired comparison. Scores are not
# checked: 8 steps learn nothing. Exits 77 (skipped) without the data of scripts/fetch-data.
#
#   RecipeQuickTest.sh SOURCE_DIR BUILD_DIR OUTPUT_DIR
set -euo pipefail
source=$1 build=$2 output=$3

data="$source/third_party/data"
if [[ ! -e "$data/sotu/speeches.txt" || ! -e "$data/brown/genre4/train.tsv" ||
      ! -e "$data/brown/train-documents.txt" ||
      ! -e "$data/bert-base-uncased/vocab.txt" ]]; then
  echo "skipped: run scripts/fetch-data for the corpora"
  exit 77
fi

"$source/scripts/recipe-brown" --quick --build "$build" --output "$output"

for f in mlm-loss.csv adapt-loss.csv finetune-loss.csv eval-test.txt \
         baselines.txt compare.txt summary.md predictions/bert.tsv \
         predictions/bow.tsv pretrain/final/model.safetensors \
         adapt/final/model.safetensors finetune/best/model.safetensors; do
  if [[ ! -s "$output/$f" ]]; then
    echo "error: recipe-brown --quick did not write $f" >&2
    exit 1
  fi
done
# A header and one row per MLM step.
for f in mlm-loss.csv adapt-loss.csv; do
  if [[ $(wc -l < "$output/$f") != 9 ]]; then
    echo "error: $f should have 8 steps" >&2
    exit 1
  fi
done
for row in "BERT (this recipe) | accuracy" "bag-of-words LR | accuracy" \
           "majority class | accuracy" "McNemar exact test"; do
  if ! grep -qF "$row" "$output/summary.md"; then
    echo "error: summary.md has no '$row' row" >&2
    exit 1
  fi
done
rm -rf "$output"
