package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/checkreq"
)

// checkOptions are provost check's flags.
type checkOptions struct {
	config, dataDir string
	json            bool
}

func checkFlags() (*flag.FlagSet, *checkOptions) {
	fs := newFlagSet("check")
	o := &checkOptions{}
	configFlag(fs, &o.config, "")
	dataDirFlag(fs, &o.dataDir)
	fs.BoolVar(&o.json, "json", false, "print one JSON decision per line instead of text")
	return fs, o
}

func cmdCheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := checkFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "provost check: name at least one REQUEST.json")
		fs.Usage()
		return exitUsage
	}
	// One engine judges every file in order, so a proof replayed across
	// files is caught as it would be by a server.
	var at time.Time
	clock := func() time.Time {
		if at.IsZero() {
			return time.Now()
		}
		return at
	}
	a, err := app.Open(ctx, app.Options{ConfigFile: o.config, DataDir: o.dataDir, Now: clock, Offline: true})
	if err != nil {
		fmt.Fprintln(stderr, "provost check:", err)
		return exitUsage
	}
	defer a.Close()
	code := exitOK
	for _, path := range fs.Args() {
		doc, err := checkreq.ReadFile(path)
		var req *provost.Request
		if err == nil {
			req, err = doc.ToRequest()
		}
		if err != nil {
			fmt.Fprintf(stderr, "provost check: %s: %v\n", path, err)
			code = exitUsage
			continue
		}
		at = time.Time{}
		if doc.At != nil {
			at = *doc.At
		}
		d, err := a.Engine.Check(ctx, req)
		if err != nil {
			fmt.Fprintf(stderr, "provost check: %s: failed closed: %v\n", path, err)
		}
		if o.json {
			writeJSON(stdout, path, d)
		} else {
			writeText(stdout, path, d)
		}
	}
	return code
}

func writeJSON(w io.Writer, path string, d *provost.Decision) {
	out := struct {
		File string `json:"file"`
		*provost.Decision
	}{path, d}
	b, _ := json.Marshal(out)
	fmt.Fprintf(w, "%s\n", b)
}

func writeText(w io.Writer, path string, d *provost.Decision) {
	c := &d.Credential
	m := &c.Metadata
	fmt.Fprintf(w, "%s\n", path)
	fmt.Fprintf(w, "  decision    %s\n", d.Outcome)
	fmt.Fprintf(w, "  credential  %s (%s): %s\n", c.Verdict, c.Reason, c.Message)
	prov := string(d.Provenance)
	if d.Binding != "" {
		prov += fmt.Sprintf(" (binding %s, %s mode)", d.Binding, d.Mode)
	}
	fmt.Fprintf(w, "  provenance  %s\n", prov)
	for _, ch := range d.Checks {
		line := fmt.Sprintf("%-6s %s", ch.Status, ch.Signal)
		if ch.Observed != "" {
			line += " observed=" + ch.Observed
		}
		if ch.Expected != "" {
			line += " expected=" + ch.Expected
		}
		fmt.Fprintf(w, "  check       %s\n", line)
	}
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "  reason      %s: %s\n", r.Code, r.Message)
	}
	if len(d.Actions) > 0 {
		acts := make([]string, len(d.Actions))
		for i, a := range d.Actions {
			acts[i] = string(a)
		}
		fmt.Fprintf(w, "  actions     %s\n", strings.Join(acts, ", "))
	}
	if c.Kind != "" {
		fmt.Fprintf(w, "  presented   %s %s\n", c.Kind, c.Fingerprint)
	}
	if m.Issuer != "" {
		var parts []string
		for _, kv := range [][2]string{{"iss", m.Issuer}, {"sub", m.Subject}, {"kid", m.KeyID}, {"alg", m.Algorithm}, {"azp", m.AZP}, {"client_id", m.ClientID}} {
			if kv[1] != "" {
				parts = append(parts, kv[0]+"="+kv[1])
			}
		}
		if !m.IssuedAt.IsZero() {
			parts = append(parts, fmt.Sprintf("age=%s", m.Age()))
		}
		fmt.Fprintf(w, "  issuer      %s\n", strings.Join(parts, " "))
	}
	if m.APIKey != "" {
		fmt.Fprintf(w, "  api key     %s\n", m.APIKey)
	}
	for _, a := range m.Act {
		line := "sub=" + a.Subject
		if a.Issuer != "" {
			line += " iss=" + a.Issuer
		}
		if a.ClientID != "" {
			line += " client_id=" + a.ClientID
		}
		fmt.Fprintf(w, "  actor       %s\n", line)
	}
	switch c.Possession.Method {
	case "dpop":
		fmt.Fprintf(w, "  possession  dpop jkt=%s\n", c.Possession.JKT)
	case "mtls":
		fmt.Fprintf(w, "  possession  mtls x5t#S256=%s\n", c.Possession.X5TS256)
	}
	if o := d.Origin.String(); o != "" {
		fmt.Fprintf(w, "  origin      %s\n", o)
	}
	if d.RevocationID != "" {
		fmt.Fprintf(w, "  revoked     %s\n", d.RevocationID)
	}
	if c.DPoPNonce != "" {
		fmt.Fprintf(w, "  dpop-nonce  %s\n", c.DPoPNonce)
	}
	if len(d.Tags) > 0 {
		ids := make([]string, len(d.Tags))
		for i, t := range d.Tags {
			ids[i] = t.ID
		}
		fmt.Fprintf(w, "  tags        %s\n", strings.Join(ids, " "))
	}
}
