#!/usr/bin/env bash
# Fuzz campaign: runs every Go fuzz target of the product module (or those
# whose package/name match PATTERN) for a set time each, JOBS targets at a
# time, and prints a Markdown table of the results (execs, new corpus
# entries, pass/fail). Logs go to OUT/<package>.<target>.log.
#
#   scripts/fuzz.sh [-t 10m] [-j 2] [-p 1] [-m 30s] [-o OUT] [PATTERN]
#
#   -t  fuzz time per target (go test -fuzztime), default 1m
#   -j  targets run at the same time, default 2
#   -p  workers per target (go test -parallel), default 1
#   -m  time bound for minimizing a failing input (-fuzzminimizetime), default 30s
#   -o  output directory, default fuzz-results/<UTC timestamp>
#
# A target that finds a failure writes the input to its package's
# testdata/fuzz/<Target>/ (Go does that); commit that file with the fix so
# the input stays a regression test run by every `go test`. The script exits
# 1 when any target failed. docs/testing.md describes the campaign.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=1m jobs=2 par=1 mintime=30s out=""
while getopts "t:j:p:m:o:" opt; do
  case $opt in
    t) fuzztime=$OPTARG ;;
    j) jobs=$OPTARG ;;
    p) par=$OPTARG ;;
    m) mintime=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
pattern=${1:-.}
out=${out:-fuzz-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"

# Every "func FuzzX(" in a _test.go file of this module, as "pkgdir FuzzX".
targets=$(git ls-files '*_test.go' | grep -v '^bench/' | grep -v '^e2e/' |
  xargs grep -H '^func Fuzz[A-Za-z0-9_]*(' |
  sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#./\1 \2#' |
  sed -E 's#^\./[^/ ]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#. \1#' |
  grep -E -- "$pattern" | sort -u)
if [ -z "$targets" ]; then echo "no fuzz target matches $pattern"; exit 2; fi
echo "$(echo "$targets" | wc -l) targets, $fuzztime each, $jobs at a time, -parallel $par; logs in $out"

run_one() {
  pkg=$1 name=$2
  log="$out/$(echo "$pkg" | tr '/.' '__').$name.log"
  start=$(date +%s)
  if go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" \
      -fuzzminimizetime "$mintime" -parallel "$par" "$pkg" >"$log" 2>&1; then
    status=ok
  else
    status=FAIL
  fi
  echo "$pkg $name $status $(( $(date +%s) - start ))" >>"$out/status"
}
export -f run_one
export fuzztime mintime par out
echo "$targets" | xargs -P "$jobs" -L 1 bash -c 'run_one "$@"' _

# The table: the last progress line of each log holds execs and corpus size.
failed=0
{
  echo "| package | target | result | wall s | execs | new interesting (total corpus) |"
  echo "|---|---|---|---|---|---|"
  sort "$out/status" | while read -r pkg name status secs; do
    log="$out/$(echo "$pkg" | tr '/.' '__').$name.log"
    last=$(grep -E '^fuzz: elapsed' "$log" | tail -1 || true)
    execs=$(echo "$last" | sed -nE 's/.*execs: ([0-9]+).*/\1/p')
    inter=$(echo "$last" | sed -nE 's/.*new interesting: ([0-9]+ \(total: [0-9]+\)).*/\1/p')
    echo "| ${pkg#./} | $name | $status | $secs | ${execs:-?} | ${inter:-?} |"
  done
} | tee "$out/summary.md"
if grep -q ' FAIL ' "$out/status"; then
  failed=1
  echo
  echo "failing inputs (commit them with the fix):"
  git status --porcelain -- '*testdata/fuzz/*' || true
fi
exit $failed
