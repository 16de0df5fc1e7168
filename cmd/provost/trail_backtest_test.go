package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/backtest"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/verdict"
)

const backtestBindings = `version: 1
mode: enforce
networks:
  ops: [10.1.0.0/16]
bindings:
  - name: deploy
    match: {subject: "svc:deploy"}
    require: {networks: [ops]}
`

// backtestRequests are played in order; each gets a fresh token, so no
// history detector fires.
var backtestRequests = []struct {
	sub, peer string
	want      decision.Outcome
}{
	{"svc:deploy", "10.1.1.1", verdict.Allow},   // 0
	{"svc:deploy", "10.1.200.5", verdict.Allow}, // 1: outside the stricter /24
	{"svc:deploy", "10.9.0.1", verdict.Deny},    // 2: outside ops
	{"svc:other", "10.1.1.2", verdict.Deny},     // 3: no binding
	{"", "10.1.1.3", verdict.Deny},              // 4: rejected credential
	{"svc:deploy", "10.1.1.77", verdict.Allow},  // 5
}

// backtestLog drives a real engine through backtestRequests and returns
// its configuration file, with the engine closed.
func backtestLog(t *testing.T) string {
	t.Helper()
	w, err := provosttest.NewWorld(t.TempDir(), "https://api.test", []string{"127.0.0.1"}, backtestBindings)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, app.Options{ConfigFile: w.ConfigFile()})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range backtestRequests {
		tok := "not-a-valid-token-at-all"
		if r.sub != "" {
			if tok, err = w.Token(r.sub, time.Hour, nil); err != nil {
				t.Fatal(err)
			}
		}
		d, err := a.Engine.Check(ctx, &provost.Request{Method: "GET", Target: "/x", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr(r.peer)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != r.want || d.Evidence == nil || d.Evidence.Index != int64(i) {
			t.Fatalf("request %d: %s, evidence %+v; want %s at index %d", i, d.Outcome, d.Evidence, r.want, i)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return w.ConfigFile()
}

func TestTrailBacktest(t *testing.T) {
	cfg := backtestLog(t)
	cases := []struct {
		name     string
		bindings string
		want     []int64
		after    decision.Outcome
	}{
		{"same bindings", backtestBindings, nil, ""},
		{"stricter network", strings.Replace(backtestBindings, "10.1.0.0/16", "10.1.1.0/24", 1), []int64{1}, verdict.Deny},
		{"looser network and a new binding", strings.Replace(backtestBindings, "10.1.0.0/16", "10.0.0.0/8", 1) +
			"  - name: other\n    match: {subject: \"svc:other\"}\n    require: {networks: [ops]}\n", []int64{2, 3}, verdict.Allow},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "candidate.yaml")
			if err := os.WriteFile(file, []byte(c.bindings), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := trailBacktest(t.Context(), []string{"--bindings", file, "--config", cfg, "--json"}, nil, &out, &errb)
			wantCode := exitOK
			if len(c.want) > 0 {
				wantCode = exitFail
			}
			if code != wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, wantCode, errb.String())
			}
			var res backtest.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			var got []int64
			for _, ch := range res.Changes {
				got = append(got, ch.Index)
				if ch.After.Decision != c.after || ch.Before.Decision == ch.After.Decision {
					t.Errorf("change %d: %s -> %s, want -> %s", ch.Index, ch.Before.Decision, ch.After.Decision, c.after)
				}
			}
			if !slices.Equal(got, c.want) || res.Total != int64(len(backtestRequests)) || res.Changed != int64(len(c.want)) {
				t.Errorf("changed %v (%d) of %d, want %v of %d", got, res.Changed, res.Total, c.want, len(backtestRequests))
			}

			out.Reset()
			code = trailBacktest(t.Context(), []string{"--bindings", file, "--config", cfg}, nil, &out, &errb)
			if code != wantCode {
				t.Fatalf("text output: exit %d, want %d", code, wantCode)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			summary := lines[len(lines)-1]
			if want := len(c.want); summary != strconv.Itoa(want)+" of 6 past requests would be decided differently" || len(lines) != want+1 {
				t.Errorf("text output:\n%s", out.String())
			}
		})
	}
}

func TestTrailBacktestBadInput(t *testing.T) {
	cfg := backtestLog(t)
	good := filepath.Join(t.TempDir(), "good.yaml")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(good, []byte(backtestBindings), 0o600)
	os.WriteFile(bad, []byte("version: 1\nbindings: [{name: x, match: {nope: 1}}]\n"), 0o600)
	for name, args := range map[string][]string{
		"no bindings flag": {"--config", cfg},
		"invalid bindings": {"--bindings", bad, "--config", cfg},
		"missing bindings": {"--bindings", filepath.Join(t.TempDir(), "none.yaml"), "--config", cfg},
		"no log":           {"--bindings", good, "--data-dir", t.TempDir()},
		"extra argument":   {"--bindings", good, "--config", cfg, "extra"},
	} {
		var out, errb bytes.Buffer
		if code := trailBacktest(t.Context(), args, nil, &out, &errb); code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stdout %s", name, code, exitUsage, out.String())
		}
	}
}
