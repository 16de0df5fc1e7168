package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/policytest"
)

// ---- test ----

// bindingsTestOptions are provost bindings test's flags.
type bindingsTestOptions struct{ config, dataDir string }

func bindingsTestFlags() (*flag.FlagSet, *bindingsTestOptions) {
	fs := newFlagSet("bindings test")
	o := &bindingsTestOptions{}
	configFlag(fs, &o.config, " (overrides each test file's config:)")
	fs.StringVar(&o.dataDir, "data-dir", "", "data `directory` (default: a fresh temporary one per test file)")
	return fs, o
}

func cmdBindingsTest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := bindingsTestFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "provost bindings test: name at least one TESTS.yaml")
		fs.Usage()
		return exitUsage
	}
	suites := make([]*policytest.Suite, 0, fs.NArg())
	bad := false
	for _, path := range fs.Args() {
		s, err := policytest.Load(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			bad = true
			continue
		}
		if flagGiven(fs, "config") || s.Config == "" {
			s.Config = o.config
		}
		suites = append(suites, s)
	}
	if bad {
		return exitUsage
	}
	passed, failed := 0, 0
	for _, s := range suites {
		p, f, err := runSuite(ctx, s, o.dataDir, stdout)
		passed, failed = passed+p, failed+f
		if err != nil {
			fmt.Fprintf(stderr, "provost bindings test: %s: %v\n", s.File, err)
			bad = true
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	switch {
	case bad:
		return exitUsage
	case failed > 0:
		return exitFail
	}
	return exitOK
}

// runSuite runs s against one engine with its own data directory and
// prints each test's outcome. The error is for bad input: the engine could
// not start.
func runSuite(ctx context.Context, s *policytest.Suite, dataDir string, stdout io.Writer) (passed, failed int, err error) {
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "provost-bindings-test-")
		if err != nil {
			return 0, 0, err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	clock := &policytest.Clock{}
	a, err := app.Open(ctx, app.Options{ConfigFile: s.Config, DataDir: dataDir, Now: clock.Now, Offline: true})
	if err != nil {
		return 0, 0, err
	}
	defer a.Close()
	fmt.Fprintf(stdout, "=== %s\n", s.File)
	for _, r := range s.Run(ctx, a.Engine.Check, clock) {
		if r.Passed() {
			passed++
			fmt.Fprintf(stdout, "--- PASS: %s\n", r.Name)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "--- FAIL: %s\n", r.Name)
		for _, l := range r.Failures {
			fmt.Fprintf(stdout, "    %s\n", l)
		}
		writeGot(stdout, r.Decision)
	}
	return passed, failed, nil
}

// writeGot prints the decision of a failed test: never the raw credential,
// only its fingerprint.
func writeGot(w io.Writer, d *provost.Decision) {
	if d == nil {
		return
	}
	c := &d.Credential
	line := fmt.Sprintf("got: decision=%s credential=%s(%s) provenance=%s", d.Outcome, c.Verdict, c.Reason, d.Provenance)
	if d.Binding != "" {
		line += fmt.Sprintf(" binding=%s(%s)", d.Binding, d.Mode)
	}
	if c.Fingerprint != "" {
		line += " fingerprint=" + c.Fingerprint
	}
	fmt.Fprintf(w, "    %s\n", line)
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "    reason %s: %s\n", r.Code, r.Message)
	}
}
