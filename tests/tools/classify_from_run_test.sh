#!/usr/bin/env bash
# The example classify_from_run end to end: usage classify_from_run_test.sh NYX_TRAIN CLASSIFY_FROM_RUN
# 1. writes small ListOps files in the LRA release's form (train and val of 6 to 39 tokens; test of
#    exactly 19 tokens each, so that nyx-train's evaluation batches need no padding);
# 2. trains a tiny run on them with nyx-train, and evaluates its best checkpoint on the test file;
# 3. runs the example on the run: its own expressions, then the test file from text, one expression
#    at a time. Its accuracy must equal nyx-train's exactly, and its loss agree to the 4 decimals printed.
# The attention is Nyström with the per-matrix pseudo-inverse start, which keeps each sequence's
# result independent of the others in its batch (the original start takes one maximum per batch).
set -euo pipefail
nyx_train=$1
example=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/classify-from-run-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# listops SEED COUNT MIN MAX: COUNT expressions of MIN to MAX tokens, with their values.
listops() {
  awk -v seed="$1" -v count="$2" -v min="$3" -v max="$4" '
    function apply(op, lo, hi,    i, j, v, n, r, sorted) {
      r = op == 0 ? 9 : 0
      for (i = lo; i < hi; i++) {
        v = stack[i]
        if (op == 0 && v < r) r = v
        if (op == 1 && v > r) r = v
        if (op == 3) r = (r + v) % 10
      }
      if (op != 2) return r
      n = 0
      for (i = lo; i < hi; i++) {  # insertion sort, for the median
        v = stack[i]
        for (j = n; j > 0 && sorted[j - 1] > v; j--) sorted[j] = sorted[j - 1]
        sorted[j] = v; n++
      }
      return n % 2 ? sorted[int(n / 2)] : int((sorted[n / 2 - 1] + sorted[n / 2]) / 2)
    }
    function draw(depth,    op, args, i, base, value) {
      if (depth >= 4 || rand() < 0.55) { value = int(rand() * 10); text = text " " value; tokens++; return value }
      op = int(rand() * 4); args = 2 + int(rand() * 3)
      text = text " " name[op]; tokens++
      base = top
      for (i = 0; i < args; i++) { value = draw(depth + 1); stack[top++] = value }
      text = text " ]"; tokens++
      value = apply(op, base, top); top = base
      return value
    }
    BEGIN {
      srand(seed); split("[MIN [MAX [MED [SM", words, " ")
      for (i = 0; i < 4; i++) name[i] = words[i + 1]
      print "Source\tTarget"
      while (written < count) {
        text = ""; tokens = 0; top = 0
        value = draw(1)
        if (tokens >= min && tokens <= max) { print substr(text, 2) "\t" value; written++ }
      }
    }'
}
listops 1 600 6 39 > train.tsv
listops 2 60 6 39 > val.tsv
listops 3 64 19 19 > test.tsv

"$nyx_train" listops --train-file train.tsv --val-file val.tsv --test-file test.tsv --dim 16 --heads 2 --head-dim 8 --hidden 32 \
  --layers 1 --landmarks 4 --conv 3 --pinv-start per-matrix --batch 16 --lr 3e-3 --warmup 10 --steps 150 --eval-every 50 \
  --threads 2 --run-dir run > train.txt || fail "nyx-train: $(cat train.txt)"
grep -q '"model": {' run/config.json && grep -q '"vocab": 17,' run/config.json && grep -q '"conv_kernel": 3' run/config.json ||
  fail "run/config.json lacks the model section: $(cat run/config.json)"
"$nyx_train" eval run --split test --threads 2 > eval.txt
# "...: test accuracy 31.25% (loss 2.0123, 64 examples); ..." → "31.25 2.0123 64"
figures() { sed -nE 's/.*accuracy ([0-9.]+)% \(loss ([0-9.]+), ([0-9]+) examples.*/\1 \2 \3/p' "$1"; }
[ -n "$(figures eval.txt)" ] || fail "no accuracy in nyx-train eval's output: $(cat eval.txt)"

"$example" run > own.txt || fail "the example on its own expressions: $(cat own.txt)"
cat own.txt
[ "$(grep -c ' -> .*its value is' own.txt)" -eq 4 ] || fail "expected 4 classified expressions"
NYX_NUM_THREADS=2 "$example" run test.tsv > test.txt || fail "the example on test.tsv: $(cat test.txt)"
cat test.txt
read -r ours_accuracy ours_loss ours_count <<< "$(figures test.txt)"
read -r their_accuracy their_loss their_count <<< "$(figures eval.txt)"
echo "nyx-train eval: accuracy $their_accuracy% (loss $their_loss, $their_count examples)"
[ "$ours_count" = "$their_count" ] && [ "$ours_accuracy" = "$their_accuracy" ] ||
  fail "the example's accuracy $ours_accuracy% over $ours_count differs from nyx-train eval's $their_accuracy% over $their_count"
awk -v a="$ours_loss" -v b="$their_loss" 'BEGIN { d = a - b; if (d < 0) d = -d; exit d > 1.5e-4 }' ||
  fail "the example's loss $ours_loss differs from nyx-train eval's $their_loss"

# A run that is not ListOps, or not a run: a clear message and status 1.
mkdir not-a-run
status=0; "$example" not-a-run > out.txt 2>&1 || status=$?
[ "$status" -eq 1 ] && grep -q "holds no config.json; is it a nyx-train run directory?" out.txt || fail "not a run: $(cat out.txt)"
echo "the example agrees with nyx-train eval: accuracy $ours_accuracy% over $ours_count expressions"
