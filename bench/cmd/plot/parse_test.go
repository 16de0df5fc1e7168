package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func parseSample(t *testing.T) (*Results, []string) {
	t.Helper()
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r Results
	skipped, err := Parse(f, "testdata/sample.txt", &r)
	if err != nil {
		t.Fatal(err)
	}
	return &r, skipped
}

func TestParseSamplesAndMedians(t *testing.T) {
	r, _ := parseSample(t)
	wantNames := []string{
		"BenchmarkDecisionScale/bindings=1",
		"BenchmarkDecisionScale/bindings=1000",
		"BenchmarkDecisionScale/bindings=100",
		"BenchmarkDecisionScale/credentials=100/memory",
		"BenchmarkDecisionScale/credentials=100/sqlite",
		"BenchmarkDecisionScale/credentials=1000000/memory",
		"BenchmarkDecisionScale/credentials=1000000/sqlite",
		"BenchmarkDecisionScale/credentials=10000/sqlite",
		"BenchmarkDecision/bearer/provost",
		"BenchmarkDecision/bearer/reference",
		"BenchmarkDecision/dpop/provost",
		"BenchmarkDecision/dpop/reference",
	}
	if !reflect.DeepEqual(r.Names, wantNames) {
		t.Errorf("names (the -2 suffix dropped, first-seen order):\n got %q\nwant %q", r.Names, wantNames)
	}
	med := r.Medians()
	for name, want := range map[string]float64{
		"BenchmarkDecisionScale/bindings=1":    110000,   // odd count: the middle one
		"BenchmarkDecisionScale/bindings=1000": 140000,   // even count: the mean of the two middle ones
		"BenchmarkDecisionScale/bindings=100":  115000.5, // fractional ns/op kept
		"BenchmarkDecision/bearer/provost":     350000,
		"BenchmarkDecision/dpop/reference":     250000, // the malformed sample is not counted
	} {
		if med[name] != want {
			t.Errorf("median of %s = %v, want %v (samples %v)", name, med[name], want, r.Samples[name])
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 5, 1, 100, 6}, 5},
	} {
		in := append([]float64(nil), c.in...)
		if got := Median(in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
		if !reflect.DeepEqual(in, c.in) && c.in != nil {
			t.Errorf("Median reordered its input: %v", in)
		}
	}
}

func TestParseSkipsMalformedLinesWithAMessage(t *testing.T) {
	r, skipped := parseSample(t)
	want := []string{
		`testdata/sample.txt:11: skipped, the measurements are not value-unit pairs: "BenchmarkDecisionScale/bindings=10-2 \t 500\t 1234"`,
		`testdata/sample.txt:24: skipped, the iteration count "abc" is not a positive integer: "BenchmarkDecision/dpop/reference-2     \t abc\t    250000 ns/op"`,
		`testdata/sample.txt:26: skipped, it has no ns/op value: "BenchmarkBroken-2                      \t     100\t        12 B/op"`,
	}
	if !reflect.DeepEqual(skipped, want) {
		t.Errorf("skipped:\n got %q\nwant %q", skipped, want)
	}
	if _, ok := r.Samples["BenchmarkDecisionScale/bindings=10"]; ok {
		t.Error("the malformed bindings=10 line made a sample")
	}
	if _, ok := r.Samples["BenchmarkBroken"]; ok {
		t.Error("the line without ns/op made a sample")
	}
	// A benchmark's name alone on its line and its log output are no
	// results and no malformed lines either.
	for _, s := range skipped {
		if strings.Contains(s, "a log line") || strings.HasSuffix(s, `"BenchmarkDecision/bearer/provost"`) {
			t.Errorf("reported as malformed: %s", s)
		}
	}
}

func TestSeriesGrouping(t *testing.T) {
	r, _ := parseSample(t)

	names, series := r.Series("bindings")
	if want := []string{"BenchmarkDecisionScale/bindings=N"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("bindings series %q, want %q", names, want)
	}
	want := []Point{{1, 110000}, {100, 115000.5}, {1000, 140000}} // sorted by N, bindings=10 was malformed
	if got := series[names[0]]; !reflect.DeepEqual(got, want) {
		t.Errorf("bindings points %v, want %v", got, want)
	}

	names, series = r.Series("credentials")
	wantNames := []string{"BenchmarkDecisionScale/credentials=N/memory", "BenchmarkDecisionScale/credentials=N/sqlite"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("credentials series %q, want %q", names, wantNames)
	}
	if got, want := series[wantNames[0]], []Point{{100, 90000}, {1000000, 91000}}; !reflect.DeepEqual(got, want) {
		t.Errorf("memory points %v, want %v", got, want)
	}
	if got, want := series[wantNames[1]], []Point{{100, 95000}, {10000, 100000}, {1000000, 140000}}; !reflect.DeepEqual(got, want) {
		t.Errorf("sqlite points %v, want %v", got, want)
	}

	if names, _ := r.Series("workloads"); len(names) != 0 {
		t.Errorf("a dimension absent from the input gave series %q", names)
	}
}

func TestPairs(t *testing.T) {
	r, _ := parseSample(t)
	got := r.Pairs("BenchmarkDecision", "provost", "reference")
	want := []Pair{
		{Case: "bearer", Provost: 350000, Reference: 110000, HasProvost: true, HasReference: true},
		{Case: "dpop", Provost: 500000, Reference: 250000, HasProvost: true, HasReference: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pairs:\n got %+v\nwant %+v", got, want)
	}
	// BenchmarkDecisionScale is another benchmark, not a case of
	// BenchmarkDecision.
	for _, p := range got {
		if strings.Contains(p.Case, "=") {
			t.Errorf("case %q comes from another benchmark", p.Case)
		}
	}
}

// TestRunWritesCharts draws the sample: both scale charts and the
// decision bar chart are PNGs; opa.png has no data and is not written.
func TestRunWritesCharts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "performance")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-out", out, "testdata/sample.txt"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	for _, name := range []string{"scale-bindings.png", "scale-credentials.png", "decision.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
			t.Errorf("%s is %v", name, b)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "opa.png")); !os.IsNotExist(err) {
		t.Errorf("opa.png was written without data (%v)", err)
	}
	for _, msg := range []string{"sample.txt:11: skipped", "opa.png not written"} {
		if !strings.Contains(stderr.String(), msg) {
			t.Errorf("stderr lacks %q:\n%s", msg, stderr.String())
		}
	}
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 2 {
		t.Errorf("no files: exit %d, want 2", code)
	}
	if code := run([]string{filepath.Join(t.TempDir(), "missing.txt")}, &stdout, &stderr); code != 2 {
		t.Errorf("a missing file: exit %d, want 2", code)
	}
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, []byte("PASS\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"-out", t.TempDir(), empty}, &stdout, &stderr); code != 1 {
		t.Errorf("no results: exit %d, want 1", code)
	}
}
