package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/trail"
)

// trailEnv is what the trail commands take from their surroundings; tests
// replace it.
type trailEnv struct {
	now func() time.Time
	// terminal reports whether progress may be drawn on a writer.
	terminal func(io.Writer) bool
	// progressDelay is how long work runs before its progress bar shows.
	progressDelay time.Duration
}

func defaultTrailEnv() trailEnv {
	return trailEnv{now: time.Now, terminal: isTerminal, progressDelay: progressDelay}
}

// cmdTrail dispatches provost trail SUBCOMMAND.
func cmdTrail(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return defaultTrailEnv().cmd(ctx, args, stdin, stdout, stderr)
}

func (e trailEnv) cmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, trailCommands(e).setPaths("trail"), args, stdin, stdout, stderr)
}

// parseFlags parses args into fs (parseArgs), and refuses arguments that
// are not flags. It returns -1 to go on, else the exit code.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %s\n", fs.Name(), strings.Join(fs.Args(), " "))
		return exitUsage
	}
	return -1
}

// trailOpts are the flags of the query subcommands.
type trailOpts struct {
	cfgFile, dataDir               string
	fingerprint                    string
	credStdin                      bool
	workload, network, binding     string
	decision, reason, since, until string
	format, ocsfClasses            string
	limit                          int
	json                           bool
	follow                         bool
	position                       string
	poll                           time.Duration
	filter                         trail.Filter
	// prefix is set when --fingerprint is a prefix the index must resolve.
	prefix bool
}

func has(sub string, subs ...string) bool {
	for _, s := range subs {
		if s == sub {
			return true
		}
	}
	return false
}

func trailFlagSet(sub string, o *trailOpts) *flag.FlagSet {
	fs := newFlagSet("trail " + sub)
	configFlag(fs, &o.cfgFile, " naming the data directory")
	dataDirFlag(fs, &o.dataDir)
	if sub != "report" {
		fs.StringVar(&o.fingerprint, "fingerprint", "", "the credential's fingerprint `FP` (fp1:...), whole or a prefix that names one credential")
		fs.BoolVar(&o.credStdin, "credential-stdin", false, "read the raw credential from standard input and fingerprint it locally")
	}
	if has(sub, "show", "export", "blast-radius") {
		fs.StringVar(&o.workload, "workload", "", "the workload's SPIFFE `ID`")
	}
	if has(sub, "show", "export") {
		fs.StringVar(&o.network, "network", "", "the client's network: a `CIDR` prefix or an address")
		fs.StringVar(&o.binding, "binding", "", "the binding's `name`")
		fs.StringVar(&o.decision, "decision", "", "allow, step_up or deny")
		fs.StringVar(&o.reason, "reason", "", "a reason `code`")
	}
	fs.StringVar(&o.since, "since", "", "from `T`, included (RFC 3339, or a duration before now: 90m, 24h, 7d)")
	fs.StringVar(&o.until, "until", "", "until `T`, excluded (RFC 3339, or a duration before now)")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	switch sub {
	case "export":
		fs.StringVar(&o.format, "format", "jsonl", "jsonl or ocsf (--json is --format jsonl)")
		fs.StringVar(&o.ocsfClasses, "ocsf-classes", "3002,6003", "the OCSF event `classes` to write per record: 3002 (Authentication), 6003 (API Activity) or both")
		fs.BoolVar(&o.follow, "follow", false, "keep writing records as they are appended, until interrupted")
		fs.StringVar(&o.position, "position", "", "with --follow: resume from the position in `FILE`, and keep it there")
		fs.DurationVar(&o.poll, "poll", time.Second, "with --follow: how often to look for new records")
	case "report":
		fs.StringVar(&o.format, "format", "markdown", "markdown or html (--json prints the summary as JSON)")
	default:
		fs.IntVar(&o.limit, "limit", 0, fmt.Sprintf("at most `N` rows (default %d, at most %d)", trail.DefaultLimit, trail.MaxLimit))
	}
	return fs
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

// minPrefix is the least number of characters after "fp1:" a fingerprint
// prefix must have.
const minPrefix = 4

// fingerprintPrefix reports whether s can be a prefix of a fingerprint:
// "fp1:", then minPrefix to 42 base64url characters.
func fingerprintPrefix(s string) bool {
	rest, ok := strings.CutPrefix(s, fingerprint.Prefix)
	if !ok || len(rest) < minPrefix || len(s) >= len(fingerprint.Prefix)+43 {
		return false
	}
	return !strings.ContainsFunc(rest, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	})
}

// resolve checks the flags for sub and builds the filter; it reads the
// credential from stdin when asked, and fingerprints it with dir's secret.
func (o *trailOpts) resolve(sub, dir string, stdin io.Reader, now time.Time) error {
	if err := o.resolveFingerprint(dir, stdin); err != nil {
		return err
	}
	if err := o.check(sub); err != nil {
		return err
	}
	from, to, err := window(o.since, o.until, now)
	if err != nil {
		return err
	}
	o.filter = trail.Filter{Fingerprint: o.fingerprint, Workload: o.workload, Network: o.network, Binding: o.binding,
		Decision: o.decision, Reason: o.reason, From: from, To: to, Limit: o.limit}
	return o.filter.Validate()
}

func (o *trailOpts) resolveFingerprint(dir string, stdin io.Reader) error {
	switch {
	case o.credStdin && o.fingerprint != "":
		return errors.New("give --fingerprint or --credential-stdin, not both")
	case o.credStdin:
		fp, err := localFingerprint(dir, stdin)
		if err != nil {
			return err
		}
		o.fingerprint = fp
	case o.fingerprint == "" || fingerprint.Valid(o.fingerprint):
	case fingerprintPrefix(o.fingerprint):
		o.prefix = true
	default:
		// Never echoed: it may be a raw credential pasted by mistake.
		return fmt.Errorf("--fingerprint is not a fingerprint (fp1:...) or a prefix of one (fp1: and at least %d characters); to look up a raw credential, use --credential-stdin", minPrefix)
	}
	return nil
}

// check refuses flags that do not go together.
func (o *trailOpts) check(sub string) error {
	switch {
	case sub == "timeline" && o.fingerprint == "":
		return errors.New("name the credential: --fingerprint FP or --credential-stdin")
	case sub == "blast-radius" && (o.fingerprint == "") == (o.workload == ""):
		return errors.New("name a credential (--fingerprint FP or --credential-stdin) or a workload (--workload ID)")
	case o.decision != "" && o.decision != "allow" && o.decision != "step_up" && o.decision != "deny":
		return fmt.Errorf("--decision %q: want allow, step_up or deny", o.decision)
	case o.limit < 0:
		return fmt.Errorf("--limit %d: must not be negative", o.limit)
	case sub == "report" && o.format != "markdown" && o.format != "html":
		return fmt.Errorf("--format %q: want markdown or html", o.format)
	case sub == "report" && o.json && o.format != "markdown":
		return errors.New("--json prints the report as JSON: give it or --format, not both")
	case sub == "export":
		return o.checkExport()
	}
	return nil
}

func (o *trailOpts) checkExport() error {
	if o.json {
		if o.format != "jsonl" {
			return errors.New("--json is --format jsonl: give it or --format, not both")
		}
	}
	if o.format != "jsonl" && o.format != "ocsf" {
		return fmt.Errorf("--format %q: want jsonl or ocsf", o.format)
	}
	if _, err := ocsfClasses(o.ocsfClasses); err != nil {
		return err
	}
	if !o.follow {
		if o.position != "" {
			return errors.New("--position goes with --follow")
		}
		return nil
	}
	switch {
	case o.until != "":
		return errors.New("--until does not go with --follow, which keeps writing new records")
	case o.prefix:
		return errors.New("with --follow, give the whole fingerprint (fp1: and 43 characters) or --credential-stdin")
	case o.poll < 10*time.Millisecond || o.poll > time.Hour:
		return fmt.Errorf("--poll %s: want 10ms to 1h", o.poll)
	}
	return nil
}

// window reads --since and --until.
func window(since, until string, now time.Time) (from, to time.Time, err error) {
	if from, err = parseWhen("--since", since, now); err != nil {
		return from, to, err
	}
	if to, err = parseWhen("--until", until, now); err != nil {
		return from, to, err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, fmt.Errorf("--since %s is not before --until %s", since, until)
	}
	return from, to, nil
}

// parseWhen reads an RFC 3339 time or a duration before now (Go's units,
// and d for days of 24 hours); "" is the zero time.
func parseWhen(flagName, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2026-03-01T12:00:00Z) or a duration before now (90m, 24h, 7d)", flagName, s)
	}
	return now.Add(-d), nil
}

// parseAgo reads a non-negative duration: Go's (1h30m) or whole days (7d).
func parseAgo(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int64
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days || n < 0 || n > 100*365 {
			return 0, errors.New("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
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
