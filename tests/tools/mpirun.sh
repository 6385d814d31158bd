#!/usr/bin/env bash
# Runs a command as K ranks on this machine: mpirun.sh K COMMAND ARGS...
# (mpirun --oversubscribe --bind-to none -np K, with --allow-run-as-root as root: unbound, so that
# two jobs at once do not share cores 0 and 1 while the others idle). When mpirun is absent it says
# so and exits with 77, which ctest reports as a skipped test.
set -euo pipefail
k=$1; shift
if ! command -v mpirun > /dev/null; then
  echo "SKIPPED: mpirun is absent, so the $k-rank test did not run (Debian: apt-get install openmpi-bin)"
  exit 77
fi
args=(--oversubscribe --bind-to none -np "$k")
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
exec mpirun "${args[@]}" "$@"
