package demo

import (
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/devworld"
)

// ServeURL is where the next steps expect `provost serve` on the kept
// world: its default listener.
const ServeURL = "http://" + config.DefaultListen

// A step of the next steps: a comment, then shell commands. A step whose
// comment starts with "allowed:" or "denied:" ends with the curl whose
// answer says so, with the reason codes the comment names (the first-hour
// test runs the printed steps and holds them to it).
type nextStep struct {
	comment string
	cmds    []string
}

func nextSteps(dir string) []nextStep {
	d := ShellQuote(dir)
	cfg := ShellQuote(filepath.Join(dir, "provost.yaml"))
	fwd := func(headers ...string) string {
		s := "curl -sS -i"
		for _, h := range headers {
			s += " -H " + `"` + h + `"`
		}
		return s + " " + ServeURL + "/v1/forward-auth"
	}
	return []nextStep{
		{"serve the kept world (check API and forward-auth on " + config.DefaultListen + "); then use a second terminal", []string{
			"provost serve --config " + cfg}},
		{"mint an access token for svc:reports, whose binding approves the datacenter network 10.40.0.0/16", []string{
			"TOKEN=$(provost dev token --world " + d + " --sub svc:reports --ttl 1h)"}},
		{"allowed: forward-auth, as nginx asks it, for a request from 10.40.7.7 (see X-Provost-Decision)", []string{
			fwd("Authorization: Bearer $TOKEN", "X-Original-Method: GET", "X-Original-URI: /v1/reports", "X-Forwarded-For: 10.40.7.7")}},
		{"denied: the same token from 203.0.113.9, outside every approved network (X-Provost-Reasons: network_not_approved)", []string{
			fwd("Authorization: Bearer $TOKEN", "X-Original-Method: GET", "X-Original-URI: /v1/reports", "X-Forwarded-For: 203.0.113.9")}},
		{"allowed: a token bound to the kept DPoP key (cnf.jkt) with a fresh proof for " + KeptOrigin + "/v1/tools/run", []string{
			"DPOP_TOKEN=$(provost dev token --world " + d + " --sub agent:tool-caller --dpop)",
			"PROOF=$(provost dev dpop --world " + d + " --method POST --url /v1/tools/run --token \"$DPOP_TOKEN\")",
			fwd("Authorization: DPoP $DPOP_TOKEN", "DPoP: $PROOF", "X-Original-Method: POST", "X-Original-URI: /v1/tools/run")}},
		{"denied: the same proof sent again is a replay (dpop_replayed)", []string{
			fwd("Authorization: DPoP $DPOP_TOKEN", "DPoP: $PROOF", "X-Original-Method: POST", "X-Original-URI: /v1/tools/run")}},
		{"allowed: the support agent's token with its workload identity (a JWT-SVID) from the agent runtime", []string{
			"AGENT_TOKEN=$(provost dev token --world " + d + " --sub agent:support-bot)",
			"SVID=$(provost dev svid --world " + d + " --jwt spiffe://demo.provost.test/agents/support-bot)",
			fwd("Authorization: Bearer $AGENT_TOKEN", "Provost-Workload-JWT: $SVID", "X-Original-Method: GET", "X-Original-URI: /v1/tools/search", "X-Forwarded-For: 10.30.1.5")}},
		{"allowed: the whole decision as JSON, from the check API (a new token: the one above has a history now)", []string{
			"curl -sS -H 'Content-Type: application/json' -d \"{\\\"method\\\":\\\"GET\\\",\\\"target\\\":\\\"/v1/reports\\\",\\\"peer\\\":\\\"10.40.7.7\\\",\\\"authorization\\\":\\\"Bearer $(provost dev token --world " + d + " --sub svc:reports)\\\"}\" " + ServeURL + "/v1/check"}},
		{"every decision, the demo's and yours, from the evidence log", []string{
			"provost trail show --config " + cfg}},
	}
}

// printNextSteps ends a kept demo with the commands to try next.
func printNextSteps(w io.Writer, dir string) {
	fmt.Fprintf(w, "\nThe demo world is kept in %s: configuration, bindings, data, and its private keys in\n", dir)
	fmt.Fprintf(w, "%s (DEMO ONLY: never use them, or anything they signed, in production).\n", filepath.Join(dir, devworld.KeysDir))
	fmt.Fprintf(w, "Try it yourself ('provost' is this program: go install ./cmd/provost, or use go run ./cmd/provost):\n\n")
	for i, s := range nextSteps(dir) {
		fmt.Fprintf(w, "  # %d. %s\n", i+1, s.comment)
		for _, c := range s.cmds {
			fmt.Fprintf(w, "  %s\n", c)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "To put a real nginx in front of it: docs/nginx.md, \"Try it on the demo's world\".\n")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// ShellQuote quotes s for a POSIX shell when it needs quoting: the commands
// the demo prints, and the copy command serve prints for its embedded
// default.
func ShellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
