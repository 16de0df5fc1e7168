package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/trail"
)

const trailUsage = `usage: provost trail SUBCOMMAND [--config FILE] [--data-dir DIR] [flags]
Investigate the evidence log.
  verify        check the whole log against its checkpoints
  show          list records: [--fingerprint FP | --credential-stdin] [--workload ID] [--network CIDR]
                [--binding B] [--decision D] [--reason CODE] [--since T] [--until T] [--limit N] [--json]
  timeline      one credential's uses and origins over time: --fingerprint FP | --credential-stdin
  origins       distinct origins per credential, first and last seen: [--fingerprint FP | --credential-stdin]
  blast-radius  what a credential or workload touched: --fingerprint FP | --credential-stdin | --workload ID
  export        the records show selects (same filters, no limit) to standard output: --format jsonl|ocsf
  report        findings by OWASP NHI Top 10 / NIST CSF 2.0 / SP 800-207 and decisions over time:
                --format markdown|html [--since T] [--until T]
  backtest      replay the recorded evidence against a candidate bindings file
Times (--since, --until) are RFC 3339 or a duration before now (24h). Every subcommand but verify and
backtest first brings the index (<data_dir>/trail.db) up to date with the log.
`

// cmdTrail dispatches provost trail SUBCOMMAND.
func cmdTrail(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, trailUsage)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "verify":
		return trailVerify(ctx, rest, stdin, stdout, stderr)
	case "backtest":
		return trailBacktest(ctx, rest, stdin, stdout, stderr)
	case "show", "timeline", "origins", "blast-radius", "export", "report":
		return trailQuery(ctx, sub, rest, stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, trailUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost trail: unknown subcommand %q\n\n%s", sub, trailUsage)
	return exitUsage
}

// trailOpts are the flags of the query subcommands.
type trailOpts struct {
	cfgFile, dataDir               string
	fingerprint                    string
	credStdin                      bool
	workload, network, binding     string
	decision, reason, since, until string
	format                         string
	limit                          int
	json                           bool
	filter                         trail.Filter
}

func trailFlagSet(sub string, o *trailOpts, stderr io.Writer) *flag.FlagSet {
	fs := flagSet("provost trail "+sub, trailUsage, stderr)
	fs.StringVar(&o.cfgFile, "config", defaultConfigFile, "configuration `file` naming the data directory")
	fs.StringVar(&o.dataDir, "data-dir", "", "data `directory` (overrides data_dir in the configuration)")
	if sub != "report" {
		fs.StringVar(&o.fingerprint, "fingerprint", "", "the credential's `fingerprint` (fp1:...)")
		fs.BoolVar(&o.credStdin, "credential-stdin", false, "read the raw credential from standard input and fingerprint it locally")
	}
	if sub == "show" || sub == "export" || sub == "blast-radius" {
		fs.StringVar(&o.workload, "workload", "", "the workload's SPIFFE `ID`")
	}
	if sub == "show" || sub == "export" {
		fs.StringVar(&o.network, "network", "", "the client's network: a `CIDR` prefix or an address")
		fs.StringVar(&o.binding, "binding", "", "the binding's `name`")
		fs.StringVar(&o.decision, "decision", "", "allow, step_up or deny")
		fs.StringVar(&o.reason, "reason", "", "a reason `code`")
	}
	if sub == "show" || sub == "export" || sub == "report" {
		fs.StringVar(&o.since, "since", "", "from `T` (RFC 3339, or a duration before now)")
		fs.StringVar(&o.until, "until", "", "until `T`, excluded (RFC 3339, or a duration before now)")
	}
	switch sub {
	case "export":
		fs.StringVar(&o.format, "format", "jsonl", "jsonl or ocsf")
	case "report":
		fs.StringVar(&o.format, "format", "markdown", "markdown or html")
	default:
		fs.IntVar(&o.limit, "limit", 0, fmt.Sprintf("at most `N` rows (default %d, at most %d)", trail.DefaultLimit, trail.MaxLimit))
		fs.BoolVar(&o.json, "json", false, "print JSON")
	}
	return fs
}

func trailQuery(ctx context.Context, sub string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o trailOpts
	fs := trailFlagSet(sub, &o, stderr)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	prefix := "provost trail " + sub + ":"
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, prefix, "unexpected arguments:", strings.Join(fs.Args(), " "))
		return exitUsage
	}
	dir, err := trailDataDir(o.cfgFile, o.dataDir)
	if err == nil {
		err = o.resolve(sub, dir, stdin, time.Now())
	}
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return exitUsage
	}
	x, code := trailIndex(ctx, dir, prefix, stderr)
	if x == nil {
		return code
	}
	defer x.Close()
	if err := runTrailQuery(ctx, sub, x, &o, stdout); err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return exitFail
	}
	return exitOK
}

func trailDataDir(cfgFile, dataDir string) (string, error) {
	if dataDir != "" {
		return dataDir, nil
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return "", err
	}
	if err := sharedEvidence(cfg); err != nil {
		return "", err
	}
	return cfg.DataDirPath(), nil
}

// sharedEvidence refuses a configuration whose evidence log is in
// PostgreSQL: the trail commands other than verify (trailVerifyShared)
// read the SQLite log of a data directory only.
func sharedEvidence(cfg *config.Config) error {
	if !cfg.Storage.SharedEvidence() {
		return nil
	}
	return errors.New("the evidence log of this configuration is in PostgreSQL (storage.postgres.evidence_key_file), " +
		"which the trail commands other than trail verify do not read: check it with provost trail verify, or through a server's GET /v1/log/... endpoints and receipts " +
		"(provost receipt get, provost receipt verify), see docs/scale-out.md; --data-dir DIR reads the log a replica kept in DIR before")
}

// resolve checks the flags for sub and builds the filter; it reads the
// credential from stdin when asked, and fingerprints it with dir's secret.
func (o *trailOpts) resolve(sub, dir string, stdin io.Reader, now time.Time) error {
	if o.credStdin {
		if o.fingerprint != "" {
			return errors.New("give --fingerprint or --credential-stdin, not both")
		}
		fp, err := localFingerprint(dir, stdin)
		if err != nil {
			return err
		}
		o.fingerprint = fp
	} else if o.fingerprint != "" && !fingerprint.Valid(o.fingerprint) {
		// Never echoed: it may be a raw credential pasted by mistake.
		return errors.New("--fingerprint is not a fingerprint (fp1:...); to look up a raw credential, use --credential-stdin")
	}
	switch {
	case sub == "timeline" && o.fingerprint == "":
		return errors.New("name the credential: --fingerprint FP or --credential-stdin")
	case sub == "blast-radius" && (o.fingerprint == "") == (o.workload == ""):
		return errors.New("name a credential (--fingerprint FP or --credential-stdin) or a workload (--workload ID)")
	case sub == "export" && o.format != "jsonl" && o.format != "ocsf":
		return fmt.Errorf("--format %q: want jsonl or ocsf", o.format)
	case sub == "report" && o.format != "markdown" && o.format != "html":
		return fmt.Errorf("--format %q: want markdown or html", o.format)
	case o.decision != "" && o.decision != "allow" && o.decision != "step_up" && o.decision != "deny":
		return fmt.Errorf("--decision %q: want allow, step_up or deny", o.decision)
	case o.limit < 0:
		return errors.New("--limit must not be negative")
	}
	from, err := parseWhen(o.since, now)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	to, err := parseWhen(o.until, now)
	if err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	o.filter = trail.Filter{Fingerprint: o.fingerprint, Workload: o.workload, Network: o.network, Binding: o.binding,
		Decision: o.decision, Reason: o.reason, From: from, To: to, Limit: o.limit}
	return o.filter.Validate()
}

// parseWhen reads an RFC 3339 time or a duration before now; "" is the
// zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a positive duration", s)
	}
	return now.Add(-d), nil
}

// localFingerprint reads one credential from stdin and fingerprints it with
// the data directory's secret, which it never creates: a fingerprint under
// a new secret would match nothing.
func localFingerprint(dir string, stdin io.Reader) (string, error) {
	raw, err := readSecretLine(stdin)
	if err != nil {
		return "", fmt.Errorf("reading the credential from standard input: %w", err)
	}
	if _, err := os.Lstat(app.LayoutOf(dir).Secret); err != nil {
		return "", fmt.Errorf("no server secret in %s, so the credential cannot be fingerprinted as the server did: %w", dir, err)
	}
	secret, err := fingerprint.LoadOrCreateSecret(dir)
	if err != nil {
		return "", err
	}
	f, err := fingerprint.New(secret)
	if err != nil {
		return "", err
	}
	return credential.Fingerprint(f, raw), nil
}

// trailIndex opens the log read-only and the index, and syncs the index.
// It returns nil and the exit code on failure.
func trailIndex(ctx context.Context, dir, prefix string, stderr io.Writer) (*trail.Index, int) {
	logDir := app.LayoutOf(dir).Evidence
	if _, err := os.Stat(filepath.Join(logDir, "evidence.db")); err != nil {
		fmt.Fprintf(stderr, "%s no evidence log in %s\n", prefix, logDir)
		return nil, exitFail
	}
	l, err := evidencelog.Open(ctx, logDir, evidencelog.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return nil, exitFail
	}
	defer l.Close()
	x, err := trail.Open(ctx, filepath.Join(dir, trail.File))
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return nil, exitFail
	}
	res, err := trail.Sync(ctx, l, x)
	if err != nil {
		x.Close()
		fmt.Fprintln(stderr, prefix, err)
		if errors.Is(err, trail.ErrStale) {
			fmt.Fprintf(stderr, "%s check the log with 'provost trail verify'; delete %s to rebuild the index\n", prefix, filepath.Join(dir, trail.File))
		}
		return nil, exitFail
	}
	if res.Skipped > 0 {
		fmt.Fprintf(stderr, "%s warning: %d log entries are not evidence records this Provost reads; they are not indexed\n", prefix, res.Skipped)
	}
	return x, exitOK
}

func runTrailQuery(ctx context.Context, sub string, x *trail.Index, o *trailOpts, w io.Writer) error {
	switch sub {
	case "show":
		es, err := x.Show(ctx, o.filter)
		if err != nil {
			return err
		}
		return printRows(w, o.json, es, showRow)
	case "timeline":
		uses, err := x.Timeline(ctx, o.fingerprint, o.limit)
		if err != nil {
			return err
		}
		return printRows(w, o.json, uses, timelineRow)
	case "origins":
		origins, err := x.Origins(ctx, o.fingerprint, o.limit)
		if err != nil {
			return err
		}
		return printRows(w, o.json, origins, originRow)
	case "blast-radius":
		targets, err := x.BlastRadius(ctx, trail.Scope{Fingerprint: o.fingerprint, Workload: o.workload}, o.limit)
		if err != nil {
			return err
		}
		return printRows(w, o.json, targets, targetRow)
	case "export":
		return trailExport(ctx, x, o, w)
	}
	return x.Report(ctx, w, o.format, o.filter.From, o.filter.To)
}

func trailExport(ctx context.Context, x *trail.Index, o *trailOpts, w io.Writer) error {
	var scanErr error
	records := func(yield func(evidence.Record) bool) {
		for e, err := range x.Scan(ctx, o.filter) {
			if err != nil {
				scanErr = err
				return
			}
			if !yield(e.Record) {
				return
			}
		}
	}
	var err error
	if o.format == "ocsf" {
		err = writeOCSF(w, records)
	} else {
		err = evidence.WriteJSONLines(w, records)
	}
	return errors.Join(err, scanErr)
}

func writeOCSF(w io.Writer, records iter.Seq[evidence.Record]) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for r := range records {
		if err := enc.Encode(evidence.OCSF(r)); err != nil {
			return err
		}
	}
	return nil
}

// printRows prints rows as JSON, or one tab-aligned line each.
func printRows[T any](w io.Writer, asJSON bool, rows []T, line func(T) []string) error {
	if asJSON {
		if rows == nil {
			rows = []T{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		cells := line(r)
		for i, c := range cells {
			cells[i] = printable(orDash(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
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

func shortFP(fp string) string {
	if len(fp) > 16 {
		return fp[:16] + "…"
	}
	return fp
}

func reasonCodes(r evidence.Record) string {
	codes := make([]string, 0, len(r.Reasons))
	for _, c := range r.Reasons {
		codes = append(codes, string(c.Code))
	}
	return strings.Join(codes, ",")
}

func showRow(e trail.Entry) []string {
	r := e.Record
	client := r.Signals.Network.Client
	if client == "" {
		client = r.Signals.Network.Peer
	}
	workload := r.Origin.Workload
	if workload == "" {
		workload = r.Signals.Workload.ID
	}
	return []string{when(r.Time.Time), string(r.Decision), shortFP(r.Credential.Fingerprint), r.Credential.Issuer.Subject,
		workload, client, r.Binding, reasonCodes(r)}
}

func timelineRow(u trail.Use) []string {
	mark := ""
	if u.NewOrigin {
		mark = "new origin"
	}
	return []string{when(u.Time), u.Decision, u.Workload, u.Network, u.Client, u.Method + " " + u.Path, strings.Join(u.Reasons, ","), mark}
}

func originRow(o trail.Origin) []string {
	return []string{shortFP(o.Fingerprint), o.Subject, o.Workload, o.Network, strings.Join(o.Clients, ","), when(o.First), when(o.Last),
		fmt.Sprintf("%d uses", o.Count), fmt.Sprintf("%d allowed", o.Allowed), fmt.Sprintf("%d denied", o.Denied)}
}

func targetRow(t trail.Target) []string {
	return []string{t.Method, t.Path, fmt.Sprintf("%d requests", t.Count), fmt.Sprintf("%d allow", t.Allowed),
		fmt.Sprintf("%d step_up", t.SteppedUp), fmt.Sprintf("%d deny", t.Denied), fmt.Sprintf("%d credentials", t.Credentials),
		when(t.First), when(t.Last)}
}
