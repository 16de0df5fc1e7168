package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/pgdb"
)

// Progress bar bounds: logs smaller than progressMinRecords verify without
// one, and the bar is redrawn at most every progressInterval.
const (
	progressMinRecords = 100_000
	progressInterval   = 100 * time.Millisecond
	progressWidth      = 30
)

const trailVerifyUsage = `usage: provost trail verify [--config provost.yaml] [--data-dir DIR] [--key VERIFIER-KEY]
Re-reads the evidence log in <data_dir>/evidence (read-only; a running server carries on),
re-hashes every record, rebuilds the tree and checks it against every checkpoint the log
signed. Exits 0 when the log verifies, 1 naming the first problem.
When the configuration keeps the evidence log in PostgreSQL (storage.postgres.evidence_key_file),
it verifies that shared log, read-only, with the verifier key given by --key, else the public
half of evidence_key_file when readable, else the key pinned in the database.
`

// trailVerify checks the whole evidence log of a data directory.
func trailVerify(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("provost trail verify", flag.ContinueOnError)
	flags.SetOutput(stderr)
	cfgFile := flags.String("config", defaultConfigFile, "configuration `file` naming the data directory")
	dataDir := flags.String("data-dir", "", "data `directory` (overrides data_dir in the configuration)")
	vkey := flags.String("key", "", "the shared log's verifier `key` (name+hash+key), for a log in PostgreSQL")
	flags.Usage = func() { fmt.Fprint(stderr, trailVerifyUsage); flags.PrintDefaults() }
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	if flags.NArg() != 0 {
		flags.Usage()
		return exitUsage
	}
	dir := *dataDir
	if dir == "" {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			fmt.Fprintln(stderr, "provost trail verify:", err)
			return exitUsage
		}
		if cfg.Storage.SharedEvidence() {
			return trailVerifyShared(ctx, cfg, *vkey, stdout, stderr)
		}
		dir = cfg.DataDirPath()
	}
	logDir := app.LayoutOf(dir).Evidence
	if _, err := os.Stat(filepath.Join(logDir, "evidence.db")); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "provost trail verify: no evidence log in %s\n", logDir)
		return exitFail
	}
	l, err := evidencelog.Open(ctx, logDir, evidencelog.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "provost trail verify: %s: NOT VERIFIED: %v\n", logDir, err)
		return exitFail
	}
	defer l.Close()
	bar := newProgressBar(stderr, time.Now)
	if err := l.Verify(ctx, bar.update); err != nil {
		bar.done()
		fmt.Fprintf(stderr, "provost trail verify: %s: NOT VERIFIED: %v\n", logDir, err)
		return exitFail
	}
	bar.done()
	fmt.Fprintf(stdout, "verified %d records, %s\n", bar.total, checkpointSummary(ctx, l))
	return exitOK
}

// trailVerifyShared verifies the evidence log every replica of cfg shares in
// PostgreSQL, read-only and without its private key.
func trailVerifyShared(ctx context.Context, cfg *config.Config, vkey string, stdout, stderr io.Writer) int {
	c := cfg.Storage.Postgres
	timeout := c.ConnectTimeout.D()
	if timeout == 0 {
		timeout = config.DefaultPostgresConnectTimeout
	}
	pool, err := pgdb.Open(ctx, pgdb.Config{DSN: c.DSN, MaxConns: 2, ConnectTimeout: timeout})
	if err != nil {
		fmt.Fprintln(stderr, "provost trail verify: storage.postgres:", err)
		return exitFail
	}
	defer pool.Close()
	opts := evidencelog.PostgresOptions{ReadOnly: true, VerifierKey: vkey}
	if vkey == "" {
		keyFile := cfg.Resolve(c.EvidenceKeyFile)
		if f, err := os.Open(keyFile); err == nil {
			f.Close()
			opts.KeyFile = keyFile
		} else {
			fmt.Fprintf(stderr, "provost trail verify: %s unreadable (%v): checking signatures with the verifier key pinned in the database; give --key to check it against a key of your own\n",
				keyFile, err)
		}
	}
	const where = "evidence log in PostgreSQL"
	l, err := evidencelog.OpenPostgres(ctx, pool, opts)
	if err != nil {
		fmt.Fprintf(stderr, "provost trail verify: %s: NOT VERIFIED: %v\n", where, err)
		return exitFail
	}
	defer l.Close()
	bar := newProgressBar(stderr, time.Now)
	if err := l.Verify(ctx, bar.update); err != nil {
		bar.done()
		fmt.Fprintf(stderr, "provost trail verify: %s: NOT VERIFIED: %v\n", where, err)
		return exitFail
	}
	bar.done()
	fmt.Fprintf(stdout, "verified %d records, %s\n", bar.total, checkpointSummary(ctx, l))
	return exitOK
}

// checkpointSummary names the latest checkpoint, which Verify just checked
// against the records.
func checkpointSummary(ctx context.Context, l evidencelog.Reader) string {
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		return "no checkpoint signed yet (log " + l.Name() + ")"
	}
	c, err := evidencelog.OpenCheckpoint(signed, l.VerifierKey())
	if err != nil {
		return "checkpoint unreadable: " + err.Error()
	}
	return fmt.Sprintf("tree root %s at size %d, checkpoint signed by %s", c.Root, c.Size, l.VerifierKey())
}

// progressBar draws Verify's progress on a terminal, for large logs only.
type progressBar struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	last  time.Time
	shown bool
	total int64 // the records Verify saw
}

func newProgressBar(w io.Writer, now func() time.Time) *progressBar {
	return &progressBar{w: w, tty: isTerminal(w), now: now}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progressBar) update(done, total int64) {
	p.total = total
	if !p.tty || total < progressMinRecords {
		return
	}
	t := p.now()
	if p.shown && t.Sub(p.last) < progressInterval && done < total {
		return
	}
	p.last, p.shown = t, true
	fill := int(int64(progressWidth) * done / total)
	fmt.Fprintf(p.w, "\rverifying [%s%s] %3d%% %d/%d records", strings.Repeat("=", fill), strings.Repeat(" ", progressWidth-fill),
		100*done/total, done, total)
}

// done ends the bar's line.
func (p *progressBar) done() {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}
