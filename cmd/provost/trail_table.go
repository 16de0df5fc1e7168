package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/trail"
)

// Table headers, one per column of the matching row function.
var (
	showHeader     = []string{"TIME", "DECISION", "FINGERPRINT", "SUBJECT", "WORKLOAD", "CLIENT", "BINDING", "REASONS", "ACTIONS"}
	timelineHeader = []string{"TIME", "DECISION", "WORKLOAD", "NETWORK", "CLIENT", "REQUEST", "REASONS", "NOTES"}
	originHeader   = []string{"FINGERPRINT", "SUBJECT", "WORKLOAD", "NETWORK", "CLIENTS", "FIRST", "LAST", "USES", "ALLOWED", "REFUSED"}
	targetHeader   = []string{"METHOD", "PATH", "REQUESTS", "ALLOW", "STEP_UP", "DENY", "CREDENTIALS", "FIRST", "LAST"}
)

// printTable prints rows as a JSON array, or as a table under header,
// nothing when there are no rows. Cells read from records are printed
// with what a terminal would interpret replaced.
func printTable[T any](w io.Writer, asJSON bool, rows []T, header []string, line func(T) []string) error {
	if asJSON {
		if rows == nil {
			rows = []T{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := line(r)
		for i, c := range cells {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// printShow prints show's records; the table names each credential by the
// shortest text --fingerprint takes back.
func printShow(ctx context.Context, w io.Writer, x *trail.Index, asJSON bool, es []trail.Entry) error {
	if asJSON {
		return printTable(w, true, es, nil, nil)
	}
	fps := make([]string, 0, len(es))
	for _, e := range es {
		fps = append(fps, e.Record.Fingerprint())
	}
	short, err := x.Shorten(ctx, fps)
	if err != nil {
		return err
	}
	return printTable(w, false, es, showHeader, func(e trail.Entry) []string { return showRow(e, short) })
}

func printOrigins(ctx context.Context, w io.Writer, x *trail.Index, asJSON bool, origins []trail.Origin) error {
	if asJSON {
		return printTable(w, true, origins, nil, nil)
	}
	fps := make([]string, 0, len(origins))
	for _, o := range origins {
		fps = append(fps, o.Fingerprint)
	}
	short, err := x.Shorten(ctx, fps)
	if err != nil {
		return err
	}
	return printTable(w, false, origins, originHeader, func(o trail.Origin) []string { return originRow(o, short) })
}

// cell is a table cell: "-" for nothing, and printable.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

// printable replaces what a terminal would interpret (control characters,
// tabs, newlines) in a value read from a record.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}

func when(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func num(n int64) string { return fmt.Sprint(n) }

func reasonCodes(r evidence.Record) string {
	codes := make([]string, 0, len(r.Reasons))
	for _, c := range r.Reasons {
		codes = append(codes, string(c.Code))
	}
	return strings.Join(codes, ",")
}

func showRow(e trail.Entry, short map[string]string) []string {
	r := e.Record
	client := r.Signals.Network.Client
	if client == "" {
		client = r.Signals.Network.Peer
	}
	workload := r.Origin.Workload
	if workload == "" {
		workload = r.Signals.Workload.ID
	}
	actions := make([]string, 0, len(r.Actions))
	for _, a := range r.Actions {
		actions = append(actions, string(a))
	}
	// An event record (an operator's revocation) shows its event where a
	// decision shows the decision.
	return []string{when(r.Time.Time), cmp.Or(string(r.Decision), string(r.Event)), short[r.Fingerprint()], r.Credential.Issuer.Subject,
		workload, client, r.Binding, reasonCodes(r), strings.Join(actions, ",")}
}

// useNotes marks what a use changed: its origin was new, it revoked the
// credential, it forced re-authentication, or the credential had been
// revoked before it. An operator's revocation says who revoked and why.
func useNotes(u trail.Use) string {
	if u.Event != "" {
		n := "revoked by operator " + cmp.Or(u.RevokedBy, "(unnamed)")
		if u.RevocationReason != "" {
			n += ", " + u.RevocationReason
		}
		if u.RevocationID != "" {
			n += " (" + u.RevocationID + ")"
		}
		return n
	}
	var notes []string
	if u.NewOrigin {
		notes = append(notes, "new origin")
	}
	if u.Revoked {
		n := "revoked the credential"
		if u.RevocationID != "" {
			n += " (" + u.RevocationID + ")"
		}
		notes = append(notes, n)
	}
	if u.StepUp {
		notes = append(notes, "re-authentication required")
	}
	if u.WasRevoked {
		notes = append(notes, "refused: already revoked")
	}
	return strings.Join(notes, "; ")
}

func timelineRow(u trail.Use) []string {
	return []string{when(u.Time), cmp.Or(u.Decision, u.Event), u.Workload, u.Network, u.Client, strings.TrimSpace(u.Method + " " + u.Path),
		strings.Join(u.Reasons, ","), useNotes(u)}
}

func originRow(o trail.Origin, short map[string]string) []string {
	return []string{short[o.Fingerprint], o.Subject, o.Workload, o.Network, strings.Join(o.Clients, ","), when(o.First), when(o.Last),
		num(o.Count), num(o.Allowed), num(o.Denied)}
}

func targetRow(t trail.Target) []string {
	return []string{t.Method, t.Path, num(t.Count), num(t.Allowed), num(t.SteppedUp), num(t.Denied), num(t.Credentials),
		when(t.First), when(t.Last)}
}
