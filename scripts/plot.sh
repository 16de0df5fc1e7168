#!/usr/bin/env bash
# Draws the benchmark charts of docs/performance/ (PNG) from raw
# `go test -bench` output, with bench/cmd/plot (its own module, bench/, so
# gonum/plot never enters the product's go.mod):
#
#   scripts/plot.sh                       # bench/results/fastpath-{decision,scale}.txt and opa.txt
#   scripts/plot.sh bench/results/a.txt bench/results/b.txt
#
# Paths are relative to the repository root. Each benchmark's median ns/op
# over its runs is drawn: scale-bindings.png and scale-credentials.png
# (ns/op against N, log x axis), decision.png (BenchmarkDecision/<case>/
# {provost,reference}) and opa.png (BenchmarkOPA/<case>/{provost,opa}).
set -euo pipefail
cd "$(dirname "$0")/.."

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(bench/results/fastpath-decision.txt bench/results/fastpath-scale.txt bench/results/opa.txt)
fi
args=()
for f in "${files[@]}"; do
  case "$f" in
    /*) args+=("$f") ;;
    *) args+=("../$f") ;;
  esac
done
cd bench
exec go run ./cmd/plot -out ../docs/performance "${args[@]}"
