package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Results are the ns/op samples of each benchmark, by name without the
// GOMAXPROCS suffix ("BenchmarkDecision/plain/provost"), in the order the
// names were first seen.
type Results struct {
	Names   []string
	Samples map[string][]float64
}

// procSuffix is the "-2" go test appends to a benchmark's name when
// GOMAXPROCS is not 1.
var procSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads `go test -bench` output. Every result line ("BenchmarkX-2
// <iterations> <value> ns/op [<value> <unit>]...") adds one ns/op sample to
// its benchmark. Lines that are not about a benchmark (goos:, pkg:, PASS,
// ok, test logs) are ignored, as is a benchmark's name alone on its line
// (go test prints it before the benchmark's own output). A line that
// starts like a result but does not read as one is skipped, and a message
// naming file and line says why. file names the input in those messages.
func Parse(r io.Reader, file string, into *Results) (skipped []string, err error) {
	if into.Samples == nil {
		into.Samples = map[string][]float64{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 1 {
			continue // the name alone, before the benchmark's own output
		}
		name, ns, why := parseResult(fields)
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("%s:%d: skipped, %s: %q", file, n, why, line))
			continue
		}
		if _, seen := into.Samples[name]; !seen {
			into.Names = append(into.Names, name)
		}
		into.Samples[name] = append(into.Samples[name], ns)
	}
	if err := sc.Err(); err != nil {
		return skipped, fmt.Errorf("%s: %w", file, err)
	}
	return skipped, nil
}

// parseResult reads the fields of one result line; why says what is wrong
// with a line that is not one.
func parseResult(f []string) (name string, nsPerOp float64, why string) {
	name = procSuffix.ReplaceAllString(f[0], "")
	if n, err := strconv.ParseInt(f[1], 10, 64); err != nil || n <= 0 {
		return "", 0, fmt.Sprintf("the iteration count %q is not a positive integer", f[1])
	}
	rest := f[2:]
	if len(rest)%2 != 0 {
		return "", 0, "the measurements are not value-unit pairs"
	}
	for i := 0; i < len(rest); i += 2 {
		if rest[i+1] != "ns/op" {
			continue
		}
		v, err := strconv.ParseFloat(rest[i], 64)
		if err != nil || v < 0 {
			return "", 0, fmt.Sprintf("the ns/op value %q is not a number", rest[i])
		}
		return name, v, ""
	}
	return "", 0, "it has no ns/op value"
}

// Median is the median of xs (the mean of the two middle values for an
// even count); xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Medians is the median ns/op of every benchmark.
func (r *Results) Medians() map[string]float64 {
	m := make(map[string]float64, len(r.Samples))
	for name, xs := range r.Samples {
		m[name] = Median(xs)
	}
	return m
}

// Point is one benchmark of a scale series: its N and median ns/op.
type Point struct {
	N       float64
	NsPerOp float64
}

// Series groups the benchmarks that vary one parameter, dim: a name with
// an element "<dim>=<N>" ("BenchmarkDecisionScale/bindings=1000") belongs
// to the series named by the same name with that element written
// "<dim>=N" ("BenchmarkDecisionScale/bindings=N"), so that other elements
// (a mode, an implementation) make series of their own. Points are sorted
// by N; series names are returned sorted.
func (r *Results) Series(dim string) (names []string, series map[string][]Point) {
	med := r.Medians()
	series = map[string][]Point{}
	for _, name := range r.Names {
		elems := strings.Split(name, "/")
		for i, e := range elems {
			v, ok := strings.CutPrefix(e, dim+"=")
			if !ok {
				continue
			}
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n <= 0 {
				continue
			}
			key := slices.Clone(elems)
			key[i] = dim + "=N"
			s := strings.Join(key, "/")
			series[s] = append(series[s], Point{N: n, NsPerOp: med[name]})
		}
	}
	for s, pts := range series {
		sort.Slice(pts, func(i, j int) bool { return pts[i].N < pts[j].N })
		names = append(names, s)
	}
	sort.Strings(names)
	return names, series
}

// Pair is one case of a comparison: the median ns/op of each side.
type Pair struct {
	Case         string
	Provost      float64
	Reference    float64
	HasProvost   bool
	HasReference bool
}

// Pairs collects the benchmarks "<top>/<case>/<provost>" and
// "<top>/<case>/<reference>" (the case may itself contain "/"), in the
// order the cases were first seen. A case with only one side is kept, with
// the other side missing.
func (r *Results) Pairs(top, provost, reference string) []Pair {
	med := r.Medians()
	var out []Pair
	idx := map[string]int{}
	for _, name := range r.Names {
		rest, ok := strings.CutPrefix(name, top+"/")
		if !ok {
			continue
		}
		slash := strings.LastIndex(rest, "/")
		if slash <= 0 {
			continue
		}
		c, side := rest[:slash], rest[slash+1:]
		if side != provost && side != reference {
			continue
		}
		i, ok := idx[c]
		if !ok {
			i = len(out)
			idx[c] = i
			out = append(out, Pair{Case: c})
		}
		if side == provost {
			out[i].Provost, out[i].HasProvost = med[name], true
		} else {
			out[i].Reference, out[i].HasReference = med[name], true
		}
	}
	return out
}
