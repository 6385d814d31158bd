#!/usr/bin/env bash
# nyx-train end to end, at a tiny size: usage nyx_train_test.sh NYX_TRAIN CASE
#   run       a short run: its directory holds config, metrics, checkpoints and the plot; eval and plot work
#   resume    Ctrl-C mid-run, then --resume: the losses equal those of an uninterrupted run; the
#             same after kill -9 (the metrics past the last checkpoint are dropped and redone)
#   text      the text task on a small TSV file; fashion: Fashion-MNIST as patches, a few steps
#   bf16      --precision bf16: bitwise resume, losses unlike f32's, no change of precision on resume
#   crash     kill -9 at 20 moments: a loadable checkpoint always, and the uninterrupted run's losses
#   anomaly   a loss that goes non-finite stops the run with the last good checkpoint; --detect-anomaly names the op
#   bad-flags bad flags and bad resumes get a clear message and a non-zero status
# Run directories and checkpoints under fault injection (issue #15), one case per fault:
#   resume-flags   the same command with --resume added is accepted; a real change is refused, naming both values
#   resume-lr      a resume to a longer run follows the re-planned schedule from its first step
#   lock           a second nyx-train on a run directory in use is refused, naming the first
#   special-files  a checkpoint or data file that is a FIFO, /dev/zero or a directory is refused at once
#   foreign        another run's checkpoint, or a config.json with a repeated key, is refused
#   address-space  an address-space limit (ulimit -v) too small is refused with a message: no hang, no abort
#   replaced       a run directory removed and made anew during a run stops the run
#   limits         70,000 labels are refused before step 1, naming the line
#   bom            a UTF-8 byte-order mark does not make a class of its own (text and ListOps TSV files)
#   divergence     a loss far above a uniform guess's stops the run; no checkpoint is written from it
#   failed-resume  a refused resume leaves the run directory as it was
#   write-order    the metrics are on the disk (fsync) before each checkpoint that covers them
#   model-section  config.json holds the model in the library's names; a run from before it evaluates and resumes
# Evaluation, warm-up, usage errors, file errors and printed output (issue #18, items 5-9):
#   eval      evaluation shows its progress, --eval-size caps it, and Ctrl-C during it stops the run at
#             once; the resume validates first and matches the uninterrupted run's metrics bit for bit
#   warmup    without --warmup a short run's warm-up is scaled to it; a warm-up as long as the run warns
#   usage     every mistake in the command line exits with 2 and says what was likely meant; --version
#   files     files and folders that are not what the command needs are named as such, without internals
#   output    the summary and the console after a resume, and the plot's legend, say what happened
#   mpi       2 ranks (mpirun) follow one process's losses within 1e-4; rank 0 alone writes; a
#             checkpoint of 2 ranks resumes with 1 and one of 1 with 2; a batch 2 does not divide
#   mpi-dead  a rank killed, or one that hangs: the job ends with a message, the checkpoint loads
# Pretraining (issue #21):
#   pretrain  a tokenizer on a small corpus; pretraining with MLM and SOP whose resume repeats the
#             masks bit for bit; fine-tuning from it (weights by name) and from scratch; wrong tokenizers refused
#   torch     tools/torch_interop.py: nyx's logits in PyTorch, PyTorch's weights in nyx (skipped without python3-torch)
set -euo pipefail
nyx_train=$1
case_name=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(cd "$(mktemp -d "${TMPDIR:-/tmp}/nyx-train-test.XXXXXX")" && pwd -P)  # the path nyx-train prints
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
# Tiny model and data: a run of a few hundred steps takes seconds.
tiny=(--dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1 --landmarks 4 --conv 3 --batch 8
      --min-len 10 --max-len 40 --train-size 200 --val-size 40 --test-size 40 --threads 2)
# tiny with two layers: layers for Linformer to share, or for attention-map to choose from.
two_layers=("${tiny[@]}")
for i in "${!two_layers[@]}"; do [ "${two_layers[i]}" = --layers ] && two_layers[i + 1]=2; done
# The (step, loss) pairs of a run's training lines.
losses() { grep '"split":"train"' "$1/metrics.jsonl" | sed -E 's/.*"step":([0-9]+),"split":"train","loss":([^,]+),.*/\1 \2/'; }

# Data-parallel runs: K ranks on this machine (tests/tools/mpirun.sh skips with 77 without mpirun).
ranks() { "$here/mpirun.sh" "$@"; }
base=("${tiny[@]:0:${#tiny[@]}-2}")  # tiny without its --threads 2: one thread per rank
# Prints the largest relative difference between two runs' losses at the same steps.
# Both list the same steps in the same order, or the comparison fails.
compare_losses() {
  paste -d' ' <(losses "$1") <(losses "$2") |
    awk '$1 != $3 || NF != 4 { print "the runs log different steps"; exit 2 }
         { d = ($2 - $4) / $4; if (d < 0) d = -d; if (d > m) m = d; n++ }
         END { if (n == 0) { print "no steps"; exit 2 } printf "%.3g over %d steps\n", m, n; exit m > 1e-4 }'
}
largest_difference() { compare_losses "$1" "$2" || true; }
within_1e4() { compare_losses "$1" "$2" > /dev/null; }

# A corpus of three folders of twelve made-up reStructuredText documents each (Debian's is tens of
# megabytes), for pretraining and fine-tuning at a tiny size.
make_corpus() {
  RANDOM=7
  for folder in net fs mm; do
    mkdir -p "corpus/$folder"
    for i in $(seq 1 12); do
      {
        echo "Title $folder $i"; echo "=========="; echo
        for _ in $(seq 1 30); do
          words=(the $folder driver reads a buffer from every device and the kernel waits on locks while $folder queues run)
          echo "The ${words[RANDOM % 16]} ${words[RANDOM % 16]} ${words[RANDOM % 16]} of ${words[RANDOM % 16]} ${words[RANDOM % 16]}."
        done
      } > "corpus/$folder/doc$i.rst"
    done
  done
}

limit=()  # a command that bounds nyx-train's time, in the cases of faults that once made it hang
expect_error() {  # expect_error "message part" nyx-train args...
  local want=$1; shift
  local out status=0
  out=$("${limit[@]}" "$nyx_train" "$@" 2>&1) || status=$?
  [ "$status" -ne 0 ] || fail "nyx-train $* succeeded; expected an error containing: $want"
  grep -qF -- "$want" <<<"$out" || fail "nyx-train $*: the message lacks \"$want\": $out"
}
expect_status() {  # expect_status STATUS "message part" nyx-train args...
  local want_status=$1 want=$2; shift 2
  local out status=0
  out=$("${limit[@]}" "$nyx_train" "$@" 2>&1) || status=$?
  [ "$status" -eq "$want_status" ] || fail "nyx-train $*: status $status, expected $want_status: $out"
  grep -qF -- "$want" <<<"$out" || fail "nyx-train $*: the message lacks \"$want\": $out"
}

case $case_name in
run)
  "$nyx_train" listops "${tiny[@]}" --steps 30 --eval-every 10 --log-every 5 --run-dir a > out.txt
  for f in config.json metrics.jsonl speed.jsonl latest.safetensors best.safetensors curves.svg; do [ -s "a/$f" ] || fail "a/$f is missing"; done
  ls a | grep -q tmp && fail "a temporary file was left behind"
  [ "$(grep -c '"split":"train"' a/metrics.jsonl)" -eq 6 ] || fail "expected 6 training lines (every 5 of 30 steps)"
  [ "$(grep -c '"split":"val"' a/metrics.jsonl)" -eq 3 ] || fail "expected 3 validation lines"
  grep -q '^{"step":30,"split":"test","loss":' a/metrics.jsonl || fail "no test line"
  [ "$(grep -c '"tokens_per_s":' a/speed.jsonl)" -eq 6 ] || fail "expected 6 lines of speed.jsonl"
  grep -q 'tokens_per_s\|seconds' a/metrics.jsonl && fail "metrics.jsonl holds a timing, so it cannot be reproduced bit for bit"
  # The same seed and thread count: the same metrics.jsonl, bit for bit (dropout included).
  "$nyx_train" listops "${tiny[@]}" --dropout 0.1 --steps 30 --eval-every 10 --log-every 5 --run-dir a2 > /dev/null
  "$nyx_train" listops "${tiny[@]}" --dropout 0.1 --steps 30 --eval-every 10 --log-every 5 --run-dir a3 > /dev/null
  cmp a2/metrics.jsonl a3/metrics.jsonl || fail "two runs with the same seed wrote different metrics.jsonl"
  grep -q '"attn": "nystrom"' a/config.json && grep -q '"steps": 30' a/config.json || fail "config.json lacks the resolved options"
  grep -q '<svg' a/curves.svg && grep -q '<polyline' a/curves.svg || fail "curves.svg has no curves"
  grep -q 'test accuracy .*majority-class baseline' out.txt || fail "no final summary: $(cat out.txt)"
  grep -q 'tokens/s' out.txt && grep -q 'peak memory' out.txt || fail "the summary lacks speed or memory"
  # Not a terminal: plain log lines, no carriage returns.
  grep -q $'\r' out.txt && fail "progress bar codes in a non-terminal log"
  "$nyx_train" eval a | grep -q 'test accuracy' || fail "eval of a run directory"
  "$nyx_train" eval a/latest.safetensors --split val | grep -q 'val accuracy' || fail "eval of a checkpoint file"
  "$nyx_train" listops "${tiny[@]}" --attn softmax --steps 10 --eval-every 5 --run-dir b > /dev/null
  "$nyx_train" plot a b --output both.svg > /dev/null
  [ "$(grep -c '<polyline' both.svg)" -ge 4 ] && grep -q 'a (nystrom)' both.svg && grep -q 'b (softmax)' both.svg || fail "plot of two runs"
  ;;
resume)
  # One run straight through...
  "$nyx_train" listops "${tiny[@]}" --dropout 0.1 --steps 400 --eval-every 20 --log-every 1 --run-dir straight > /dev/null
  # ...and one interrupted by Ctrl-C once it has a checkpoint, then resumed.
  "$nyx_train" listops "${tiny[@]}" --dropout 0.1 --steps 400 --eval-every 20 --log-every 1 --run-dir cut > cut.txt &
  pid=$!
  for _ in $(seq 1 3000); do [ -e cut/latest.safetensors ] && break; sleep 0.01; done
  kill -INT "$pid"
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 130 ] || fail "an interrupted run should exit with 130, got $status"
  grep -q 'interrupted at step' cut.txt && grep -q -- "--resume $work/cut" cut.txt || fail "no message on interruption: $(cat cut.txt)"
  stopped=$(losses cut | tail -1 | cut -d' ' -f1)
  [ "$stopped" -lt 400 ] || fail "the run finished before the interruption; the test needs a slower run"
  "$nyx_train" listops --resume cut > resumed.txt
  grep -q "resuming" resumed.txt || fail "no resume message"
  diff <(losses straight) <(losses cut) > /dev/null || fail "the resumed run's losses differ: $(diff <(losses straight) <(losses cut) | head -5)"
  [ "$(losses cut | wc -l)" -eq 400 ] || fail "expected 400 training lines after the resume"
  echo "interrupted after step $stopped; the resumed losses match the uninterrupted run's at all 400 steps"
  # kill -9 between checkpoints: metrics.jsonl then runs past latest.safetensors.
  "$nyx_train" listops "${tiny[@]}" --dropout 0.1 --steps 400 --eval-every 20 --log-every 1 --run-dir killed > /dev/null &
  pid=$!
  for _ in $(seq 1 3000); do
    [ -e killed/latest.safetensors ] && [ "$(grep -c '"split":"train"' killed/metrics.jsonl)" -ge 30 ] && break; sleep 0.01
  done
  kill -9 "$pid"; wait "$pid" || true
  logged=$(grep -c '"split":"train"' killed/metrics.jsonl)
  [ "$logged" -lt 400 ] || fail "the run finished before kill -9"
  "$nyx_train" listops --resume killed > /dev/null
  diff <(losses straight) <(losses killed) > /dev/null || fail "after kill -9 the resumed losses differ"
  [ "$(grep -c '"split":"val"' killed/metrics.jsonl)" -eq 20 ] || fail "validation lines duplicated or lost after kill -9"
  ls killed | grep -q tmp && fail "a temporary file was left behind"
  echo "killed with $logged steps logged; the resumed run's 400 losses and 20 validations match"
  ;;
bf16)
  # Mixed precision: bitwise resume within bf16, different losses from f32, and the precision is
  # part of the run (a resume cannot change it; a config.json from before --precision means f32).
  "$nyx_train" listops "${tiny[@]}" --precision bf16 --steps 200 --eval-every 20 --log-every 1 --run-dir straight > straight.txt
  grep -q "mixed precision: bf16 products" straight.txt || fail "no mixed-precision line: $(head -3 straight.txt)"
  grep -q '"precision": "bf16"' straight/config.json || fail "config.json does not say bf16"
  "$nyx_train" listops "${tiny[@]}" --steps 200 --eval-every 20 --log-every 1 --run-dir f32 > /dev/null
  diff <(losses straight) <(losses f32) > /dev/null && fail "bf16 and f32 runs gave identical losses"
  "$nyx_train" listops "${tiny[@]}" --precision bf16 --steps 200 --eval-every 20 --log-every 1 --run-dir cut > /dev/null &
  pid=$!
  for _ in $(seq 1 3000); do [ -e cut/latest.safetensors ] && break; sleep 0.01; done
  kill -INT "$pid"; wait "$pid" || true
  [ "$(losses cut | tail -1 | cut -d' ' -f1)" -lt 200 ] || fail "the bf16 run finished before the interruption"
  expect_error "--precision is bf16 in cut/config.json, the command gives f32" listops --resume cut --precision f32
  "$nyx_train" listops --resume cut > /dev/null
  diff <(losses straight) <(losses cut) > /dev/null || fail "the resumed bf16 run's losses differ: $(diff <(losses straight) <(losses cut) | head -3)"
  # A run directory written before --precision existed resumes as f32.
  "$nyx_train" listops "${tiny[@]}" --steps 20 --eval-every 10 --run-dir old > /dev/null
  grep -v '"precision"' old/config.json > config.tmp && mv config.tmp old/config.json
  "$nyx_train" listops --resume old --steps 30 > /dev/null || fail "a config.json without precision did not resume"
  echo "bf16: resumed losses match at all 200 steps and differ from f32's; the precision cannot change on resume"
  ;;
text)
  for i in $(seq 1 120); do
    if [ $((i % 2)) -eq 0 ]; then printf 'yes\tthe answer is yes indeed %d\n' "$i"; else printf 'no\tnope, it is not so %d\n' "$i"; fi
  done > train.tsv
  printf 'yes\tyes yes\nno\tnope\n' > test.tsv
  "$nyx_train" text --train-file train.tsv --test-file test.tsv --val-size 20 --dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1 \
    --landmarks 4 --conv 3 --batch 8 --steps 20 --eval-every 10 --run-dir t > out.txt
  grep -q 'test accuracy' out.txt || fail "text run: $(cat out.txt)"
  grep -q '"classes": 2' t/config.json || fail "two classes expected"
  printf 'yes\tfine\nmaybe\tunsure\n' > odd.tsv
  expect_error "odd.tsv:2: the label \"maybe\"" text --train-file train.tsv --test-file odd.tsv --steps 1 --run-dir t2
  # ListOps from TSV files in the LRA release's form (parentheses included).
  for split in train val test; do
    echo -e 'Source\tTarget' > "basic_$split.tsv"
    for i in $(seq 1 40); do
      a=$((RANDOM % 10)); b=$((RANDOM % 10)); printf '( ( [MAX %d ) %d ) ]\t%d\n' "$a" "$b" "$((a > b ? a : b))"
    done >> "basic_$split.tsv"
  done
  "$nyx_train" listops --train-file basic_train.tsv --val-file basic_val.tsv --test-file basic_test.tsv --dim 16 --heads 2 --head-dim 8 \
    --hidden 16 --layers 1 --landmarks 4 --conv 3 --batch 8 --steps 10 --eval-every 5 --run-dir l > out.txt
  grep -q '40 train / 40 val / 40 test examples, up to 4 positions' out.txt || fail "listops from TSV files: $(head -3 out.txt)"
  expect_error "go together" listops --train-file basic_train.tsv --steps 1 --run-dir l2
  ;;
lra-tasks)
  # Pathfinder, and Text and Retrieval from a small tree of documents, each trained, evaluated and
  # resumed at a tiny size; Retrieval's model is a dual encoder over the two halves of each pair.
  model=(--dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1 --landmarks 4 --conv 3 --batch 8 --threads 2)
  "$nyx_train" pathfinder "${model[@]}" --train-size 64 --val-size 16 --test-size 16 --steps 4 --eval-every 2 --run-dir p > out.txt
  grep -q '64 train / 16 val / 16 test examples, up to 1024 positions' out.txt || fail "pathfinder: $(head -4 out.txt)"
  grep -q 'test accuracy' out.txt || fail "pathfinder: $(tail -3 out.txt)"
  for folder in net fs mm; do
    mkdir -p "docs/$folder/sub"
    for i in 1 2 3 4 5 6; do head -c $((300 + 50 * i)) /dev/urandom | base64 -w 0 > "docs/$folder/doc$i.rst"; done
    gzip "docs/$folder/doc6.rst" && mv "docs/$folder/doc6.rst.gz" "docs/$folder/sub/"
  done
  tree=(--data-dir docs --folders net,fs,mm)
  "$nyx_train" text "${model[@]}" "${tree[@]}" --max-len 128 --train-size 60 --val-size 12 --test-size 12 --steps 4 --eval-every 2 --run-dir t > out.txt
  grep -q '60 train / 12 val / 12 test examples, up to 128 positions, 3 classes' out.txt || fail "text: $(head -4 out.txt)"
  grep -q 'class balance of the test split: net 33.3%, fs 33.3%, mm 33.3%$' out.txt || fail "text: no class balance: $(head -4 out.txt)"
  grep -q '"folders": "net,fs,mm"' t/config.json && grep -q '"class_names": \[' t/config.json || fail "text: config.json: $(cat t/config.json)"
  "$nyx_train" eval t | grep -q 'test accuracy' || fail "eval of the text run"
  "$nyx_train" retrieval "${model[@]}" "${tree[@]}" --max-len 64 --train-size 40 --val-size 10 --test-size 10 --steps 4 --eval-every 2 --run-dir r > out.txt
  grep -q '40 train / 10 val / 10 test examples, up to 128 positions, 2 classes' out.txt || fail "retrieval: $(head -4 out.txt)"
  grep -q 'class balance of the test split: different documents 50.0%, same document 50.0%$' out.txt || fail "retrieval: $(head -4 out.txt)"
  grep -q '"dual_encoder": true' r/config.json && grep -q '"max_len": 64' r/config.json || fail "retrieval: not a dual encoder of 64 positions: $(cat r/config.json)"
  "$nyx_train" retrieval --resume r --steps 6 > out.txt || fail "retrieval resume: $(cat out.txt)"
  grep -q 'resuming' out.txt || fail "retrieval: no resume: $(head -3 out.txt)"
  "$nyx_train" eval r > out.txt 2>&1 && grep -q 'test accuracy' out.txt || fail "eval of the retrieval (dual encoder) run: $(cat out.txt)"
  expect_error "has no folder nope; its folders: fs, mm, net" text "${model[@]}" --data-dir docs --folders net,nope --steps 2 --run-dir e1
  expect_error "no such folder" text "${model[@]}" --data-dir "$work/absent" --steps 2 --run-dir e2
  expect_error "--pad-to must be 0 for retrieval" retrieval "${model[@]}" "${tree[@]}" --pad-to 256 --steps 2 --run-dir e3
  expect_error "--test-file must name a TSV file" text "${model[@]}" --train-file docs/net/doc1.rst --steps 2 --run-dir e4
  expect_error "documents of at least 2 × 4096 bytes" retrieval "${model[@]}" "${tree[@]}" --steps 2 --run-dir e5
  ;;
fashion)
  "$nyx_train" fashion-mnist --patch 7 --dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1 --landmarks 4 --conv 3 --batch 16 \
    --steps 10 --eval-every 10 --val-size 100 --eval-size 200 --run-dir f > out.txt
  grep -q '16 positions' out.txt || fail "7x7 patches of a 28x28 image: 16 positions: $(head -3 out.txt)"
  # --eval-size caps the 10,000 test images (Fashion-MNIST has no --test-size), and the summary says so.
  grep -q 'test accuracy .*(loss [0-9.]*, 200 of 10000 examples (--eval-size 200);' out.txt || fail "fashion-mnist run: $(tail -3 out.txt)"
  expect_error "fashion-mnist/nothing-here" fashion-mnist --data-dir "$work/fashion-mnist/nothing-here" --run-dir f2
  ;;
crash)
  # kill -9 at 20 moments, checkpoint writes included (a checkpoint every 2 steps), each time
  # resuming: the run directory always holds a loadable checkpoint once it has one, and the finished
  # run's losses equal those of a run that was never killed. The first kill waits for the first
  # checkpoint; the others come 0.02 to 0.2 s after a start. Sanitizer builds (about 10 times
  # slower) take fewer steps and 10 kills, which still land before the end.
  steps=2000 kills=20; [ -n "${NYX_TESTS_SANITIZED:-}" ] && steps=400 kills=10
  args=(listops "${tiny[@]}" --dropout 0.1 --steps "$steps" --eval-every 2 --log-every 1)
  "$nyx_train" "${args[@]}" --run-dir straight > /dev/null
  mid_write=0
  for kill in $(seq 1 "$kills"); do
    if [ -e crash/latest.safetensors ]; then "$nyx_train" listops --resume crash > /dev/null & else "$nyx_train" "${args[@]}" --run-dir crash > /dev/null & fi
    pid=$!
    if [ "$kill" -eq 1 ]; then
      for _ in $(seq 1 6000); do [ -e crash/latest.safetensors ] && break; sleep 0.01; done
    else
      sleep "0.$(printf %02d $((RANDOM % 19 + 2)))"
    fi
    kill -9 "$pid" 2> /dev/null || fail "the run finished before kill $kill; the test needs a slower run"
    wait "$pid" 2> /dev/null || true
    ls crash | grep -q '\.tmp-' && mid_write=$((mid_write + 1))
    [ -e crash/latest.safetensors ] || fail "no checkpoint after kill $kill"
    "$nyx_train" eval crash/latest.safetensors --split val > /dev/null 2>&1 || fail "after kill $kill, latest.safetensors does not load"
  done
  "$nyx_train" listops --resume crash > /dev/null
  diff <(losses straight) <(losses crash) > /dev/null || fail "after $kills kills the losses differ: $(diff <(losses straight) <(losses crash) | head -5)"
  [ "$(losses crash | wc -l)" -eq "$steps" ] || fail "expected $steps training lines"
  ls crash | grep -q '\.tmp-' && fail "a temporary file was left behind"
  echo "$kills kills ($mid_write during a checkpoint write); every checkpoint loaded; the $steps losses match the uninterrupted run's"
  ;;
attention-map)
  # One head's map in a tiny Nyström run (4 landmarks): exact softmax, Nyström and their difference
  # as three PNG images in one SVG; the same for a given expression; errors that say what to give.
  "$nyx_train" listops "${two_layers[@]}" --steps 4 --eval-every 4 --run-dir r > /dev/null
  "$nyx_train" attention-map r --example 3 --layer 1 --head 1 > out.txt || fail "attention-map: $(cat out.txt)"
  grep -q '^test example 3, layer 1, head 1 ([0-9]* positions, 4 landmarks): largest |Nyström - softmax| [0-9.e-]*, mean total variation per row [0-9.e-]*$' out.txt ||
    fail "attention-map summary: $(cat out.txt)"
  [ "$(grep -o '<image ' r/attention-map-layer1-head1.svg | wc -l)" -eq 3 ] || fail "expected three images in the SVG"
  grep -q 'data:image/png;base64,iVBORw0KGgo' r/attention-map-layer1-head1.svg || fail "the images are not PNGs"
  grep -q 'exact softmax attention' r/attention-map-layer1-head1.svg && grep -q 'Nyström − softmax' r/attention-map-layer1-head1.svg ||
    fail "the SVG lacks its panels' titles"
  "$nyx_train" attention-map r/best.safetensors --input '[MAX 2 9 [MIN 4 7 ] 0 ]' --output map.svg > out.txt || fail "--input: $(cat out.txt)"
  grep -q '^the --input, layer 0, head 0 (9 positions, 4 landmarks)' out.txt && [ -s map.svg ] || fail "--input: $(cat out.txt)"
  expect_error "--layer 2 is not in 0..1" attention-map r --layer 2
  expect_error "--head 5 is not in 0..1" attention-map r --head 5
  expect_error "--example 40 is not in 0..39" attention-map r --example 40
  expect_error "--output nowhere/map.svg: there is no folder nowhere to write it in" attention-map r --output nowhere/map.svg
  "$nyx_train" listops "${tiny[@]}" --attn softmax --steps 2 --eval-every 2 --run-dir soft > /dev/null
  expect_error "is a run with softmax attention; attention-map draws a Nyström run's" attention-map soft
  ;;
signal-mid-product)
  # SIGTERM in the middle of long matrix products (dim 256, about 1,000 tokens: each step spends
  # most of its time in oneDNN's gemm, whose JIT code points the stack pointer into the heap), at
  # 12 moments: each time the run stops cleanly with status 130, no heap corruption, and resumes.
  # (Before signals were kept off the computing threads, about one stop in two aborted.)
  args=(listops --dim 256 --heads 4 --head-dim 64 --hidden 256 --layers 1 --landmarks 32 --conv 3 --batch 16 --min-len 900
        --max-len 1100 --train-size 64 --val-size 16 --test-size 16 --steps 400 --eval-every 1000 --log-every 1 --threads 2)
  stops=12; [ -n "${NYX_TESTS_SANITIZED:-}" ] && stops=3
  for stop in $(seq 1 "$stops"); do
    if [ -e s/latest.safetensors ]; then "$nyx_train" listops --resume s > out.txt 2>&1 & else "$nyx_train" "${args[@]}" --run-dir s > out.txt 2>&1 & fi
    pid=$!
    for _ in $(seq 1 6000); do grep -q '^step [0-9]*/400' out.txt && break; sleep 0.01; done  # training, handlers set
    sleep "0.$(printf %02d $((RANDOM % 90 + 5)))"
    kill -TERM "$pid"
    status=0; wait "$pid" || status=$?
    ! grep -qi 'corrupt\|double free\|invalid pointer' out.txt || fail "stop $stop: the heap was corrupted: $(tail -4 out.txt)"
    [ "$status" -eq 130 ] || fail "stop $stop: SIGTERM mid-step gave status $status, not 130: $(tail -4 out.txt)"
    grep -q '^interrupted at step [0-9]*: saved' out.txt || fail "stop $stop: no clean stop: $(tail -4 out.txt)"
  done
  "$nyx_train" eval s/latest.safetensors --split val > /dev/null || fail "the last checkpoint does not load"
  ;;
anomaly)
  # A learning rate at the edge of f32's range (3e38; the warm-up makes step 1's zero): at step 2,
  # AdamW's step size lr / (1 - beta1^t) overflows f32 and the weights become non-finite. The run stops there, naming the step and its last good checkpoint (step
  # 1's: no checkpoint is written from non-finite weights), which still loads.
  blow=(listops "${tiny[@]}" --lr 3e38 --warmup 2 --steps 50)
  expect_error "at step 2: the weights became non-finite" "${blow[@]}" --eval-every 1 --run-dir w
  expect_error "The last good checkpoint is $work/w2/latest.safetensors" "${blow[@]}" --eval-every 1 --run-dir w2
  "$nyx_train" eval w2/latest.safetensors > /dev/null || fail "the last good checkpoint does not load"
  # Between checkpoints, the loss of step 3 (made with step 2's weights) is the first sign.
  expect_error "at step 3: the loss became NaN" "${blow[@]}" --eval-every 10 --run-dir l
  # --detect-anomaly finds where it began: AdamW's update of step 2, with the parameter named.
  expect_error "at step 2: detect_anomaly: AdamW.step() left parameter" "${blow[@]}" --eval-every 1 --run-dir a --detect-anomaly
  # A healthy run is unchanged by the checks: the same losses with and without them.
  "$nyx_train" listops "${tiny[@]}" --steps 20 --eval-every 10 --log-every 1 --run-dir plain > /dev/null
  "$nyx_train" listops "${tiny[@]}" --steps 20 --eval-every 10 --log-every 1 --run-dir checked --detect-anomaly > /dev/null
  diff <(losses plain) <(losses checked) > /dev/null || fail "--detect-anomaly changed the losses"
  ;;
bad-flags)
  expect_error "--attn" listops --attn linear
  expect_error "--landmarks must be at least 1" listops --landmarks 0
  expect_error "--conv must be 0 (off) or odd" listops --conv 4
  expect_error "--lr must be a positive number" listops --lr -1
  expect_error "--max-len must exceed --min-len" listops --min-len 100 --max-len 50
  expect_error "--train-file must name a TSV file (label<TAB>text per line), as --test-file does" text --test-file x.tsv
  expect_error "--preset must be demo or lra" listops --preset huge
  expect_error "unknown flag --bogus for listops" listops --bogus 1
  expect_error "--steps" listops --steps abc
  expect_error "--val-size must lie in 0..10000000" listops --val-size -3
  expect_error "--bucket must lie in" listops --bucket 4611686018427387904
  for sub in listops fashion-mnist text eval plot; do
    "$nyx_train" "$sub" --help | grep -q -- "--help" || fail "$sub --help"
  done
  "$nyx_train" listops --help | grep -q -- "--preset lra takes the LRA specification" || fail "listops --help does not explain the presets"
  "$nyx_train" listops "${tiny[@]}" --steps 4 --eval-every 2 --run-dir r > /dev/null
  expect_error "r already holds a run" listops "${tiny[@]}" --steps 4 --run-dir r
  expect_error "--dim is 16 in r/config.json, the command gives 32; only --steps" listops --resume r --dim 32
  cp r/config.json config.before
  expect_error "already ran 4 steps" listops --resume r --steps 2
  cmp -s r/config.json config.before || fail "a refused resume changed config.json"
  cp r/latest.safetensors latest.good
  head -c 300 latest.good > r/latest.safetensors
  cp r/metrics.jsonl metrics.before
  expect_error "latest.safetensors" listops --resume r --steps 8
  cmp -s r/config.json config.before && cmp -s r/metrics.jsonl metrics.before || fail "a corrupt checkpoint's resume changed the run"
  cp latest.good r/latest.safetensors
  expect_error "is a listops run" text --resume r
  expect_error "--resume nowhere: no such directory" listops --resume nowhere
  mkdir empty-dir
  expect_error "holds no config.json, so it is not a nyx-train run directory" listops --resume empty-dir
  # Numbers are decimal and within their type: no wrapped --seed -1, no clamped seed, no hex.
  expect_error '"-1" is not a decimal number' listops --seed -1
  expect_error '"18446744073709551616" is not a decimal number' listops --seed 18446744073709551616
  expect_error '"0x10" is not a decimal number' listops --lr 0x10
  # A zero-padded number is decimal (CLI11 alone read 010 as octal 8, and refused 08).
  "$nyx_train" listops "${tiny[@]}" --steps 010 --seed 08 --eval-every 5 --run-dir padded > /dev/null || fail "--steps 010 --seed 08 refused"
  grep -q '"steps": 10,' padded/config.json && grep -q '"seed": 8,' padded/config.json || fail "010 and 08 not read as 10 and 8: $(cat padded/config.json)"
  # A run that stopped before its first checkpoint can be started afresh.
  "$nyx_train" listops "${tiny[@]}" --steps 2 --eval-every 2 --run-dir fresh > /dev/null
  rm fresh/latest.safetensors
  expect_error "has no latest.safetensors to resume from" listops --resume fresh --steps 4
  "$nyx_train" listops "${tiny[@]}" --steps 2 --eval-every 2 --run-dir fresh > /dev/null || fail "restarting a run without a checkpoint"
  echo '{"task": "listops"' > r/config.json
  expect_error "r/config.json: not valid JSON" listops --resume r --steps 8
  echo '{"task": "listops"}' > r/config.json
  expect_error "has no \"preset\"" listops --resume r --steps 8
  : > empty.safetensors
  expect_error "fewer than the 8-byte header" eval empty.safetensors
  expect_error "/dev/null is a character device, not a regular file" eval /dev/null
  printf '\x02\x00\x00\x00\x00\x00\x00\x00{}' > plain.safetensors  # a valid file with no tensors and no metadata
  expect_error "has no nyx-train configuration" eval plain.safetensors
  ;;
linear-attentions)
  # Linformer (one projection shared by every layer) and Performer (features redrawn every 3 steps)
  # train, and a run interrupted by Ctrl-C resumes to the uninterrupted run's losses bit for bit:
  # the projection, the features and the redraws' stream and count are in the checkpoint.
  # Sanitizer builds take fewer steps: Ctrl-C still lands at the first checkpoint, long before the end.
  steps=300; [ -n "${NYX_TESTS_SANITIZED:-}" ] && steps=100
  for attention in "linformer --sharing layerwise --projected-length 8" "performer --features 16 --redraw-interval 3"; do
    name=${attention%% *}
    read -r -a options <<<"$attention"
    run=(listops "${two_layers[@]}" --attn "${options[@]}" --dropout 0.1 --steps "$steps" --eval-every 20 --log-every 1)
    "$nyx_train" "${run[@]}" --run-dir "$name-straight" > /dev/null
    "$nyx_train" "${run[@]}" --run-dir "$name-cut" > /dev/null &
    pid=$!
    for _ in $(seq 1 3000); do [ -e "$name-cut/latest.safetensors" ] && break; sleep 0.01; done
    kill -INT "$pid"
    status=0; wait "$pid" || status=$?
    [ "$status" -eq 130 ] || fail "$name: an interrupted run should exit with 130, got $status"
    [ "$(losses "$name-cut" | tail -1 | cut -d' ' -f1)" -lt "$steps" ] || fail "$name: the run finished before the interruption"
    "$nyx_train" listops --resume "$name-cut" > /dev/null
    diff <(losses "$name-straight") <(losses "$name-cut") > /dev/null ||
      fail "$name: the resumed run's losses differ: $(diff <(losses "$name-straight") <(losses "$name-cut") | head -5)"
    grep -q "\"attn\": \"$name\"" "$name-cut/config.json" || fail "$name: config.json lacks the attention"
    "$nyx_train" eval "$name-cut" | grep -q 'test accuracy' || fail "$name: eval of the run"
  done
  expect_error "--sharing must be none, headwise, key-value or layerwise" listops "${tiny[@]}" --attn linformer --sharing rows --steps 2
  expect_error "--attn must be nystrom, softmax, linformer or performer" listops "${tiny[@]}" --attn linear --steps 2
  ;;
resume-flags)
  # Job scripts re-run their own command line with --resume added after a preemption: every flag
  # equal to the run's own value is accepted (here --steps changes too).
  run=(listops "${tiny[@]}" --attn softmax --dropout 0 --eval-every 2)
  "$nyx_train" "${run[@]}" --run-dir r --steps 4 > /dev/null
  "$nyx_train" "${run[@]}" --run-dir r --resume r --steps 6 > out.txt 2>&1 || fail "the same command with --resume added was refused: $(cat out.txt)"
  grep -q 'resuming .* from step 4 to 6' out.txt || fail "no resume from step 4: $(cat out.txt)"
  # The same directory spelt otherwise, and data files given relative: compared as config.json holds them (absolute).
  "$nyx_train" "${run[@]}" --run-dir "./r/" --resume "$work/r" --steps 8 > /dev/null || fail "--run-dir ./r/ with --resume $work/r"
  [ "$(losses r | cut -d' ' -f1 | tr '\n' ' ')" = "4 6 8 " ] || fail "expected the steps 4, 6 and 8 (each run's last): $(losses r)"
  # Real changes are refused, naming the flag, the run's value and the command's.
  expect_error "--attn is softmax in r/config.json, the command gives nystrom; only --steps, --threads, --eval-every, --log-every and --eval-size can change on resume" \
    listops --resume r --attn nystrom --steps 10
  expect_error "--dropout is 0.0 in r/config.json, the command gives 0.1" listops --resume r --dropout 0.1 --steps 10
  expect_error "--run-dir names $work/other but --resume names $work/r" listops --resume r --run-dir other --steps 10
  ;;
resume-lr)
  # 4 steps of a linear decay from 1e-3 end at lr 0; resumed to 8 steps, step 5 runs at the new
  # plan's rate for position 4, 1e-3 · (8 - 4) / 8 = 5e-4 (it ran at 0, the old plan's last).
  run=(listops "${tiny[@]}" --lr 1e-3 --warmup 0 --schedule linear --eval-every 4 --log-every 1 --run-dir r)
  "$nyx_train" "${run[@]}" --steps 4 > /dev/null
  "$nyx_train" listops --resume r --steps 8 > /dev/null
  grep -q '^{"step":5,"split":"train",.*"lr":0.0005}$' r/metrics.jsonl || fail "step 5's learning rate: $(grep '"step":5,' r/metrics.jsonl)"
  ;;
lock)
  # A second process on a run directory in use is refused, naming the first, for as long as the
  # first runs (two writers would interleave metrics.jsonl and overwrite each other's checkpoints).
  run=(listops "${tiny[@]}" --steps 3000 --eval-every 1000 --log-every 1)
  "$nyx_train" "${run[@]}" --run-dir d > first.txt 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do [ -s d/metrics.jsonl ] && break; sleep 0.01; done
  expect_error "$work/d is in use by nyx-train (pid $pid on $(hostname)); wait for it to end or choose another --run-dir" "${run[@]}" --run-dir d
  for _ in $(seq 1 6000); do [ -e d/latest.safetensors ] && break; sleep 0.01; done
  expect_error "is in use by nyx-train (pid $pid on" listops --resume d
  kill -INT "$pid"
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 130 ] || fail "the first run should have been interrupted (130), got $status: $(cat first.txt)"
  [ -z "$(losses d | cut -d' ' -f1 | uniq -d)" ] || fail "metrics.jsonl holds a step twice"
  stopped=$(losses d | tail -1 | cut -d' ' -f1)
  "$nyx_train" listops --resume d --steps $((stopped + 2)) > /dev/null || fail "the directory stayed locked after its run ended"
  ;;
special-files)
  # Checkpoints and data files that are not regular files are refused at once, by name (a FIFO
  # blocked for ever, /dev/zero was read until memory ran out).
  limit=(timeout -s KILL 60)
  [ -z "${NYX_TESTS_SANITIZED:-}" ] && ulimit -v 8000000  # should /dev/zero be read all the same
  "$nyx_train" listops "${tiny[@]}" --steps 2 --eval-every 2 --run-dir r > /dev/null
  mv r/latest.safetensors latest.good
  rm r/best.safetensors
  mkfifo r/latest.safetensors
  expect_error "r/latest.safetensors is a FIFO (named pipe), not a regular file" eval r
  expect_error "r/latest.safetensors is a FIFO (named pipe), not a regular file" listops --resume r --steps 4
  rm r/latest.safetensors && ln -s /dev/zero r/latest.safetensors
  expect_error "r/latest.safetensors is a character device, not a regular file" eval r/latest.safetensors
  expect_error "r/latest.safetensors is a character device, not a regular file" listops --resume r --steps 4
  rm r/latest.safetensors && mkdir r/latest.safetensors
  expect_error "r/latest.safetensors is a directory, not a regular file" listops --resume r --steps 4
  rmdir r/latest.safetensors && ln -s "$work/latest.good" r/latest.safetensors  # a link to a file is a file
  "$nyx_train" eval r > /dev/null || fail "a checkpoint behind a symbolic link does not load"
  mkfifo train.fifo
  expect_error "train.fifo is a FIFO (named pipe), not a regular file" text --train-file train.fifo --test-file train.fifo --run-dir t
  # A checkpoint whose weights hold a NaN (damaged, or not written by nyx-train) is refused by name,
  # not evaluated to a loss of NaN. The last 4 bytes of a weights file are an f32 of its last tensor.
  "$nyx_train" listops "${tiny[@]}" --steps 2 --eval-every 2 --run-dir nanrun > /dev/null
  size=$(stat -c %s nanrun/best.safetensors)
  printf '\000\000\300\177' | dd of=nanrun/best.safetensors bs=1 seek=$((size - 4)) conv=notrunc status=none
  expect_error "nanrun/best.safetensors holds non-finite weights" eval nanrun/best.safetensors
  ;;
foreign)
  # Another run's checkpoint of the same shape (another seed) is not resumed as if it were this run's.
  run=(listops "${tiny[@]}" --steps 4 --eval-every 2)
  "$nyx_train" "${run[@]}" --run-dir mine > /dev/null
  "$nyx_train" "${run[@]}" --seed 1 --run-dir theirs > /dev/null
  cp mine/latest.safetensors latest.good
  cp theirs/latest.safetensors mine/latest.safetensors
  expect_error "$work/mine/latest.safetensors is not this run's checkpoint: its configuration has seed 1 where $work/mine/config.json has 0" \
    listops --resume mine --steps 8
  cp latest.good mine/latest.safetensors
  # A key given twice in config.json: which value was meant is unclear.
  sed -i 's/^  "seed": 0,$/  "seed": 0,\n  "seed": 1,/' mine/config.json
  [ "$(grep -c '"seed"' mine/config.json)" -eq 2 ] || fail "the test could not repeat the key"
  expect_error 'mine/config.json: the key "seed" appears twice' listops --resume mine --steps 8
  # Bytes after a NUL would pass the JSON parser, which takes the NUL for the end of its input.
  sed -i '/^  "seed": 1,$/d' mine/config.json
  printf '\000garbage{' >> mine/config.json
  expect_error "mine/config.json: a NUL byte at offset" listops --resume mine --steps 8
  ;;
address-space)
  # Under an address-space limit OpenBLAS retried a failing mmap for ever (deaf to SIGTERM), or
  # nyx aborted at exit. Now a limit too small is refused at once, naming it.
  [ -n "${NYX_TESTS_SANITIZED:-}" ] && { echo "SKIPPED: sanitizers reserve terabytes of address space, so ulimit -v stops them first"; exit 77; }
  # refused KIB MESSAGE COMMAND: under ulimit -v KIB, the command ends with status 1 and MESSAGE.
  refused() {
    local kib=$1 message=$2 status=0 out; shift 2
    out=$( (ulimit -v "$kib"; timeout -s KILL 60 "$nyx_train" "$@") 2>&1) || status=$?
    [ "$status" -eq 1 ] || fail "nyx-train $* under ulimit -v $kib: status $status (137: it hung and was killed; 134: it aborted): $out"
    grep -q "(ulimit -v $kib), and nyx-train with $message" <<<"$out" || fail "under ulimit -v $kib, no clear message: $out"
  }
  # Enough for one thread, not for the two of the command: refused when the run starts.
  for kib in 600000 700000; do
    refused "$kib" "2 threads needs at least 768 MiB" listops "${tiny[@]}" --steps 4 --run-dir "as$kib"
    refused "$kib" "2 threads needs at least 768 MiB" eval "as$kib" --threads 2
  done
  # Too small for any run: every command, --help included, is refused first thing and leaves at
  # once. Below about 200000 OpenBLAS's own thread spins from the moment the library loads, and an
  # ordinary exit would wait for it for ever.
  for kib in 300000 150000; do
    refused "$kib" "1 thread needs at least 512 MiB" --help
    refused "$kib" "1 thread needs at least 512 MiB" listops "${tiny[@]}" --steps 4 --run-dir "as$kib"
  done
  ;;
replaced)
  # The run directory removed and made anew while the run goes on: the run notices at its next
  # write and stops, rather than end with status 0 and nothing to resume.
  "$nyx_train" listops "${tiny[@]}" --steps 3000 --eval-every 20 --log-every 1 --run-dir d > out.txt 2>&1 &
  pid=$!
  for _ in $(seq 1 6000); do [ -e d/latest.safetensors ] && break; sleep 0.01; done
  rm -rf d && mkdir d
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 1 ] || fail "the run should stop with status 1, got $status: $(tail -3 out.txt)"
  grep -q "the run directory $work/d was removed or replaced while the run was using it" out.txt || fail "no message: $(tail -3 out.txt)"
  [ -z "$(ls -A d)" ] || fail "the run wrote into the new directory: $(ls -A d)"
  ;;
limits)
  # More classes than a run may have (65536) are found when the data is read, before step 1,
  # naming the line: the run used to train, then fail at the end, unable to resume or evaluate.
  seq 1 70000 | awk '{ printf "%d\tword %d\n", $1, $1 }' > many.tsv
  expect_error 'many.tsv:65537: the label "65537" is class 65537 of 70000; at most 65536 classes are allowed' \
    text --train-file many.tsv --test-file many.tsv --dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1 --landmarks 4 --conv 3 \
    --batch 8 --steps 2 --eval-every 2 --run-dir m
  [ ! -e m/metrics.jsonl ] && [ ! -e m/latest.safetensors ] || fail "the run trained before the limit was checked: $(ls m)"
  ;;
bom)
  # A UTF-8 byte-order mark, as some editors write, is not part of the first label or line.
  { printf '\xef\xbb\xbf'; for i in $(seq 1 60); do printf 'yes\tyes it is %d\nno\tno it is not %d\n' "$i" "$i"; done; } > bom.tsv
  "$nyx_train" text --train-file bom.tsv --test-file bom.tsv --val-size 20 --dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1 \
    --landmarks 4 --conv 3 --batch 8 --steps 2 --eval-every 2 --run-dir t > /dev/null
  grep -q '"classes": 2' t/config.json || fail "the byte-order mark made a class of its own: $(grep classes t/config.json)"
  for split in train val test; do
    { printf '\xef\xbb\xbfSource\tTarget\n'; for i in $(seq 1 20); do printf '( [MAX %d %d ] )\t%d\n' "$((i % 10))" 3 "$((i % 10 > 3 ? i % 10 : 3))"; done; } > "bom_$split.tsv"
  done
  "$nyx_train" listops --train-file bom_train.tsv --val-file bom_val.tsv --test-file bom_test.tsv --dim 16 --heads 2 --head-dim 8 \
    --hidden 16 --layers 1 --landmarks 4 --conv 3 --batch 8 --steps 2 --eval-every 2 --run-dir l > /dev/null ||
    fail "ListOps TSV files with a byte-order mark were refused"
  ;;
divergence)
  # A learning rate far too high takes the loss from 2.3 to about 1e19: the run stops (status 1)
  # instead of training on and ending with status 0.
  blow=(listops "${tiny[@]}" --lr 1e6 --warmup 0 --steps 100 --log-every 1)
  expect_error "the loss diverged" "${blow[@]}" --eval-every 50 --run-dir d
  [ ! -e d/latest.safetensors ] || fail "a checkpoint was written after the loss diverged"
  # No checkpoint holds diverged weights. With a warm-up, step 1 runs at lr 0 and is checkpointed;
  # step 2's update blows the weights up, which its training loss (taken before the update) cannot
  # show, but validation does, before the checkpoint is written: the last good one stays step 1's.
  expect_error "The last good checkpoint is $work/d2/latest.safetensors" listops "${tiny[@]}" --lr 1e6 --warmup 10 --steps 100 \
    --log-every 1 --eval-every 1 --run-dir d2
  grep -q '"step":1,"split":"val"' d2/metrics.jsonl && ! grep -q '"step":2,"split":"val"' d2/metrics.jsonl || fail "expected step 1's validation only"
  loss=$("$nyx_train" eval d2/latest.safetensors --split val | sed -E 's/.*\(loss ([^,]+),.*/\1/')
  awk -v l="$loss" 'BEGIN { exit !(l + 0 < 230) }' || fail "the last good checkpoint holds diverged weights (validation loss $loss)"
  ;;
failed-resume)
  # A resume that is refused changes nothing: here the training file has lost lines, and the data
  # left is less than a batch.
  for i in $(seq 1 30); do printf 'yes\tyes it is %d\nno\tno %d\n' "$i" "$i"; done > train.tsv
  printf 'yes\tthe longest line of all, so the positions stay\nno\tno\n' > test.tsv
  text=(text --train-file train.tsv --test-file test.tsv --val-size 20 --dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1
        --landmarks 4 --conv 3 --batch 8)
  "$nyx_train" "${text[@]}" --steps 4 --eval-every 2 --run-dir t > /dev/null
  cp -r t before
  cp train.tsv full.tsv
  head -24 train.tsv > shorter.tsv && mv shorter.tsv train.tsv
  expect_error "has 4 examples, fewer than one batch of 8" text --resume t --steps 8
  diff -r -x .lock before t > /dev/null || fail "a refused resume changed the run directory: $(diff -r -x .lock before t | head -5)"
  # The same when the fault is in speed.jsonl (here a directory), which is read before anything is written.
  cp full.tsv train.tsv
  rm -rf t && cp -r before t && rm t/speed.jsonl && mkdir t/speed.jsonl && cp -r t before-bad-speed
  expect_error "speed.jsonl" text --resume t --steps 8
  diff -r -x .lock before-bad-speed t > /dev/null || fail "a refused resume changed the run directory: $(diff -r -x .lock before-bad-speed t | head -5)"
  # Empty values, as an unset variable in a job script gives, are refused rather than taken as the default.
  expect_error "--resume needs a run directory" text --resume ""
  expect_error "--run-dir needs a directory" "${text[@]}" --run-dir ""
  # A padded length shorter than the data is refused before anything is written.
  expect_error "--pad-to 5 is shorter than the longest sequence" "${text[@]}" --pad-to 5 --run-dir p
  [ ! -e p/config.json ] || fail "a refused --pad-to wrote p/config.json"
  ;;
write-order)
  # Each checkpoint is written after an fsync of metrics.jsonl and speed.jsonl, so a checkpoint
  # never covers lines a power cut could lose. strace shows the order of the system calls.
  command -v strace > /dev/null || { echo "SKIPPED: strace is absent (Debian: apt-get install strace)"; exit 77; }
  strace -f -y -e trace=fsync,rename,renameat,renameat2 -o trace.txt true 2> /dev/null || { echo "SKIPPED: strace cannot trace here"; exit 77; }
  # (LeakSanitizer cannot run under ptrace; the other cases check for leaks.)
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -y -e trace=fsync,rename,renameat,renameat2 -o trace.txt \
    "$nyx_train" listops "${tiny[@]}" --steps 6 --eval-every 2 --log-every 1 --run-dir w > /dev/null
  awk '/fsync\(.*\/metrics\.jsonl>/ { m = 1 } /fsync\(.*\/speed\.jsonl>/ { s = 1 }
       /rename.*(latest|best)\.safetensors"/ { n++; if (!m || !s) { print "checkpoint " n " was written before the metrics were synced"; bad = 1 } m = s = 0 }
       END { if (n < 4) { print "expected at least 4 checkpoints, saw " n; bad = 1 } exit bad }' trace.txt || fail "write order: $(grep -v tmp- trace.txt | head -20)"
  ;;
eval)
  # A long validation (12,000 expressions) shows its progress; Ctrl-C during it stops the run
  # between two batches, with no further step, and the resume validates that step first: the
  # run's metrics.jsonl is then the uninterrupted run's, bit for bit, whether Ctrl-C came in the
  # middle of the run or at its last step.
  val=12000; [ -n "${NYX_TESTS_SANITIZED:-}" ] && val=3000  # sanitizer builds: about 10 times slower
  long=(listops "${tiny[@]}" --steps 4 --eval-every 2 --log-every 1)
  for i in "${!long[@]}"; do [ "${long[i]}" = --val-size ] && long[i + 1]=$val; done
  if command -v script > /dev/null; then  # a terminal: the line is redrawn in place, then cleared
    script -qec "$(printf '%q ' "$nyx_train" "${long[@]}" --run-dir straight)" /dev/null > straight.txt
    grep -q $'\r\033\\[Keval val  *[0-9]*/'"$((val / 8))"$' batches  [0-9:]* < [0-9:]*\r\033\\[K' straight.txt || fail "no evaluation progress: $(head -c 600 straight.txt)"
  else
    echo "script is absent (util-linux): the progress on a terminal is not checked"
    "$nyx_train" "${long[@]}" --run-dir straight > straight.txt
  fi
  for at in 2 4; do
    "$nyx_train" "${long[@]}" --run-dir "cut$at" > "cut$at.txt" 2>&1 &
    pid=$!
    for _ in $(seq 1 6000); do grep -qs "\"step\":$at,\"split\":\"train\"" "cut$at/metrics.jsonl" && break; sleep 0.01; done
    kill -INT "$pid"
    status=0; wait "$pid" || status=$?
    [ "$status" -eq 130 ] || fail "Ctrl-C during the validation of step $at: status $status: $(cat "cut$at.txt")"
    grep -q "interrupted at step $at, during its validation (a resume validates it first)" "cut$at.txt" || fail "no message: $(cat "cut$at.txt")"
    ! grep -q $'\r' "cut$at.txt" || fail "progress codes in a log that is not a terminal"
    ! grep -q "\"step\":$at,\"split\":\"val\"" "cut$at/metrics.jsonl" || fail "the validation of step $at ran to its end after Ctrl-C"
    ! grep -q "\"step\":$((at + 1))," "cut$at/metrics.jsonl" || fail "a step ran after Ctrl-C during the validation of step $at"
    "$nyx_train" listops --resume "cut$at" > "resumed$at.txt" || fail "the resume after Ctrl-C at step $at: $(cat "resumed$at.txt")"
    cmp straight/metrics.jsonl "cut$at/metrics.jsonl" || fail "Ctrl-C at step $at, then --resume: metrics differ: $(diff straight/metrics.jsonl "cut$at/metrics.jsonl")"
  done
  # --eval-size caps validation and test, evenly spread, and every summary says so; it may change on resume.
  "$nyx_train" listops "${tiny[@]}" --steps 4 --eval-every 2 --eval-size 10 --run-dir capped > capped.txt
  grep -q '40 val / 40 test examples (at most 10 of each evaluated: --eval-size)' capped.txt || fail "no cap at the start: $(head -4 capped.txt)"
  grep -q 'test accuracy .*(loss [0-9.]*, 10 of 40 examples (--eval-size 10);' capped.txt || fail "no cap in the summary: $(tail -3 capped.txt)"
  "$nyx_train" listops --resume capped --steps 6 --eval-size 0 | grep -q 'test accuracy .*(loss [0-9.]*, 40 examples;' ||
    fail "--eval-size 0 on resume"
  "$nyx_train" eval capped --eval-size 7 | grep -q 'test accuracy .*(loss [0-9.]*, 7 of 40 examples (--eval-size 7)' || fail "eval --eval-size 7"
  ;;
warmup)
  # Without --warmup, a run shorter than its preset warms up for the same share of its steps (the
  # demo's 200 of 3000), and so reaches the peak learning rate; a warm-up given as long as the run is
  # kept, with a warning.
  "$nyx_train" listops "${tiny[@]}" --steps 30 --eval-every 30 --log-every 1 --run-dir scaled > scaled.txt
  grep -q "note: the warm-up is scaled to this run: 2 of its 30 steps, as the preset's 200 are of its 3000 (--warmup sets it)" scaled.txt ||
    fail "no note: $(head -3 scaled.txt)"
  grep -q '"warmup": 2,' scaled/config.json || fail "config.json: $(grep warmup scaled/config.json)"
  grep -q '^{"step":3,"split":"train",.*"lr":0.001}$' scaled/metrics.jsonl || fail "step 3 does not run at the peak rate: $(grep '"step":3,' scaled/metrics.jsonl)"
  ! grep -q warning scaled.txt || fail "a warning for a scaled warm-up: $(cat scaled.txt)"
  "$nyx_train" listops "${tiny[@]}" --steps 30 --warmup 60 --eval-every 30 --run-dir long > long.txt
  grep -q 'warning: --warmup 60 is not shorter than --steps 30: the learning rate rises to only 48% of --lr 0.001, and never decays' long.txt ||
    fail "no warning: $(head -5 long.txt)"
  grep -q '"warmup": 60,' long/config.json || fail "a --warmup given was changed: $(grep warmup long/config.json)"
  "$nyx_train" listops --help | grep -q "left out: the preset's, in proportion to a shorter --steps" || fail "--help does not say how the warm-up is chosen"
  ;;
usage)
  # Every mistake in the command line, whether CLI11 or nyx-train finds it, exits with status 2 and
  # says what was likely meant; a failure while running exits with 1.
  expect_status 2 "unknown flag --stpes for listops; did you mean --steps?" listops --stpes 100
  expect_status 2 "--steps comes before the command; flags go after it: nyx-train listops --steps ..." --steps 100 listops
  expect_status 2 "--stpes comes before the command" --stpes 3 eval nowhere
  expect_status 2 'unknown command "lisops"; did you mean listops?; flags go after the command' --threads 2 lisops
  expect_status 2 "unknown flag --stpes for listops; did you mean --steps?" listops --stpes=100
  expect_status 2 "Run 'nyx-train listops --help' for the usage." listops --stpes 100
  expect_status 2 'unknown command "listop"; did you mean listops?' listop --steps 100
  expect_status 2 'unknown command "fashion"; did you mean fashion-mnist?' fashion
  expect_status 2 "unknown flag --test-size for fashion-mnist (a flag of listops, pathfinder, text, retrieval, pretrain, finetune)" fashion-mnist --test-size 10
  expect_status 2 "unknown flag --splt for eval; did you mean --split?" eval r --splt val
  expect_status 2 "unknown flag --verison; did you mean --version?" --verison
  expect_status 2 "a command is required: listops, pathfinder, fashion-mnist, text, retrieval, pretrain, finetune, eval, plot, tokenizer or attention-map"
  expect_status 2 'unexpected argument "extra" for listops' listops extra
  expect_status 2 '--steps: "abc" is not a decimal number' listops --steps abc
  expect_status 2 "--split: val2 not in {train,val,test}" eval r --split val2
  expect_status 2 "--landmarks must be at least 1" listops --landmarks 0
  expect_status 2 "Run 'nyx-train listops --help' for the usage." listops --landmarks 0
  expect_status 2 "--resume nowhere: no such directory" listops --resume nowhere
  expect_status 1 "nothing.tsv" text --train-file nothing.tsv --test-file nothing.tsv --run-dir t
  "$nyx_train" --version | grep -qE '^nyx-train [0-9]+\.[0-9]+\.[0-9]+( \(configured at git [0-9a-f]+\))?$' || fail "--version: $("$nyx_train" --version)"
  "$nyx_train" --help > help.txt
  grep -q '^Exit status:$' help.txt && grep -q '^  1    a failure while running' help.txt && grep -q '^  2    a mistake in the command line' help.txt ||
    fail "--help does not document the exit status: $(cat help.txt)"
  ;;
files)
  # Files and folders that are not what a command needs are named as such, with what to do.
  "$nyx_train" listops "${tiny[@]}" --steps 2 --eval-every 2 --run-dir r > /dev/null
  expect_status 1 "r/config.json: not a safetensors file: it starts with the text \"{\"" eval r/config.json
  expect_status 2 "nowhere: no such run directory or checkpoint file" eval nowhere
  mkdir notes && echo hello > notes/notes.txt
  expect_status 2 "notes holds no best.safetensors or latest.safetensors; is it a nyx-train run directory?" eval notes
  expect_status 2 "--resume notes holds no config.json, so it is not a nyx-train run directory" listops --resume notes
  expect_status 2 "notes has no metrics.jsonl; is it a nyx-train run directory?" plot notes
  expect_status 2 "nowhere: no such run directory" plot nowhere
  # An output file in a folder that is not there: the message names the file, not its temporary.
  expect_status 2 "--output nodir/x.svg: there is no folder nodir to write it in" plot r --output nodir/x.svg
  out=$("$nyx_train" plot r --output nodir/x.svg 2>&1 || true)
  ! grep -q 'tmp-' <<<"$out" || fail "the message names the temporary file: $out"
  # A folder that holds other files, or another tool's config.json, is not written into.
  mkdir mine && echo keep > mine/thesis.tex
  expect_status 2 "mine is not empty and not a nyx-train run directory (it holds thesis.tex); give a new or empty --run-dir" \
    listops "${tiny[@]}" --steps 2 --run-dir mine
  [ "$(ls -A mine)" = thesis.tex ] || fail "the run wrote into a folder that is not a run's: $(ls -A mine)"
  mkdir hub && echo '{"model_type": "bert"}' > hub/config.json
  expect_status 2 "hub holds a config.json that is not a nyx-train run's" listops "${tiny[@]}" --steps 2 --run-dir hub
  [ "$(ls -A hub)" = config.json ] && grep -q bert hub/config.json || fail "the run wrote into another tool's folder: $(ls -A hub)"
  mkdir empty && "$nyx_train" listops "${tiny[@]}" --steps 2 --eval-every 2 --run-dir empty > /dev/null || fail "an empty --run-dir was refused"
  # A folder that cannot be written in: named, with the flag to give. (Root writes anywhere, so as
  # root the commands run as the user nobody.)
  as=()
  if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv > /dev/null || { echo "SKIPPED the read-only folders: root, and no setpriv to run as another user"; echo "ok: $case_name"; exit 0; }
    as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chmod 755 "$work"
  fi
  mkdir ro && chmod 555 ro && cp -r r ro-run && chmod 555 ro-run
  read_only() {  # read_only "message part" nyx-train args...: status 1 and the message
    local want=$1 out status=0; shift
    out=$("${as[@]}" "$nyx_train" "$@" 2>&1) || status=$?
    [ "$status" -eq 1 ] && grep -qF -- "$want" <<<"$out" || fail "nyx-train $* in a read-only folder: status $status: $out"
  }
  read_only "cannot create the run directory $work/ro/run (Permission denied); give a writable --run-dir" listops "${tiny[@]}" --steps 2 --run-dir ro/run
  read_only "cannot write in the run directory $work/ro (Permission denied); give a writable --run-dir" listops "${tiny[@]}" --steps 2 --run-dir ro
  read_only "cannot write in the run directory $work/ro-run (Permission denied); give a writable --run-dir, or copy the run to a writable place and resume the copy" \
    listops --resume ro-run --steps 4
  (cd ro && read_only "cannot create the folder runs in $work/ro (Permission denied) for the run directory; run nyx-train in a writable folder, or give --run-dir" \
    listops "${tiny[@]}" --steps 2)
  ;;
output)
  # What nyx-train prints after a resume: the steps this process ran, and the console's smoothed
  # figures of the run that never stopped; and the plot's legend says which curves it smoothed.
  steps=300; [ -n "${NYX_TESTS_SANITIZED:-}" ] && steps=100  # sanitizer builds: Ctrl-C still lands at step 20
  run=(listops "${tiny[@]}" --dropout 0.1 --steps "$steps" --eval-every 20 --log-every 1)
  "$nyx_train" "${run[@]}" --run-dir straight > straight.txt
  "$nyx_train" "${run[@]}" --run-dir cut > /dev/null &
  pid=$!
  for _ in $(seq 1 3000); do [ -e cut/latest.safetensors ] && break; sleep 0.01; done
  kill -INT "$pid"; wait "$pid" || true
  stopped=$(losses cut | tail -1 | cut -d' ' -f1)
  [ "$stopped" -lt "$steps" ] || fail "the run finished before the interruption; the test needs a slower run"
  "$nyx_train" listops --resume cut > resumed.txt
  grep -q "^$steps steps in " straight.txt || fail "the summary of a run: $(tail -3 straight.txt)"
  grep -q "^$((steps - stopped)) steps ($((stopped + 1))-$steps, resumed at step $stopped) in " resumed.txt || fail "the summary after a resume: $(tail -3 resumed.txt)"
  console() { grep -o "^step [0-9]*/$steps  loss [0-9.]*  acc *[0-9.]*%" "$1"; }
  [ "$(console resumed.txt | wc -l)" -eq $((steps - stopped)) ] || fail "expected $((steps - stopped)) progress lines: $(head -5 resumed.txt)"
  diff <(console straight.txt | tail -n $((steps - stopped))) <(console resumed.txt) > /dev/null ||
    fail "the resumed console differs from the uninterrupted run's: $(diff <(console straight.txt | tail -n $((steps - stopped))) <(console resumed.txt) | head -4)"
  grep -q "straight (nystrom) (training curve: trailing mean over $((steps / 50)) logged steps)" straight/curves.svg || fail "the legend does not say how the curve was smoothed"
  "$nyx_train" listops "${tiny[@]}" --steps 10 --eval-every 5 --run-dir short > /dev/null
  ! grep -qi 'smooth\|mean' short/curves.svg || fail "the legend of a 10-step run says it was smoothed"
  # speed.jsonl's wall-clock seconds go on rising across the resume, and plot --x minutes draws by them.
  seconds() { grep -o '"seconds":[0-9.]*' "$1/speed.jsonl" | cut -d: -f2; }
  [ "$(seconds cut | wc -l)" -eq "$steps" ] && seconds cut | sort -n -c || fail "cut's seconds do not rise: $(seconds cut | tr '\n' ' ' | head -c 400)"
  before=$(seconds cut | sed -n "${stopped}p") after=$(seconds cut | sed -n "$((stopped + 1))p")
  awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > b) }' || fail "the resumed run's seconds start at $after, not after the checkpoint's $before"
  "$nyx_train" plot straight cut --x minutes --output minutes.svg > /dev/null || fail "plot --x minutes"
  grep -q 'minutes (wall clock)' minutes.svg || fail "plot --x minutes: no axis"
  sed -i 's/,"seconds":[0-9.]*//' short/speed.jsonl
  expect_error "short/speed.jsonl has no wall-clock times (a run begun before they were logged); plot it with --x step" plot short --x minutes
  ;;
mpi|mpi-dead)
  [ -n "${NYX_TESTS_NO_MPI:-}" ] && { echo "SKIPPED: nyx was built without MPI (NYX_MPI=OFF)"; exit 77; }
  command -v mpirun > /dev/null || { echo "SKIPPED: mpirun is absent (Debian: apt-get install openmpi-bin)"; exit 77; }
  ;;&
mpi)
  # --warmup 200: the learning rate depends on the step alone (a warm-up scaled to --steps, or a
  # decay, would differ between a run of 40 steps and one of 20 resumed to 40). Sanitizer builds,
  # whose every process start is slow, run 20 steps and resume at 10.
  steps=40; [ -n "${NYX_TESTS_SANITIZED:-}" ] && steps=20
  run=(listops "${base[@]}" --threads 1 --eval-every 10 --log-every 1 --warmup 200)
  "$nyx_train" "${run[@]}" --dropout 0 --steps "$steps" --run-dir one > /dev/null
  ranks 2 "$nyx_train" "${run[@]}" --dropout 0 --steps "$steps" --run-dir two > two.txt
  within_1e4 one two || fail "2 ranks' losses differ from one process's by more than 1e-4: $(largest_difference one two)"
  echo "2 ranks against 1 process: largest relative difference of the loss $(largest_difference one two)"
  [ "$(grep -c 'loading the data' two.txt)" -eq 1 ] || fail "more than rank 0 printed: $(cat two.txt)"
  grep -q '2 ranks × 1 thread$' two.txt && grep -q 'data parallel: 2 ranks; per step (after the first) .* MB of gradients averaged in .* allreduce' two.txt || fail "no data-parallel summary: $(cat two.txt)"
  for f in config.json metrics.jsonl latest.safetensors best.safetensors curves.svg; do [ -s "two/$f" ] || fail "two/$f is missing"; done
  [ "$(grep -c '"split":"train"' two/metrics.jsonl)" -eq "$steps" ] || fail "the metrics were written more than once"
  # A checkpoint of 2 ranks resumes with 1, and one of 1 with 2: the losses follow the straight run.
  ranks 2 "$nyx_train" "${run[@]}" --dropout 0 --steps $((steps / 2)) --run-dir two-then-one > /dev/null
  "$nyx_train" listops --resume two-then-one --steps "$steps" > /dev/null
  within_1e4 one two-then-one || fail "2 ranks then 1: $(largest_difference one two-then-one)"
  "$nyx_train" "${run[@]}" --dropout 0 --steps $((steps / 2)) --run-dir one-then-two > /dev/null
  ranks 2 "$nyx_train" listops --resume one-then-two --steps "$steps" > resumed.txt
  grep -q 'resuming' resumed.txt || fail "no resume message"
  within_1e4 one one-then-two || fail "1 rank then 2: $(largest_difference one one-then-two)"
  [ "$(losses one-then-two | wc -l)" -eq "$steps" ] || fail "expected $steps training lines after resuming with 2 ranks"
  echo "resumed: 2 ranks then 1 $(largest_difference one two-then-one); 1 then 2 $(largest_difference one one-then-two)"
  # The rest checks what nyx-train says and names, not memory: sanitizer builds, whose every MPI
  # start takes seconds, leave it to the Release build.
  [ -n "${NYX_TESTS_SANITIZED:-}" ] && { echo "ok: mpi (its messages are checked by the Release build)"; exit 0; }
  mkdir auto && (cd auto && ranks 2 "$nyx_train" "${run[@]}" --steps 2 > /dev/null)  # no --run-dir: rank 0 names one
  [ "$(ls auto/runs | wc -l)" -eq 1 ] || fail "expected one run directory, made by rank 0: $(ls auto/runs)"
  # Dropout: each rank draws its own masks, and a run is still reproducible.
  ranks 2 "$nyx_train" "${run[@]}" --dropout 0.1 --steps 10 --run-dir drop-a > /dev/null
  ranks 2 "$nyx_train" "${run[@]}" --dropout 0.1 --steps 10 --run-dir drop-b > /dev/null
  cmp drop-a/metrics.jsonl drop-b/metrics.jsonl || fail "two 2-rank runs with one seed wrote different metrics"
  # A batch the ranks cannot share: one clear message (from rank 0), a non-zero status.
  status=0; out=$(ranks 2 "$nyx_train" listops --batch 7 --steps 2 --run-dir odd 2>&1) || status=$?
  [ "$status" -ne 0 ] || fail "a batch of 7 on 2 ranks was accepted"
  grep -q -- '--batch 7 is the whole batch of the 2 ranks.*try --batch 6' <<<"$out" || fail "no clear message for --batch 7: $out"
  [ "$(grep -c -- '--batch 7 is' <<<"$out")" -eq 1 ] || fail "the message was printed more than once: $out"
  status=0; out=$(ranks 2 "$nyx_train" eval two 2>&1) || status=$?
  [ "$status" -ne 0 ] && grep -q 'runs in one process' <<<"$out" || fail "eval under mpirun: $out"
  ;;
mpi-dead)
  # A rank killed mid-run: mpirun ends the job (no hang), and the last checkpoint loads.
  run=(listops "${base[@]}" --threads 1 --dropout 0 --eval-every 5 --steps 1000000)
  wait_for_checkpoint() { for _ in $(seq 1 6000); do [ -e "$1/latest.safetensors" ] && return; sleep 0.01; done; fail "no checkpoint in $1"; }
  descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
  rank_pid() {  # the pid of rank $2 of the job started as process $1
    local p; for p in $(descendants "$1"); do grep -qz "^OMPI_COMM_WORLD_RANK=$2$" "/proc/$p/environ" 2> /dev/null && { echo "$p"; return; }; done
    echo "no rank $2 under process $1" >&2
  }
  ends_within() {  # ends_within SECONDS PID: the job ended in time
    local i; for i in $(seq 1 $(($1 * 10))); do kill -0 "$2" 2> /dev/null || return 0; sleep 0.1; done
    kill -9 "$2"; fail "the job still ran $1 s after a rank died: it hangs"
  }
  ranks 2 "$nyx_train" "${run[@]}" --run-dir killed > killed.txt 2>&1 &
  job=$!
  wait_for_checkpoint killed
  victim=$(rank_pid "$job" 1); [ -n "$victim" ] || fail "rank 1 not found"
  kill -9 "$victim"
  ends_within 30 "$job"
  status=0; wait "$job" || status=$?
  [ "$status" -ne 0 ] || fail "the job ended with status 0 after a rank was killed"
  grep -q 'exited on signal 9' killed.txt || fail "no message naming the dead rank: $(cat killed.txt)"
  "$nyx_train" eval killed > /dev/null || fail "the last checkpoint does not load after a rank died"
  ls killed | grep -q '\.tmp-' && fail "a temporary file was left behind"
  # A rank that hangs (stopped): the others give up after --comm-timeout and end the job.
  ranks 2 "$nyx_train" "${run[@]}" --run-dir hung --comm-timeout 10 > hung.txt 2>&1 &
  job=$!
  wait_for_checkpoint hung
  victim=$(rank_pid "$job" 1); [ -n "$victim" ] || fail "rank 1 not found"
  kill -STOP "$victim"
  ends_within 60 "$job"
  wait "$job" && fail "the job ended with status 0 after a rank hung"
  grep -q 'has waited 10 s for the other ranks; one of them has died or hangs' hung.txt || fail "no timeout message: $(cat hung.txt)"
  "$nyx_train" eval hung > /dev/null || fail "the last checkpoint does not load after a rank hung"
  echo "a killed rank and a hung one each ended the job with a message; both checkpoints load"
  ;;
model-section)
  # config.json holds the model in the library's names, for models::load_run (its test is
  # example_classify_from_run); each checkpoint's metadata repeats it.
  "$nyx_train" listops "${tiny[@]}" --steps 4 --eval-every 2 --pad-to 45 --run-dir m > /dev/null
  for key in '"model": {' '"vocab": 17,' '"max_len": 45,' '"kind": "nystrom",' '"pinv_iterations": 6,' '"pinv_start": "original",' \
             '"conv_kernel": 3' '"dtype": "f32",' '"classes": 10,' '"class_names": ['; do
    grep -qF "$key" m/config.json || fail "m/config.json lacks $key: $(cat m/config.json)"
  done
  grep -qF '\"model\":{\"vocab\":17' m/best.safetensors || fail "best.safetensors' metadata lacks the model section"
  "$nyx_train" eval m > new.txt
  # A run from before the section (config.json and checkpoints without it) is evaluated as before,
  # and resumes; config.json and the new checkpoints then hold the section.
  command -v python3 > /dev/null || { echo "SKIPPED: no python3 to take the section out of a run's checkpoints"; exit 77; }
  cp -r m old
  python3 - old/config.json old/best.safetensors old/latest.safetensors <<'PY'
import json, struct, sys
config = json.load(open(sys.argv[1]))
del config["model"]
open(sys.argv[1], "w").write(json.dumps(config, indent=2) + "\n")
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    inner = json.loads(header["__metadata__"]["config"])
    del inner["model"]
    header["__metadata__"]["config"] = json.dumps(inner, separators=(",", ":"))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data[8 + size:])
PY
  grep -qF '"model"' old/config.json || grep -qF '\"model\"' old/best.safetensors old/latest.safetensors && fail "the section is still in the old run"
  "$nyx_train" eval old > old.txt || fail "eval of a run from before the section: $(cat old.txt)"
  [ "$(sed 's/^[^:]*: //' old.txt)" = "$(sed 's/^[^:]*: //' new.txt)" ] || fail "the old run evaluates otherwise: $(cat old.txt) / $(cat new.txt)"
  "$nyx_train" listops --resume old --steps 6 > /dev/null || fail "a run from before the section does not resume"
  grep -qF '"max_len": 45,' old/config.json || fail "the resumed run's config.json did not gain the section"
  grep -qF '\"model\":{' old/latest.safetensors || fail "the resumed run's checkpoint did not gain the section"
  # The data must still give the model the run has: renamed classes (the same count) are refused.
  for i in $(seq 1 30); do printf 'yes\tyes it is %d\nno\tno %d\n' "$i" "$i"; done > train.tsv
  printf 'yes\tyes\nno\tno\n' > test.tsv
  text=(text --train-file train.tsv --test-file test.tsv --val-size 20 --dim 16 --heads 2 --head-dim 8 --hidden 16 --layers 1
        --landmarks 4 --conv 3 --batch 8 --eval-every 2 --threads 2 --run-dir t)
  "$nyx_train" "${text[@]}" --steps 2 > /dev/null
  grep -qF '"class_names": [' t/config.json && grep -qF '"yes"' t/config.json || fail "t/config.json lacks the class names"
  sed -i 's/^yes/ja/; s/^no/nein/' train.tsv test.tsv
  expect_error "$work"'/t/latest.safetensors: the data no longer gives the run'"'"'s model: the checkpoint'"'"'s model has class_names ["no","yes"], the data as it is now gives ["ja","nein"]' \
    text --resume t --steps 4
  # eval checks the same: it would otherwise swap the two labels silently.
  expect_error 'the data as it is now gives ["ja","nein"]' eval t
  ;;
pretrain)
  # A corpus of three folders of made-up reStructuredText (Debian's is tens of megabytes): a
  # tokenizer trained on it, a tiny pretraining run with bitwise resume through dynamic masking,
  # and fine-tuning from the run and from scratch.
  make_corpus
  "$nyx_train" tokenizer --data-dir corpus --vocab-size 300 --output tok.model --threads 2 > tok.txt || fail "tokenizer: $(cat tok.txt)"
  grep -q 'wrote tok.model (fingerprint [0-9a-f]\{16\})' tok.txt && grep -q 'corpus in its tokens: [0-9]* train' tok.txt || fail "tokenizer: $(cat tok.txt)"
  small=(--dim 16 --heads 2 --head-dim 8 --hidden 32 --layers 1 --landmarks 4 --conv 3 --batch 8 --threads 2 --dropout 0.1)
  pre=(--data-dir corpus --tokenizer tok.model "${small[@]}" --max-len 48 --train-size 400 --val-size 32 --test-size 32)
  "$nyx_train" pretrain "${pre[@]}" --steps 300 --eval-every 50 --log-every 1 --run-dir straight > straight.txt || fail "pretrain: $(tail -5 straight.txt)"
  cmp tok.model straight/tokenizer.model || fail "the run directory does not hold the tokenizer"
  grep -q '"tokenizer_fingerprint": "[0-9a-f]\{16\}"' straight/config.json && grep -q '"segments": 2' straight/config.json ||
    fail "config.json lacks the tokenizer or the segments: $(cat straight/config.json)"
  grep -q '"split":"val".*"sop_accuracy"' straight/metrics.jsonl || fail "no SOP accuracy in the validation lines"
  grep -q 'test accuracy .*sop_accuracy .*sentence-order chance 50.00%' straight.txt || fail "pretrain summary: $(tail -3 straight.txt)"
  grep -q 'corpus: [0-9]* train / [0-9]* val / [0-9]* test tokens' straight.txt || fail "pretrain: no corpus size: $(head -5 straight.txt)"
  # Ctrl-C, then resume: the same losses as the run that never stopped (the masks drawn afresh
  # each batch are drawn again alike).
  "$nyx_train" pretrain "${pre[@]}" --steps 300 --eval-every 50 --log-every 1 --run-dir cut > cut.txt &
  pid=$!
  for _ in $(seq 1 3000); do [ -e cut/latest.safetensors ] && break; sleep 0.01; done
  kill -INT "$pid"
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 130 ] || fail "an interrupted pretrain run should exit with 130, got $status: $(tail -3 cut.txt)"
  "$nyx_train" pretrain --resume cut > /dev/null || fail "pretrain resume"
  diff <(losses straight) <(losses cut) > /dev/null || fail "the resumed pretraining's losses differ: $(diff <(losses straight) <(losses cut) | head -4)"
  "$nyx_train" eval straight --split val | grep -q 'val accuracy .*sop_accuracy' || fail "eval of a pretrain run"
  "$nyx_train" plot straight cut --metric sop_accuracy --x minutes --output sop.svg > /dev/null && grep -q '>sop_accuracy<' sop.svg ||
    fail "no plot of the SOP accuracy"
  expect_error "--metric top5: no run logs it" plot straight --metric top5 --output x.svg
  # Another tokenizer in the run directory is refused.
  "$nyx_train" tokenizer --data-dir corpus --vocab-size 300 --model bpe --output other.model --threads 2 > /dev/null || fail "a second tokenizer"
  cp other.model cut/tokenizer.model
  expect_error "is not the tokenizer this run was trained with" pretrain --resume cut --steps 310
  # Fine-tuning: the weights by name, the positions repeated, the head made afresh; and the baseline.
  task=(--data-dir corpus --folders net,fs,mm --max-len 64 --train-size 96 --val-size 24 --test-size 24)
  "$nyx_train" finetune --from straight "${task[@]}" --batch 8 --threads 2 --steps 20 --eval-every 10 --run-dir ft > ft.txt || fail "finetune: $(tail -5 ft.txt)"
  grep -q 'tensors loaded by name, position_embedding.weight (48 pretrained positions repeated to 64); made afresh: head.0.weight head.0.bias head.2.weight head.2.bias$' ft.txt ||
    fail "finetune does not say what it loaded: $(head -6 ft.txt)"
  grep -q '"dim": 16' ft/config.json && cmp tok.model ft/tokenizer.model || fail "finetune did not take the pretrained shape and tokenizer"
  grep -q '96 train / 24 val / 24 test examples, up to 64 positions, 3 classes' ft.txt || fail "finetune data: $(head -4 ft.txt)"
  "$nyx_train" eval ft | grep -q 'test accuracy' || fail "eval of a finetune run"
  "$nyx_train" finetune --resume ft --steps 30 > /dev/null || fail "finetune resume"
  "$nyx_train" finetune --tokenizer tok.model "${task[@]}" "${small[@]}" --steps 20 --eval-every 10 --run-dir scratch > scratch.txt || fail "baseline: $(tail -3 scratch.txt)"
  grep -q 'trained from scratch: every weight made afresh' scratch.txt || fail "the baseline does not say it starts from scratch"
  "$nyx_train" listops "${tiny[@]}" --steps 2 --eval-every 2 --run-dir l > /dev/null
  expect_error "is a listops run; finetune starts from a pretrain run" finetune --from l "${task[@]}" --steps 2 --run-dir e1
  expect_error "/straight was pretrained with (" finetune --from straight --tokenizer other.model "${task[@]}" --steps 2 --run-dir e2
  expect_error "needs --from RUN (a pretrain run), or --tokenizer FILE" finetune "${task[@]}" --steps 2 --run-dir e3
  expect_error "--tokenizer must name a SentencePiece model" pretrain --data-dir corpus --steps 2 --run-dir e4
  ;;
torch)
  # tools/torch_interop.py: a nyx pretrain run's MLM and SOP logits in PyTorch (softmax and
  # Nyström), and a PyTorch-initialised model that nyx loads and trains on.
  /usr/bin/python3 -c 'import torch' 2> /dev/null || { echo "SKIPPED: python3-torch is not installed (apt-get install python3-torch), so the PyTorch round trip did not run"; exit 77; }
  script="$here/../../tools/torch_interop.py"
  logits="$(dirname "$nyx_train")/../examples/masked_lm_logits"
  make_corpus
  "$nyx_train" tokenizer --data-dir corpus --vocab-size 300 --output tok.model --threads 2 > /dev/null
  pre=(--data-dir corpus --tokenizer tok.model --dim 16 --heads 2 --head-dim 8 --hidden 32 --layers 2 --max-len 96 --batch 8
       --train-size 200 --val-size 16 --test-size 16 --threads 2)
  "$nyx_train" pretrain "${pre[@]}" --attn softmax --steps 10 --eval-every 10 --run-dir s > /dev/null
  "$nyx_train" pretrain "${pre[@]}" --attn nystrom --landmarks 8 --conv 3 --steps 10 --eval-every 10 --run-dir y > /dev/null
  for run in s y; do
    /usr/bin/python3 "$script" check $run --nyx "$logits" > check.txt || fail "$run: $(cat check.txt)"
    grep -q 'nyx and PyTorch agree' check.txt || fail "$run: $(cat check.txt)"
  done
  # PyTorch's initialisation, in nyx: a run at a learning rate too small to move it gives PyTorch's
  # logits; one at the usual rate trains on from it.
  /usr/bin/python3 "$script" export y init.safetensors | grep -q 'PyTorch-initialised' || fail "export"
  "$nyx_train" pretrain "${pre[@]}" --attn nystrom --landmarks 8 --conv 3 --init init.safetensors --lr 1e-12 --steps 1 --eval-every 1 --run-dir still > still.txt
  grep -q 'initial weights from .*init.safetensors' still.txt || fail "no word of the initial weights: $(head -5 still.txt)"
  /usr/bin/python3 "$script" check still --nyx "$logits" | grep -q 'nyx and PyTorch agree' || fail "nyx did not load PyTorch's weights"
  "$nyx_train" pretrain "${pre[@]}" --attn nystrom --landmarks 8 --conv 3 --init init.safetensors --steps 30 --eval-every 10 --run-dir on > /dev/null
  first=$(losses on | head -1 | cut -d' ' -f2); last=$(losses on | tail -1 | cut -d' ' -f2)
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' || fail "training from PyTorch's weights did not lower the loss ($first to $last)"
  expect_error "init.safetensors" pretrain "${pre[@]}" --attn softmax --init init.safetensors --steps 2 --run-dir mismatch
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "ok: $case_name"
