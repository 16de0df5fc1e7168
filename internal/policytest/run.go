package policytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/provost-dev/provost"
)

// CheckFunc judges one request: an engine's Check.
type CheckFunc func(context.Context, *provost.Request) (*provost.Decision, error)

// Clock is the engine's clock while a suite runs: Run pins it to each
// case's At, or lets it follow the current time for a case without one.
// Give its Now to the engine Run checks with. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	at time.Time
}

// Now is the pinned time, or time.Now when nothing is pinned.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

func (c *Clock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = at
}

// Result is the outcome of one case.
type Result struct {
	Name     string
	Decision *provost.Decision // as check returned it; nil only if it returned none
	Err      error             // check's error: the engine failed closed
	Failures []string          // what differs from the expectation, one line each; none when the case passed
}

// Passed reports whether the decision met every expectation.
func (r *Result) Passed() bool { return len(r.Failures) == 0 }

// Run runs s's cases in order through check, one result per case, setting
// clock to each case's At first (check's engine must read its time from
// clock.Now; a nil clock pins nothing). Cases share check's engine, so
// state carries from one to the next.
func (s *Suite) Run(ctx context.Context, check CheckFunc, clock *Clock) []Result {
	out := make([]Result, 0, len(s.Cases))
	for i := range s.Cases {
		tc := &s.Cases[i]
		if clock != nil {
			clock.set(tc.At)
		}
		d, err := check(ctx, tc.Request)
		r := Result{Name: tc.Name, Decision: d, Err: err, Failures: Compare(&tc.Expect, d)}
		if err != nil {
			r.Failures = append([]string{"the engine failed closed: " + err.Error()}, r.Failures...)
		}
		out = append(out, r)
	}
	return out
}

// Compare returns what differs between e and d, one line each; none when d
// meets e. A nil d meets nothing.
func Compare(e *Expect, d *provost.Decision) []string {
	if d == nil {
		return []string{"no decision"}
	}
	var out []string
	if got := string(d.Outcome); got != e.Decision {
		out = append(out, fmt.Sprintf("decision: got %s, want %s", got, e.Decision))
	}
	if got := string(d.Credential.Verdict); e.Credential != "" && got != e.Credential {
		out = append(out, fmt.Sprintf("credential: got %s (%s), want %s", got, d.Credential.Reason, e.Credential))
	}
	if got := string(d.Provenance); e.Provenance != "" && got != e.Provenance {
		out = append(out, fmt.Sprintf("provenance: got %s, want %s", got, e.Provenance))
	}
	codes := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		codes[i] = string(r.Code)
	}
	for _, c := range e.Reasons {
		if !slices.Contains(codes, c) {
			out = append(out, fmt.Sprintf("reasons: want %s, it is not among [%s]", c, strings.Join(codes, " ")))
		}
	}
	for _, c := range e.NotReasons {
		if slices.Contains(codes, c) {
			out = append(out, fmt.Sprintf("not_reasons: %s is among the reasons", c))
		}
	}
	if e.Actions != nil {
		got := make([]string, len(d.Actions))
		for i, a := range d.Actions {
			got[i] = string(a)
		}
		want := slices.Clone(e.Actions)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(slices.Compact(got), slices.Compact(want)) {
			out = append(out, fmt.Sprintf("actions: got [%s], want [%s]", strings.Join(got, " "), strings.Join(want, " ")))
		}
	}
	return out
}
