#!/usr/bin/env bash
# build-classify.sh: builds examples/classify for one bundle the way a user
# does (a separate CMake project against an installed runtime, the bundle
# compiled at build time), for the tests that run it. The build's output,
# with quant-bert-compile's summary, is in OUT.log; on failure the log's
# tail goes to stderr and the exit status is 1.
#
#   build-classify.sh SOURCE_DIR BUNDLE OUT PREFIX QUANT_BERT_COMPILE CMAKE
#                     GENERATOR C_COMPILER [C_FLAGS]
#
# QB_COMPILE_OPTIONS in the environment: more quant-bert-compile arguments
# (examples/classify's cache variable of that name).
set -euo pipefail
source=$1 bundle=$2 out=$3 prefix=$4 compile=$5 cmake=$6 generator=$7 cc=$8
cflags=${9:-}

if ! { "$cmake" -G "$generator" -S "$source/examples/classify" -B "$out" \
         -DQB_BUNDLE="$bundle" -DCMAKE_PREFIX_PATH="$prefix" \
         -DQUANT_BERT_COMPILE="$compile" -DCMAKE_C_COMPILER="$cc" \
         -DCMAKE_C_FLAGS="$cflags" \
         -DQB_COMPILE_OPTIONS="${QB_COMPILE_OPTIONS:-}" &&
       "$cmake" --build "$out"; } \
       > "$out.log" 2>&1; then
  tail -n 20 "$out.log" >&2
  echo "error: building examples/classify for $bundle failed (log: $out.log)" >&2
  exit 1
fi
