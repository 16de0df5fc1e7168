#!/usr/bin/env bash
# The fast-path benchmarks (issue "Fast path"), each beside its reference:
#
#   BenchmarkDecision       the whole decision (Engine.Check on the embedded
#                           stores) and a hand-written pipeline doing the same
#                           work, for cached-bearer, es256-bearer and dpop
#   BenchmarkDecisionScale  the cached-bearer decision with 10 .. 1M bindings
#                           and 1 .. 10M credentials in origin history
#   internal/evidencelog    BenchmarkAppendDurable, BenchmarkAppendAsync
#
# Usage: scripts/bench.sh [quick]
#
# COUNT rounds (default 6; quick: 2) each run every benchmark once, in
# order, so provost and reference alternate and share the machine's moods.
# Raw outputs go to bench/results/fastpath-*.txt (quick:
# fastpath-*-quick.txt); benchstat summarises each, and the ratio table
# compares the medians of provost and reference.
#
# Environment: COUNT; BENCHTIME (iterations per BenchmarkDecision run,
# default 2000x; quick 200x); SCALE_BENCHTIME; EVIDENCE_BENCHTIME;
# PROVOST_BENCH_MAX_CREDENTIALS and PROVOST_BENCH_MAX_BINDINGS (largest
# scale sizes; quick: 100000 each); PROVOST_BENCH_CONFIG (configuration
# added to the benchmarks' provost.yaml). See decision_bench_test.go and
# decision_scale_bench_test.go.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case $mode in
full)
	count=${COUNT:-6}
	benchtime=${BENCHTIME:-2000x}
	scaletime=${SCALE_BENCHTIME:-1000x}
	evtime=${EVIDENCE_BENCHTIME:-2000x}
	suffix=""
	;;
quick)
	count=${COUNT:-2}
	benchtime=${BENCHTIME:-200x}
	scaletime=${SCALE_BENCHTIME:-200x}
	evtime=${EVIDENCE_BENCHTIME:-200x}
	suffix="-quick"
	export PROVOST_BENCH_MAX_CREDENTIALS=${PROVOST_BENCH_MAX_CREDENTIALS:-100000}
	export PROVOST_BENCH_MAX_BINDINGS=${PROVOST_BENCH_MAX_BINDINGS:-100000}
	;;
*)
	echo "usage: $0 [quick]" >&2
	exit 2
	;;
esac

out=bench/results
mkdir -p "$out"
decision=$out/fastpath-decision$suffix.txt
scale=$out/fastpath-scale$suffix.txt
evidence=$out/fastpath-evidence-append$suffix.txt

# go test -count N would run each sub-benchmark N times in a row (the count
# loop is per leaf), so provost and reference would not alternate: instead
# the test binaries are built once and run COUNT rounds of -count 1, each
# round running every benchmark once, in order.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/provost.test" .
go test -c -o "$bin/evidencelog.test" ./internal/evidencelog
: >"$decision"
: >"$scale"
: >"$evidence"
for round in $(seq 1 "$count"); do
	echo "== round $round of $count"
	"$bin/provost.test" -test.run '^$' -test.bench 'BenchmarkDecision$' -test.benchtime "$benchtime" \
		-test.count 1 -test.timeout 2h | tee -a "$decision"
	# -test.v: a size that cannot be loaded (the bindings file limit) is
	# skipped, and only -v prints the skip and its reason.
	"$bin/provost.test" -test.v -test.run '^$' -test.bench 'BenchmarkDecisionScale' -test.benchtime "$scaletime" \
		-test.count 1 -test.timeout 4h | grep -v '^=== ' | tee -a "$scale"
	(cd internal/evidencelog && "$bin/evidencelog.test" -test.run '^$' -test.bench 'AppendDurable|AppendAsync' \
		-test.benchmem -test.benchtime "$evtime" -test.count 1 -test.timeout 1h) | tee -a "$evidence"
done

for f in "$decision" "$scale" "$evidence"; do
	echo
	echo "== benchstat $f"
	go run golang.org/x/perf/cmd/benchstat@latest "$f"
done

# Medians per benchmark (GOMAXPROCS suffix dropped), then: provost against
# reference for each BenchmarkDecision case; the allocations of the
# cached-bearer decision outside evidence encoding; each scale size against
# the smallest of its family.
echo
echo "== ratios of medians (of $count runs)"
cat "$decision" "$scale" | awk '
function median(key,    k, i, j, t, a) {
	k = n[key]
	for (i = 1; i <= k; i++) a[i] = v[key, i]
	for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function has(key) { return (key in n) }
/^Benchmark.* ns\/op/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	if (!(name in seen)) { seen[name] = 1; order[++names] = name }
	for (i = 3; i < NF; i++) if ($(i + 1) == "ns/op" || $(i + 1) == "allocs/op" || $(i + 1) == "B/op") {
		key = name SUBSEP $(i + 1); v[key, ++n[key]] = $i
	}
}
END {
	printf "%-36s %14s %14s %8s %10s %10s\n", "BenchmarkDecision", "provost ns/op", "ref ns/op", "ratio", "p allocs", "ref allocs"
	for (o = 1; o <= names; o++) {
		name = order[o]
		if (name !~ /^BenchmarkDecision\/.*\/provost$/) continue
		c = name; sub(/\/provost$/, "", c); r = c "/reference"
		if (!has(r SUBSEP "ns/op")) continue
		p = median(name SUBSEP "ns/op"); q = median(r SUBSEP "ns/op")
		printf "%-36s %14.0f %14.0f %7.2fx %10.0f %10.0f\n", substr(c, 19), p, q, p / q,
			median(name SUBSEP "allocs/op"), median(r SUBSEP "allocs/op")
	}
	a = "BenchmarkDecision/cached-bearer/provost-no-evidence" SUBSEP "allocs/op"
	e = "BenchmarkDecision/cached-bearer/evidence-encoding" SUBSEP "allocs/op"
	if (has(a) && has(e)) {
		printf "\ncached-bearer allocs outside evidence encoding: %.0f (provost-no-evidence %.0f - evidence-encoding %.0f; target <= 10)\n",
			median(a) - median(e), median(a), median(e)
	}
	first = 1
	for (o = 1; o <= names; o++) {
		name = order[o]
		if (name !~ /^BenchmarkDecisionScale\//) continue
		fam = name; sub(/=.*/, "", fam)
		if (!(fam in base)) base[fam] = median(name SUBSEP "ns/op")
		if (first) { printf "\n%-46s %14s %10s %10s\n", "BenchmarkDecisionScale", "ns/op", "vs first", "allocs"; first = 0 }
		m = median(name SUBSEP "ns/op")
		printf "%-46s %14.0f %9.2fx %10.0f\n", substr(name, 24), m, m / base[fam], median(name SUBSEP "allocs/op")
	}
}'

# Sizes the benchmarks could not run (a bindings file over the size limit).
if grep -q -- '^--- SKIP' "$scale"; then
	echo
	echo "skipped (reasons in $scale):"
	grep -- '^--- SKIP' "$scale" | sort | uniq -c
fi
