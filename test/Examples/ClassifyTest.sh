#!/usr/bin/env bash
# ClassifyTest.sh: ctest Examples.Classify. Builds examples/classify the way
# a user does, as a separate CMake project against the runtime installed into
# a temporary prefix, for two random bundles with the real bert-base-uncased
# vocabulary: a float one and a SensiMix one (8-bit layer 0, 1-bit FFN in
# layer 1). Pipes in three sentences (with blank lines, one sentence longer
# than any buffer) and checks that three lines come out, each a label name
# and a probability in (0, 1]. Exits 77 (skipped) without the vocabulary.
#
#   ClassifyTest.sh SOURCE_DIR BUILD_DIR WORK_DIR CMAKE QUANT_BERT_COMPILE
#                   PYTHON VOCAB GENERATOR C_COMPILER [C_FLAGS]
set -euo pipefail
source=$1 build=$2 work=$3 cmake=$4 compile=$5 python=$6 vocab=$7
generator=$8 cc=$9 cflags=${10:-}

if [[ ! -s "$vocab" ]]; then
  echo "skipped: no $vocab (scripts/fetch-data fetches it)"
  exit 77
fi

fail() {
  echo "error: $*" >&2
  exit 1
}

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/prefix" --component runtime \
  > "$work/install.log" || fail "installing the runtime (see $work/install.log)"

# Three sentences; blank and whitespace-only lines are skipped; the last one
# is 20 000 words, truncated to the maximum length.
{
  echo "The senator spoke about taxes and the federal budget."
  echo
  printf ' \t \n'
  printf 'She walked into the kitchen, smiling at her brother.\r\n'
  for ((i = 0; i < 2000; ++i)); do printf 'one two three four five six seven eight nine ten '; done
  echo
} > "$work/input.txt"

check_output() { # FILE COLUMNS
  local lines
  lines=$(wc -l < "$1")
  [[ $lines == 3 ]] || fail "expected 3 lines from classify, got $lines: $(cat "$1")"
  awk -F'\t' -v columns="$2" '
    NF != columns || $1 !~ /^label_[0-2]$/ || !($2 > 0 && $2 <= 1) { bad = 1 }
    columns > 2 {
      sum = 0
      for (i = 3; i <= NF; ++i) sum += $i
      if (sum < 0.99 || sum > 1.01) bad = 1
    }
    END { exit bad }' "$1" || fail "unexpected classify output: $(cat "$1")"
}

for variant in float sensimix; do
  bundle="$work/$variant"
  if [[ $variant == float ]]; then
    options=(--positions 512)      # classify's default: 128 tokens
  else
    options=(--positions 64 --quant sensimix)  # the model's maximum: 64
  fi
  "$python" "$source/test/Import/Inputs/make_bundle.py" "$bundle" --layers 2 \
    --hidden 64 --heads 2 --intermediate 128 --vocab 30522 --labels 3 \
    --fast-random "${options[@]}"
  cp "$vocab" "$bundle/vocab.txt"

  out="$work/$variant-build"
  "$source/test/Examples/build-classify.sh" "$source" "$bundle" "$out" \
    "$work/prefix" "$compile" "$cmake" "$generator" "$cc" "$cflags" ||
    fail "building examples/classify"
  if [[ $variant == sensimix ]]; then
    grep -q "layer 0: attention i8 ffn i8" "$out.log" &&
      grep -q "layer 1: attention i8 ffn binary" "$out.log" ||
      fail "the SensiMix model is not 8-bit + 1-bit: $(cat "$out.log")"
  fi

  "$out/classify" --batch 2 < "$work/input.txt" > "$work/$variant.tsv" ||
    fail "classify failed on $variant"
  check_output "$work/$variant.tsv" 2
  "$out/classify" --all --batch 1 --threads 1 < "$work/input.txt" \
    > "$work/$variant-all.tsv" || fail "classify --all failed on $variant"
  check_output "$work/$variant-all.tsv" 5
  # Batching does not change the predictions.
  cut -f1 "$work/$variant-all.tsv" | cmp -s - <(cut -f1 "$work/$variant.tsv") ||
    fail "--batch 1 and --batch 2 disagree on $variant"
  echo "$variant:"
  cat "$work/$variant-all.tsv"
done

# Errors: a message on stderr and a non-zero exit status.
if "$out/classify" "$work/no-such-vocab.txt" < "$work/input.txt" \
     > /dev/null 2> "$work/error.txt"; then
  fail "classify succeeded without a vocabulary"
fi
grep -q "cannot open vocabulary file" "$work/error.txt" ||
  fail "unexpected message: $(cat "$work/error.txt")"
if printf 'bad \xff\n' | "$out/classify" > /dev/null 2> "$work/error.txt"; then
  fail "classify accepted invalid UTF-8"
fi
grep -q "line 1: .*not valid UTF-8" "$work/error.txt" ||
  fail "unexpected message: $(cat "$work/error.txt")"
echo "ok"
