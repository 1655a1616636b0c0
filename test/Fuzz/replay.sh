#!/usr/bin/env bash
# replay.sh ir|bundle REPLAY_EXE SOURCE_DIR WORK_DIR
#
# Collects the inputs of one fuzz target into WORK_DIR/inputs and runs the
# replay driver on them: the saved regressions (test/Fuzz/regressions/KIND)
# and the seeds scripts/fuzz starts from (seeds.sh). Any crash or oracle
# failure fails the test.
set -euo pipefail
kind=$1 exe=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work/inputs"
"$src/test/Fuzz/seeds.sh" "$kind" "$src" "$work/inputs"
if compgen -G "$src/test/Fuzz/regressions/$kind/*" >/dev/null; then
  cp "$src/test/Fuzz/regressions/$kind/"* "$work/inputs/"
fi
"$exe" "$work/inputs"
