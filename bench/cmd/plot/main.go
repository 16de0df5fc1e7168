// Command plot draws Provost's benchmark results as PNG charts.
//
//	go run ./cmd/plot -out ../docs/performance ../bench/results/decision.txt [more.txt...]
//
// It reads `go test -bench` output (the format benchstat reads) from each
// file, takes the median ns/op of each benchmark over its runs (-count),
// and writes into the -out directory, creating it:
//
//   - scale-bindings.png and scale-credentials.png: ns/op against N on a
//     log x axis for the benchmarks named with a "bindings=<N>" or a
//     "credentials=<N>" element (BenchmarkDecisionScale/bindings=1000),
//     one line per series (the name with N left out);
//   - decision.png: a bar chart of BenchmarkDecision/<case>/provost beside
//     BenchmarkDecision/<case>/reference for each case;
//   - opa.png: the same for BenchmarkOPA/<case>/{provost,opa} (bench/
//     opa_test.go).
//
// A chart with no benchmark in the input is not written (it says so on
// standard error). A malformed result line is skipped with a message
// naming its file and line. Exit status: 0 when at least one chart was
// written, 1 when none could be, 2 for bad usage or an unreadable file.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// The scale dimensions drawn, each to scale-<dim>.png.
var scaleDims = []string{"bindings", "credentials"}

// The comparisons drawn as bar charts.
var comparisons = []struct {
	file, top, reference, title string
}{
	{"decision.png", "BenchmarkDecision", "reference", "Whole decision: Provost and the reference"},
	{"opa.png", "BenchmarkOPA", "opa", "Whole decision: Provost and OPA (Rego, io.jwt cache on)"},
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "docs/performance", "directory to write the PNG charts into (created if missing)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: plot [-out DIR] BENCH-OUTPUT.txt...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var res Results
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "plot:", err)
			return 2
		}
		skipped, err := Parse(f, name, &res)
		f.Close()
		for _, s := range skipped {
			fmt.Fprintln(stderr, "plot:", s)
		}
		if err != nil {
			fmt.Fprintln(stderr, "plot:", err)
			return 2
		}
	}
	if len(res.Names) == 0 {
		fmt.Fprintln(stderr, "plot: no benchmark results in", fs.Args())
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "plot:", err)
		return 1
	}

	written := 0
	save := func(p *plot.Plot, file string, width vg.Length) bool {
		path := filepath.Join(*out, file)
		if err := p.Save(width, 12*vg.Centimeter, path); err != nil {
			fmt.Fprintln(stderr, "plot:", err)
			return false
		}
		fmt.Fprintln(stdout, path)
		written++
		return true
	}
	for _, dim := range scaleDims {
		names, series := res.Series(dim)
		file := "scale-" + dim + ".png"
		if len(names) == 0 {
			fmt.Fprintf(stderr, "plot: no %s=<N> benchmarks in the input: %s not written\n", dim, file)
			continue
		}
		p, err := scaleChart(dim, names, series)
		if err != nil {
			fmt.Fprintln(stderr, "plot:", file+":", err)
			return 1
		}
		if !save(p, file, 20*vg.Centimeter) {
			return 1
		}
	}
	for _, c := range comparisons {
		pairs := res.Pairs(c.top, "provost", c.reference)
		if len(pairs) == 0 {
			fmt.Fprintf(stderr, "plot: no %s/<case>/{provost,%s} benchmarks in the input: %s not written\n", c.top, c.reference, c.file)
			continue
		}
		p, err := barChart(c.title, c.reference, pairs)
		if err != nil {
			fmt.Fprintln(stderr, "plot:", c.file+":", err)
			return 1
		}
		width := max(16*vg.Centimeter, vg.Length(len(pairs))*5*vg.Centimeter)
		if !save(p, c.file, width) {
			return 1
		}
	}
	if written == 0 {
		fmt.Fprintln(stderr, "plot: nothing to draw: no scale series and no provost/reference pairs")
		return 1
	}
	return 0
}
