// Package configcheck checks a whole configuration before it is served
// (`provost config check`): the file loads strictly, every file it names
// exists and parses as what it must be (JWKS, trust bundles, CA files, TLS
// certificates and keys, hop and signing keys, the bindings file), the
// listeners are host:port and do not clash, and the bindings lint clean.
// It reports every problem it finds, each with the configuration's
// file:line and field where it can, instead of stopping at the first.
package configcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/binding/lint"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	File  string // the configuration file, or the bindings file
	Line  int    // 1-based; 0 when unknown
	Field string // the field path, such as issuers[0].jwks_file; "" when none
	Msg   string
}

func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
	}
	if p.Field != "" {
		s += ": " + p.Field
	}
	return s + ": " + p.Msg
}

// Report is what Check found.
type Report struct {
	Problems []Problem
	// Warnings are the bindings lint's findings: likely mistakes that do
	// not stop Provost from starting.
	Warnings []Problem
	// Summary describes a configuration that loaded, in a few lines.
	Summary []string
}

// checker holds one check's state.
type checker struct {
	cfg  *config.Config
	root yaml.Node
	rep  Report
}

// Check checks the configuration file at path and every file it names.
func Check(ctx context.Context, path string) Report {
	c := &checker{}
	cfg, err := config.Load(path)
	if err != nil {
		// The strict loader stops at the first error.
		c.rep.Problems = append(c.rep.Problems, loadProblem(path, err))
		return c.rep
	}
	c.cfg = cfg
	if data, err := smallfile.Read(path, config.MaxFileBytes); err == nil {
		yaml.Unmarshal(data, &c.root)
	}
	c.files()
	c.listeners()
	set := c.bindings(ctx)
	if len(c.rep.Problems) == 0 {
		// The engine's own loader is the last word: whatever it refuses
		// that the checks above did not name is a problem too.
		if _, err := provost.LoadPolicy(ctx, path); err != nil {
			c.problem("", "%v", err)
		}
	}
	c.summarize(set)
	return c.rep
}

// problem records a problem at a field of the configuration.
func (c *checker) problem(field, format string, args ...any) {
	p := Problem{File: c.cfg.File, Field: field, Msg: fmt.Sprintf(format, args...)}
	if field != "" {
		p.Line = config.LineOf(&c.root, field)
	}
	c.rep.Problems = append(c.rep.Problems, p)
}

// bindings loads and lints the bindings file; nil when there is none or
// it does not load.
func (c *checker) bindings(ctx context.Context) *binding.Set {
	if c.cfg.Bindings == "" {
		return nil
	}
	path := c.cfg.Resolve(c.cfg.Bindings)
	if _, err := os.Stat(path); err != nil {
		c.problem("bindings", "%v", describe(err))
		return nil
	}
	set, err := binding.LoadLimit(ctx, path, c.cfg.BindingsMaxBytes)
	if err != nil {
		c.problem("bindings", "%v", err)
		return nil
	}
	src, _ := smallfile.Read(set.File, binding.MaxFileBytes)
	for _, f := range lint.Findings(set, src) {
		c.rep.Warnings = append(c.rep.Warnings, Problem{File: f.File, Line: f.Line, Field: f.Field, Msg: "warning: " + f.Message})
	}
	return set
}

// summarize describes the configuration in a few lines.
func (c *checker) summarize(set *binding.Set) {
	cfg := c.cfg
	s := fmt.Sprintf("%s, %s, %s, %s, %s", plural(len(cfg.Issuers), "issuer"), plural(len(cfg.APIKeys), "API key"),
		plural(len(cfg.Trust.SPIFFE), "SPIFFE trust domain"), plural(len(cfg.Trust.Hops), "hop key"), plural(len(cfg.Trust.Attestors), "posture attestor"))
	c.rep.Summary = append(c.rep.Summary, s)
	if set != nil {
		c.rep.Summary = append(c.rep.Summary, fmt.Sprintf("bindings %s: %s, mode %s, %s", set.File, plural(len(set.Bindings), "binding"), set.Mode, plural(len(c.rep.Warnings), "warning")))
	} else if cfg.Bindings == "" {
		c.rep.Summary = append(c.rep.Summary, "no bindings file: every accepted credential is shadow automation, denied")
	}
	var ls []string
	for _, l := range c.listenerList() {
		ls = append(ls, l.field+" "+l.addr)
	}
	c.rep.Summary = append(c.rep.Summary, "listeners: "+strings.Join(ls, ", "))
	c.rep.Summary = append(c.rep.Summary, "data directory: "+cfg.DataDirPath())
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// loadProblem words the strict loader's error, "path:line: field: what"
// or "path: what", as a Problem.
func loadProblem(path string, err error) Problem {
	if errors.Is(err, fs.ErrNotExist) {
		return Problem{File: path, Msg: "does not exist"}
	}
	p := Problem{File: path, Msg: strings.TrimPrefix(err.Error(), "config: ")}
	rest, ok := strings.CutPrefix(p.Msg, path+":")
	if !ok {
		return p
	}
	p.Msg = strings.TrimSpace(rest)
	if n, tail, ok := strings.Cut(rest, ": "); ok {
		if line, err := strconv.Atoi(n); err == nil {
			p.Line, p.Msg = line, tail
		}
	}
	return p
}
