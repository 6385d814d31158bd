#!/usr/bin/env bash
# Fails when a C++ file is not laid out as .clang-format says, naming it. The files in
# scripts/format-legacy.txt predate .clang-format and keep their layout, which clang-format 14
# cannot reproduce (.clang-format says why); every other file, and every new one, is checked. A
# legacy file that becomes clean must leave the list, so that the list only shrinks. The ctest test
# `format` runs this. Fix a file with: clang-format -i FILE (or git clang-format for changed lines).
set -euo pipefail
cd "$(dirname "$0")/.."
format=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$format" ]; then
  echo "SKIPPED: no clang-format (scripts/setup.sh installs it), so the layout was not checked"
  exit 77
fi
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
else
  mapfile -t files < <(find . -path ./build\* -prune -o \( -name '*.cpp' -o -name '*.hpp' \) -print | sed 's|^\./||' | sort)
fi
declare -A legacy=()
while read -r f; do [ -n "$f" ] && legacy["$f"]=1; done < scripts/format-legacy.txt
problems=0 checked=0
for f in "${files[@]}"; do
  if "$format" --dry-run --Werror "$f" > /dev/null 2>&1; then
    if [ -n "${legacy[$f]:-}" ]; then
      echo "$f is laid out as .clang-format says now: remove it from scripts/format-legacy.txt" >&2
      problems=$((problems + 1))
    fi
    checked=$((checked + 1))
  elif [ -z "${legacy[$f]:-}" ]; then
    echo "$f is not laid out as .clang-format says: run $format -i $f" >&2
    problems=$((problems + 1))
  fi
  unset "legacy[$f]"
done
for f in "${!legacy[@]}"; do
  echo "scripts/format-legacy.txt lists $f, which is not in the repository: remove it" >&2
  problems=$((problems + 1))
done
[ "$problems" -eq 0 ] || exit 1
echo "format: $checked C++ files laid out as .clang-format says; $(wc -l < scripts/format-legacy.txt) older ones keep theirs"
