#!/usr/bin/env bash
# Checks what .editorconfig says every text file holds: UTF-8 with LF line ends, a final newline,
# no trailing whitespace, and spaces for indentation (tabs only in the Makefile). The ctest test
# `style` runs it. Layout beyond that is clang-format's, for the lines one changes (.clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  mapfile -t files < <(git ls-files)
else
  mapfile -t files < <(find . -path ./build\* -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||')
fi
problems=0
report() { echo "$1: $2" >&2; problems=$((problems + 1)); }
checked=0
for f in "${files[@]}"; do
  case "$f" in tests/fuzz/corpus/*|*.svg|*.jsonl|*.png|*.gz) continue ;; esac
  [ -f "$f" ] || continue
  grep -Iq . "$f" 2> /dev/null || continue  # binary or empty
  checked=$((checked + 1))
  if grep -q $'\r' "$f"; then report "$f" "has CRLF line ends; use LF"; fi
  if [ "$(tail -c1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then report "$f" "does not end with a newline"; fi
  if line=$(grep -n -m1 '[[:space:]]$' "$f" | cut -d: -f1) && [ -n "$line" ]; then report "$f:$line" "trailing whitespace"; fi
  if [ "$(basename "$f")" != Makefile ] && line=$(grep -n -m1 $'\t' "$f" | cut -d: -f1) && [ -n "$line" ]; then
    report "$f:$line" "a tab; indent with spaces"
  fi
  if ! iconv -f UTF-8 -t UTF-8 "$f" > /dev/null 2>&1; then report "$f" "is not UTF-8"; fi
done
if [ "$problems" -gt 0 ]; then
  echo "$problems style problem(s); .editorconfig says what each file holds" >&2
  exit 1
fi
echo "style: $checked text files hold .editorconfig's rules"
