#!/usr/bin/env bash
# Installs the Debian packages that building and testing nyx needs, when they are missing, and any
# packages named as arguments (make fuzz passes clang and libclang-rt-14-dev, whose libFuzzer and
# sanitizer runtimes clang only recommends).
# As root it runs apt-get; otherwise it prints the exact command to run and stops.
set -euo pipefail

# libdnnl-dev: oneDNN, for AVX-512 and bf16 products (core/blas.hpp).
# python3: scripts/check_docs.py (the docs_links test) and benchmarks/compare.py.
# clang-format: scripts/check_format.sh (the format test).
# linux-doc-6.1: the Linux kernel's documentation, the text of nyx-train's text and retrieval tasks,
#   and with python3.11-doc and fortunes the pretraining corpus (data/corpus.hpp).
# libsentencepiece-dev: the tokenizer of pretraining (data/tokenizer.hpp).
# strace: the test nyx_train_write-order watches the order of nyx-train's fsync and rename calls.
packages=(cmake g++ make pkg-config libopenblas-dev libtbb-dev doctest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
          zlib1g-dev libopenmpi-dev openmpi-bin libdnnl-dev libsentencepiece-dev dataset-fashion-mnist linux-doc-6.1 python3.11-doc fortunes
          strace python3 clang-format "$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "nyx needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
