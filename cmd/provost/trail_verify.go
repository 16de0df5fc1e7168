package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/pgdb"
	"github.com/provost-dev/provost/internal/trail"
)

// verifyResult is what trail verify --json prints.
type verifyResult struct {
	Verified    bool   `json:"verified"`
	Log         string `json:"log"` // the directory, or "postgres"
	Records     int64  `json:"records"`
	Problem     string `json:"problem,omitempty"`
	VerifierKey string `json:"verifier_key,omitempty"`
	// Checkpoint is the latest, which the records were checked against.
	Checkpoint *verifyCheckpoint `json:"checkpoint,omitempty"`
}

type verifyCheckpoint struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
}

// trailVerifyOptions are provost trail verify's flags.
type trailVerifyOptions struct {
	config, dataDir, key string
	json                 bool
}

func trailVerifyFlags() (*flag.FlagSet, *trailVerifyOptions) {
	fs := newFlagSet("trail verify")
	o := &trailVerifyOptions{}
	configFlag(fs, &o.config, " naming the data directory")
	dataDirFlag(fs, &o.dataDir)
	fs.StringVar(&o.key, "key", "", "the shared log's verifier `key` (name+hash+key), for a log in PostgreSQL")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return fs, o
}

// trailVerify checks the whole evidence log of a data directory.
func trailVerify(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return defaultTrailEnv().verify(ctx, args, stdout, stderr)
}

func (e trailEnv) verify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags, o := trailVerifyFlags()
	if code := parseFlags(flags, args, stdout, stderr); code >= 0 {
		return code
	}
	out := verifyOutput{env: e, json: o.json, stdout: stdout, stderr: stderr}
	dir := o.dataDir
	if dir == "" {
		cfg, err := config.Load(o.config)
		if err != nil {
			fmt.Fprintln(stderr, "provost trail verify:", err)
			return exitUsage
		}
		if cfg.Storage.SharedEvidence() {
			return out.shared(ctx, cfg, o.key)
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
		return out.failed(verifyResult{Log: logDir}, err)
	}
	defer l.Close()
	return out.run(ctx, l, logDir)
}

// verifyOutput runs a verification and reports it as text or JSON.
type verifyOutput struct {
	env            trailEnv
	json           bool
	stdout, stderr io.Writer
}

// verifiable is a log Verify checks: a Log or a Postgres log.
type verifiable interface {
	evidencelog.Reader
	Verify(ctx context.Context, progress func(done, total int64)) error
}

func (v verifyOutput) run(ctx context.Context, l verifiable, where string) int {
	bar := v.env.progress(v.stderr, "verifying")
	err := l.Verify(ctx, bar.update)
	bar.done()
	res := verifyResult{Log: where, Records: bar.total, VerifierKey: l.VerifierKey()}
	if err != nil {
		return v.failed(res, err)
	}
	res.Verified = true
	c, summary := checkpointSummary(ctx, l)
	if c != nil {
		res.Checkpoint = &verifyCheckpoint{Size: c.Size, Root: c.Root.String()}
	}
	if v.json {
		return v.print(res, exitOK)
	}
	fmt.Fprintf(v.stdout, "verified %s, %s\n", trail.Plural(bar.total, "record", "records"), summary)
	return exitOK
}

func (v verifyOutput) failed(res verifyResult, err error) int {
	fmt.Fprintf(v.stderr, "provost trail verify: %s: NOT VERIFIED: %v\n", res.Log, err)
	if v.json {
		res.Problem = err.Error()
		return v.print(res, exitFail)
	}
	return exitFail
}

func (v verifyOutput) print(res verifyResult, code int) int {
	enc := json.NewEncoder(v.stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(v.stderr, "provost trail verify:", err)
		return exitFail
	}
	return code
}

// shared verifies the evidence log every replica of cfg shares in
// PostgreSQL, read-only and without its private key.
func (v verifyOutput) shared(ctx context.Context, cfg *config.Config, vkey string) int {
	c := cfg.Storage.Postgres
	timeout := c.ConnectTimeout.D()
	if timeout == 0 {
		timeout = config.DefaultPostgresConnectTimeout
	}
	pool, err := pgdb.Open(ctx, pgdb.Config{DSN: c.DSN, MaxConns: 2, ConnectTimeout: timeout})
	if err != nil {
		fmt.Fprintln(v.stderr, "provost trail verify: storage.postgres:", err)
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
			fmt.Fprintf(v.stderr, "provost trail verify: %s unreadable (%v): checking signatures with the verifier key pinned in the database; give --key to check it against a key of your own\n",
				keyFile, err)
		}
	}
	const where = "evidence log in PostgreSQL"
	l, err := evidencelog.OpenPostgres(ctx, pool, opts)
	if err != nil {
		return v.failed(verifyResult{Log: where}, err)
	}
	defer l.Close()
	return v.run(ctx, l, where)
}

// checkpointSummary names the latest checkpoint, which Verify just checked
// against the records; the checkpoint is nil when there is none.
func checkpointSummary(ctx context.Context, l evidencelog.Reader) (*evidencelog.Checkpoint, string) {
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, "no checkpoint signed yet (log " + l.Name() + ")"
	}
	c, err := evidencelog.OpenCheckpoint(signed, l.VerifierKey())
	if err != nil {
		return nil, "checkpoint unreadable: " + err.Error()
	}
	return &c, fmt.Sprintf("tree root %s at size %d, checkpoint signed by %s", c.Root, c.Size, l.VerifierKey())
}
