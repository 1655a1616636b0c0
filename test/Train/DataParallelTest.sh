#!/usr/bin/env bash
# DataParallelTest.sh TRAIN_TOOL VOCAB WORK_DIR
#
# Data-parallel training on loopback (DataParallel.h):
#  1. 2 processes with half the global batch each give the parameters of 1
#     process with the whole batch after 20 steps (dropout off), max abs
#     difference <= 1e-5: fine-tuning (batch 13 of 40 examples: uneven
#     slices and a last batch of one example, where one rank's slice is
#     empty), SensiMix QAT and ternary QAT with distillation.
#  2. A rank killed mid-run makes the other fail within the timeout (plus
#     the diagnosis's grace period) naming it; the last saved state is
#     whole, no temporary file is left, and both ranks resuming from it end
#     where an uninterrupted run ends. A hung rank (SIGSTOP) likewise; a
#     dead rank 0 (the store's host) is named by rank 1.
#  3. Bad environment values, an unreachable master and a WORLD_SIZE that
#     differs between ranks are one-line errors; launch names a failed rank.
set -euo pipefail
tool=$1 vocab=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd "$work"
# With Gloo's own timeout of 10 s, a dead or hung peer must be reported
# within this many seconds (timeout + 3 s of diagnosis + start-up slack).
export QB_DIST_TIMEOUT=10
limit=25

printf 'text\tlabel\n' > train.tsv
for i in $(seq 1 20); do
  printf 'the film was good %d and fine\tpos\nthe film was bad %d sadly\tneg\n' \
    "$i" "$i" >> train.tsv
done

fresh=(--vocab "$vocab" --hidden-size 32 --layers 2 --heads 2
       --intermediate-size 64)
common=(--max-seq-length 16 --threads 1 --log-every 0 --dropout 0
        --checkpoint-every 0)
"$tool" finetune --train train.tsv --output teacher "${fresh[@]}" \
  "${common[@]}" --batch-size 8 --max-steps 40 --lr 1e-3 2> teacher.log
# Fine-tuning's learning rates. Adam divides by the gradient's RMS, so a
# parameter whose true gradient is zero (the key biases: softmax ignores a
# shift shared by all keys) moves by up to lr a step on rounding noise
# alone, in either run: the comparison needs a lr at which 20 such steps
# stay below the tolerance's scale.
common+=(--lr 1e-4)

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# same NAME ARGS...: the finetune ARGS on 1 process and via launch on 2,
# equal within $tolerance (default 1e-5).
same() {
  local name=$1 tol=${tolerance:-1e-5}
  shift
  "$tool" finetune --train train.tsv --output "$name-1" "$@" 2> "$name-1.log"
  "$tool" launch --nproc-per-node 2 --master-port 0 -- \
    finetune --train train.tsv --output "$name-2" "$@" 2> "$name-2.log"
  local diff
  diff=$("$here/max_abs_diff.py" "$name-1/final/model.safetensors" \
         "$name-2/final/model.safetensors")
  if ! awk -v d="${diff%% *}" -v t="$tol" 'BEGIN { exit !(d <= t) }'; then
    echo "FAILED $name: 1 vs 2 processes differ by $diff (tolerance $tol)"
    exit 1
  fi
  echo "ok $name: max |1 process - 2 processes| = $diff"
}
same finetune "${fresh[@]}" "${common[@]}" --batch-size 13 --max-steps 20
same sensimix --model teacher/final "${common[@]}" --batch-size 8 \
  --max-steps 20 --recipe sensimix --mp-layers 1
# Ternary weights are 0 below 0.7 mean |W| and +-mean above: a latent
# weight within rounding of the threshold can land on either side in the
# two runs, and the steps after that differ by a little more than rounding
# (seen on one host, every run: 1.6e-5 on 19 of 2,048 weights of one
# matrix; the runs' losses agree to 6 digits).
tolerance=1e-4 \
same ternary-kd --model teacher/final "${common[@]}" --batch-size 8 \
  --max-steps 20 --recipe ternary --teacher teacher/final

# start_pair OUTPUT: ranks 0 and 1 of a run in the background, on a free
# port, logging to OUTPUT-0.log (a line per step) and OUTPUT-1.log; sets
# pid0 and pid1, and waits until rank 0 reaches step 5.
start_pair() {
  local port
  port=$(free_port)
  WORLD_SIZE=2 RANK=0 MASTER_PORT=$port "$tool" finetune --train train.tsv \
    --output "$1" "${run[@]}" --log-every 1 > "$1-0.log" 2>&1 &
  pid0=$!
  WORLD_SIZE=2 RANK=1 MASTER_PORT=$port "$tool" finetune --train train.tsv \
    --output "$1" "${run[@]}" --log-every 0 > "$1-1.log" 2>&1 &
  pid1=$!
  wait_step "$1-0.log" 5
}
# wait_step LOG STEP: until rank 0's log shows STEP.
wait_step() {
  for _ in $(seq 600); do
    grep -q "step $2/" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAILED: $1 never reached step $2"
  exit 1
}
# expect_failure NAME PID LOG REGEX START: PID exits 1 within $limit s of
# START, its last line matching REGEX.
expect_failure() {
  local name=$1 pid=$2 log=$3 regex=$4 start=$5 status=0
  wait "$pid" || status=$?
  local took=$(( $(date +%s) - start )) last
  last=$(tail -n 1 "$log")
  if [[ $status != 1 || ! $last =~ $regex || $took -gt $limit ]]; then
    echo "FAILED $name: status $status after ${took}s, last line: $last"
    exit 1
  fi
  echo "ok $name (${took}s): $last"
}

run=(--vocab "$vocab" --hidden-size 32 --layers 2 --heads 2
     --intermediate-size 64 --max-seq-length 16 --threads 1 --dropout 0
     --lr 1e-4 --batch-size 8 --max-steps 60 --checkpoint-every 10)

# A killed rank 1 (after the state of step 10): stopped first, so rank 0
# cannot run ahead and finish.
start_pair killed
wait_step killed-0.log 12
kill -STOP "$pid1"
kill -KILL "$pid1"
start=$(date +%s)
wait "$pid1" 2>/dev/null || true
expect_failure killed-rank "$pid0" killed-0.log \
  "rank 0 of 2: .*rank 1 is gone \(it died or hangs" "$start"
if compgen -G "killed/*.tmp.*" >/dev/null; then
  echo "FAILED killed-rank: temporary files left: $(ls killed)"
  exit 1
fi
cp killed/training-state.safetensors resume.safetensors
"$tool" launch --nproc-per-node 2 --master-port 0 -- finetune \
  --train train.tsv --output resumed "${run[@]}" --log-every 0 \
  --resume resume.safetensors 2> resumed.log
"$tool" launch --nproc-per-node 2 --master-port 0 -- finetune \
  --train train.tsv --output straight "${run[@]}" --log-every 0 \
  2> straight.log
diff=$("$here/max_abs_diff.py" resumed/final/model.safetensors \
       straight/final/model.safetensors)
if ! awk -v d="${diff%% *}" 'BEGIN { exit !(d <= 1e-5) }'; then
  echo "FAILED resume: resumed vs uninterrupted differ by $diff"
  exit 1
fi
echo "ok resume: max |resumed - uninterrupted| = $diff"

# A hung rank 1.
start_pair hung
kill -STOP "$pid1"
start=$(date +%s)
expect_failure hung-rank "$pid0" hung-0.log \
  "rank 0 of 2: .*rank 1 is gone \(it died or hangs" "$start"
kill -KILL "$pid1"
wait "$pid1" 2>/dev/null || true

# A dead rank 0, which hosts the store.
start_pair dead0
kill -STOP "$pid0"
kill -KILL "$pid0"
start=$(date +%s)
wait "$pid0" 2>/dev/null || true
expect_failure dead-rank-0 "$pid1" dead0-1.log \
  "rank 1 of 2: .*rank 0.* is gone" "$start"

# expect_error NAME REGEX COMMAND...: exit code 1, last line matching.
expect_error() {
  local name=$1 regex=$2 out status=0
  shift 2
  out=$("$@" 2>&1) || status=$?
  local last
  last=$(printf '%s\n' "$out" | tail -n 1)
  if [[ $status != 1 || ! $last =~ $regex ]]; then
    echo "FAILED $name: exit code $status: $out"
    exit 1
  fi
  echo "ok $name: $last"
}
short=("${fresh[@]}" "${common[@]}" --batch-size 8 --max-steps 2)
expect_error bad-world-size "WORLD_SIZE must be an integer in \[1, 65536\], got 'two'" \
  env WORLD_SIZE=two RANK=0 "$tool" finetune --train train.tsv --output x "${short[@]}"
expect_error rank-out-of-range "RANK must be an integer in \[0, 1\], got '2'" \
  env WORLD_SIZE=2 RANK=2 "$tool" finetune --train train.tsv --output x "${short[@]}"
expect_error rank-without-world "RANK is set but WORLD_SIZE is not" \
  env RANK=0 "$tool" finetune --train train.tsv --output x "${short[@]}"
expect_error bad-port "MASTER_PORT must be an integer in \[1, 65535\], got '70000'" \
  env WORLD_SIZE=2 RANK=0 MASTER_PORT=70000 "$tool" finetune --train train.tsv \
  --output x "${short[@]}"
port=$(free_port)
expect_error unreachable-master \
  "rank 1 of 2: cannot reach the master at 127.0.0.1:$port within 2 s" \
  env WORLD_SIZE=2 RANK=1 MASTER_PORT="$port" QB_DIST_TIMEOUT=2 "$tool" \
  finetune --train train.tsv --output x "${short[@]}"
port=$(free_port)
WORLD_SIZE=2 RANK=0 MASTER_PORT=$port QB_DIST_TIMEOUT=5 "$tool" finetune \
  --train train.tsv --output x "${short[@]}" > w0.log 2>&1 &
pid0=$!
expect_error world-size-mismatch "rank 1 of 3: WORLD_SIZE is 3 here but 2 on rank 0" \
  env WORLD_SIZE=3 RANK=1 MASTER_PORT="$port" QB_DIST_TIMEOUT=5 "$tool" \
  finetune --train train.tsv --output x "${short[@]}"
start=$(date +%s)
expect_failure world-size-mismatch-rank-0 "$pid0" w0.log \
  "rank 0 of 2: .*rank 1 failed: WORLD_SIZE is 3 here but 2 on rank 0" "$start"
expect_error launch-names-rank "launch: rank [01] exited with status 1; the other ranks were stopped" \
  "$tool" launch --nproc-per-node 2 --master-port 0 -- finetune \
  --train missing.tsv --output x "${short[@]}"
expect_error launch-other-command "launch: only finetune and pretrain train data-parallel, got 'eval'" \
  "$tool" launch --nproc-per-node 2 -- eval --model teacher/final --data train.tsv
echo "all data-parallel checks passed"
