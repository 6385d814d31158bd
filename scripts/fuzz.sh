#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for SECONDS each, as many at once as there are cores:
# usage fuzz.sh BUILD_DIR SECONDS.
# Each target starts from its seed corpus (tests/fuzz/corpus/TARGET, valid files) and grows a work
# corpus in BUILD_DIR/fuzz-corpus/TARGET. An input that crashes, leaks, trips a sanitizer, runs
# past 10 s or allocates past 256 MB is saved to BUILD_DIR/fuzz-findings/ and fails the script.
# Inputs are at most 64 KiB: enough for every format's structure, and a 256 MB allocation from one
# would be 4000 times its size.
set -uo pipefail
build=$1
seconds=$2
here=$(cd "$(dirname "$0")/.." && pwd)
targets=(safetensors idx listops_tsv text_tsv config)
parallel=$(nproc)
mkdir -p "$build/fuzz-findings"
echo "fuzzing ${#targets[@]} readers for $seconds s each, $parallel at a time"
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do sleep 1; done
  mkdir -p "$build/fuzz-corpus/$target"
  ( "$build/tests/fuzz/fuzz_$target" "$build/fuzz-corpus/$target" "$here/tests/fuzz/corpus/$target" -max_total_time="$seconds" \
      -max_len=65536 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -artifact_prefix="$build/fuzz-findings/$target-" \
      -print_final_stats=1 > "$build/fuzz-findings/$target.log" 2>&1
    echo $? > "$build/fuzz-findings/$target.status" ) &
done
wait
failed=()
printf '%-12s %12s %9s %s\n' target executions corpus result
for target in "${targets[@]}"; do
  log="$build/fuzz-findings/$target.log"
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  files=$(find "$build/fuzz-corpus/$target" -type f | wc -l)
  if [ "$(cat "$build/fuzz-findings/$target.status")" -eq 0 ]; then result=ok; else result="FINDING (see $log)"; failed+=("$target"); fi
  printf '%-12s %12s %9s %s\n' "$target" "$runs" "$files" "$result"
done
[ ${#failed[@]} -eq 0 ] || { echo "findings in: ${failed[*]}" >&2; exit 1; }
