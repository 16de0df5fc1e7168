package evidencelog_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/evidencelog/evidencetest"
	"github.com/provost-dev/provost/internal/pgdb"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
)

var _ evidencetest.Log = (*evidencelog.Postgres)(nil)

// serverLog is what internal/server's /v1/log endpoints call on their
// *evidencelog.Log today: Postgres answers all of it, so the server can take
// either once its Deps.Log is this interface.
type serverLog interface {
	Checkpoint(ctx context.Context) ([]byte, error)
	VerifierKey() string
	Size() int64
	Entries(ctx context.Context, start, end int64) ([][]byte, error)
	InclusionProof(ctx context.Context, index, size int64) ([]tlog.Hash, error)
	ConsistencyProof(ctx context.Context, old, new int64) ([]tlog.Hash, error)
	Receipt(ctx context.Context, index int64) (evidencelog.Receipt, error)
}

var (
	_ serverLog = (*evidencelog.Log)(nil)
	_ serverLog = (*evidencelog.Postgres)(nil)
)

var pgCtx = context.Background()

const pgLogName = "provost.evidence/pg-test"

// pgKey creates (once) the log's key file in dir and returns its path.
func pgKey(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "log.key")
	if _, err := evidencelog.CreateKeyFile(path, pgLogName); err != nil {
		t.Fatal(err)
	}
	return path
}

// openPG opens a replica: a log on a pool of its own over cfg's schema,
// both closed when the test ends.
func openPG(t testing.TB, cfg pgdb.Config, opts evidencelog.PostgresOptions) *evidencelog.Postgres {
	t.Helper()
	pool := pgdbtest.Open(t, cfg)
	l, err := evidencelog.OpenPostgres(pgCtx, pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestPostgresConformance runs the conformance suite: each test's directory
// gets its own fresh schema and key file, and opening the directory again
// opens a new replica, on a new pool, over that schema.
func TestPostgresConformance(t *testing.T) {
	pgdbtest.Require(t)
	var mu sync.Mutex
	cfgs := map[string]pgdb.Config{}
	evidencetest.Run(t, func(t *testing.T, dir string) evidencetest.Log {
		mu.Lock()
		cfg, ok := cfgs[dir]
		mu.Unlock()
		if !ok {
			cfg = pgdbtest.FreshSchema(t)
			mu.Lock()
			cfgs[dir] = cfg
			mu.Unlock()
		}
		l := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: pgKey(t, dir)})
		if !l.Durable() {
			t.Fatal("a Postgres log is always durable")
		}
		return l
	})
}

// pgRefRoot is the RFC 6962 root of leaves, from transparency-dev/merkle.
func pgRefRoot(t testing.TB, leaves []tlog.Hash) tlog.Hash {
	t.Helper()
	if len(leaves) == 0 {
		return tlog.Hash(rfc6962.DefaultHasher.EmptyRoot())
	}
	r := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for _, h := range leaves {
		if err := r.Append(h[:], nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Hash(root)
}

func pgLeaf(rec []byte) tlog.Hash { return sha256.Sum256(append([]byte{0}, rec...)) }

func pgBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// pgCheckpoint returns l's checkpoint, verified with key (another
// replica's verifier key).
func pgCheckpoint(t testing.TB, l *evidencelog.Postgres, key string) evidencelog.Checkpoint {
	t.Helper()
	signed, err := l.Checkpoint(pgCtx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := evidencelog.OpenCheckpoint(signed, key)
	if err != nil {
		t.Fatalf("checkpoint does not verify with %s: %v\n%s", key, err, signed)
	}
	return c
}

// pgReadAll reads every record of the log through l.
func pgReadAll(t testing.TB, l *evidencelog.Postgres, n int64) [][]byte {
	t.Helper()
	var out [][]byte
	for int64(len(out)) < n {
		recs, err := l.Entries(pgCtx, int64(len(out)), n)
		if err != nil || len(recs) == 0 {
			t.Fatalf("Entries(%d, %d) = %d records, %v", len(out), n, len(recs), err)
		}
		out = append(out, recs...)
	}
	return out
}

// pgCheckLog checks the whole log through the replicas: it holds every
// acknowledged record at its index, and nothing else than what was tried;
// a checkpoint signed by the first replica, verified with the key of the
// last, has the RFC 6962 root of the records; every record's inclusion
// proof, from the replicas in turn, verifies with transparency-dev/merkle.
// It returns the checkpoint.
func pgCheckLog(t testing.TB, acked map[int64]string, tried map[string]bool, replicas ...*evidencelog.Postgres) evidencelog.Checkpoint {
	t.Helper()
	a, z := replicas[0], replicas[len(replicas)-1]
	c := pgCheckpoint(t, a, z.VerifierKey())
	if n := z.Size(); n != c.Size {
		t.Fatalf("checkpoint of size %d, log size %d", c.Size, n)
	}
	all := pgReadAll(t, z, c.Size)
	leaves := make([]tlog.Hash, len(all))
	seen := map[string]bool{}
	for i, rec := range all {
		leaves[i] = pgLeaf(rec)
		if tried != nil && !tried[string(rec)] {
			t.Fatalf("record %d, %q, was never appended", i, rec)
		}
		if seen[string(rec)] {
			t.Fatalf("record %d, %q, is in the log twice", i, rec)
		}
		seen[string(rec)] = true
	}
	for idx, rec := range acked {
		if idx >= int64(len(all)) || string(all[idx]) != rec {
			t.Fatalf("acknowledged record %d (%q) is not in the log of %d records at its index", idx, rec, len(all))
		}
	}
	if want := pgRefRoot(t, leaves); c.Root != want {
		t.Fatalf("checkpoint root %s, the RFC 6962 root of the records is %s", c.Root, want)
	}
	for i := range int64(len(all)) {
		r := replicas[int(i)%len(replicas)]
		p, err := r.InclusionProof(pgCtx, i, c.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(c.Size), leaves[i][:], pgBytes(p), c.Root[:]); err != nil {
			t.Fatalf("inclusion of record %d in the tree of size %d: %v", i, c.Size, err)
		}
	}
	return c
}

// TestPostgresReplicas: two replicas (two logs over two pools on one
// schema) appending concurrently, each signing checkpoints meanwhile,
// make one dense log; every checkpoint either signs verifies with the
// other's key and is consistent with the one before, whoever signed it; a
// receipt made by one verifies with the other's key.
func TestPostgresReplicas(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	key := pgKey(t, t.TempDir())
	a := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: key})
	b := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: key})
	if a.VerifierKey() != b.VerifierKey() {
		t.Fatalf("replicas have verifier keys %s and %s", a.VerifierKey(), b.VerifierKey())
	}
	replicas := []*evidencelog.Postgres{a, b}

	const writers, each = 8, 30 // per replica
	var mu sync.Mutex
	acked := map[int64]string{}
	tried := map[string]bool{}
	var wg sync.WaitGroup
	for r, l := range replicas {
		for w := range writers {
			wg.Go(func() {
				prev := int64(-1)
				for i := range each {
					rec := fmt.Sprintf("replica %d writer %d record %d", r, w, i)
					mu.Lock()
					tried[rec] = true
					mu.Unlock()
					e, err := l.Append(pgCtx, []byte(rec))
					if err != nil {
						t.Errorf("replica %d: Append: %v", r, err)
						return
					}
					if e.LeafHash != pgLeaf([]byte(rec)) || e.Index <= prev {
						t.Errorf("replica %d writer %d: entry %+v after index %d", r, w, e, prev)
						return
					}
					prev = e.Index
					mu.Lock()
					if old, dup := acked[e.Index]; dup {
						t.Errorf("index %d given to %q and %q", e.Index, old, rec)
					}
					acked[e.Index] = rec
					mu.Unlock()
				}
			})
		}
	}
	// Checkpoints from both replicas in turn while they append.
	stop := make(chan struct{})
	var checkpoints atomic.Int64
	var readers sync.WaitGroup
	readers.Go(func() {
		var prev evidencelog.Checkpoint
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			signer, other := replicas[i%2], replicas[1-i%2]
			signed, err := signer.Checkpoint(pgCtx)
			if err != nil {
				t.Errorf("Checkpoint: %v", err)
				return
			}
			c, err := evidencelog.OpenCheckpoint(signed, other.VerifierKey())
			if err != nil {
				t.Errorf("a checkpoint of one replica does not verify with the other's key: %v", err)
				return
			}
			if c.Size < prev.Size {
				t.Errorf("checkpoint size went back from %d to %d", prev.Size, c.Size)
				return
			}
			if prev.Size > 0 {
				p, err := other.ConsistencyProof(pgCtx, prev.Size, c.Size)
				if err != nil {
					t.Errorf("ConsistencyProof: %v", err)
					return
				}
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(prev.Size), uint64(c.Size), pgBytes(p), prev.Root[:], c.Root[:]); err != nil {
					t.Errorf("checkpoints of size %d and %d are not consistent: %v", prev.Size, c.Size, err)
					return
				}
			}
			prev = c
			checkpoints.Add(1)
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	if t.Failed() {
		return
	}
	const n = 2 * writers * each
	if len(acked) != n {
		t.Fatalf("%d appends acknowledged, want %d", len(acked), n)
	}
	c := pgCheckLog(t, acked, tried, a, b)
	if c.Size != n {
		t.Fatalf("checkpoint size %d, want %d: indexes are not dense", c.Size, n)
	}
	st := a.Stats()
	t.Logf("%d records by 2 replicas, %d checkpoints taken meanwhile; replica a: %d commits", n, checkpoints.Load(), st.Commits)

	// The same tree signed by either replica is the same checkpoint.
	ca, err := a.Checkpoint(pgCtx)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Checkpoint(pgCtx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, cb) {
		t.Fatalf("the replicas' checkpoints of one tree differ:\n%s\n%s", ca, cb)
	}

	// Receipts from either replica, for records either appended, verify
	// with the other's key.
	eb, err := b.Append(pgCtx, []byte("appended by b"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		from, key *evidencelog.Postgres
		index     int64
	}{
		{"a's receipt of b's newest record", a, b, eb.Index},
		{"b's receipt of b's newest record", b, a, eb.Index},
		{"a's receipt of record 0", a, b, 0},
		{"b's receipt of record 7", b, a, 7},
	} {
		r, err := tc.from.Receipt(pgCtx, tc.index)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		js, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := evidencelog.ParseReceipt(js)
		if err != nil {
			t.Fatal(err)
		}
		if err := evidencelog.VerifyReceipt(parsed, tc.key.VerifierKey()); err != nil {
			t.Fatalf("%s does not verify with the other replica's key: %v", tc.name, err)
		}
		if err := tc.key.VerifyCheckpoint(pgCtx, parsed.Checkpoint); err != nil {
			t.Fatalf("%s: the other replica does not find its checkpoint in the log: %v", tc.name, err)
		}
		if tc.index == eb.Index && string(parsed.Record) != "appended by b" {
			t.Fatalf("%s holds %q", tc.name, parsed.Record)
		}
	}

	// A replica started later finds the same log.
	c2 := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: key})
	if n := c2.Size(); n != eb.Index+1 {
		t.Fatalf("a new replica sees %d records, want %d", n, eb.Index+1)
	}
}

const (
	pgChildDSN = "EVIDENCELOG_PG_CHILD_DSN"
	pgChildKey = "EVIDENCELOG_PG_CHILD_KEY"
	pgChildRun = "EVIDENCELOG_PG_CHILD_RUN"
)

// TestPostgresReplicaDeath kills (SIGKILL) a replica process that appends
// from several goroutines and signs checkpoints, while a replica in this
// process appends too, at a different moment in each run. After each kill
// the log must hold every record either replica acknowledged, at its
// index, densely, and verify; the surviving replica is not held up by the
// dead one (its transaction dies with its connection) and a replica opened
// afterwards accepts the database.
func TestPostgresReplicaDeath(t *testing.T) {
	if dsn := os.Getenv(pgChildDSN); dsn != "" {
		pgChild(dsn, os.Getenv(pgChildKey), os.Getenv(pgChildRun))
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	cfg := pgdbtest.FreshSchema(t)
	key := pgKey(t, t.TempDir())
	survivor := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: key})
	acked := map[int64]string{}
	tried := map[string]bool{}
	for run := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresReplicaDeath$")
		cmd.Env = append(os.Environ(), pgChildDSN+"="+cfg.DSN, pgChildKey+"="+key, pgChildRun+"="+strconv.Itoa(run))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// childErr stops the child and returns what it wrote on stderr.
		childErr := func() string {
			cmd.Process.Kill()
			cmd.Wait()
			return stderr.String()
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()

		// This replica appends until told to stop, also after the kill.
		var (
			mu    sync.Mutex
			local = map[int64]string{}
			ltry  []string
			stop  = make(chan struct{})
			wg    sync.WaitGroup
		)
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					rec := fmt.Sprintf("run %d survivor %d record %d", run, w, i)
					mu.Lock()
					ltry = append(ltry, rec)
					mu.Unlock()
					e, err := survivor.Append(pgCtx, []byte(rec))
					if err != nil {
						t.Errorf("the surviving replica's Append: %v", err)
						return
					}
					mu.Lock()
					local[e.Index] = rec
					mu.Unlock()
				}
			})
		}

		// fatal stops this replica's writers and the child, then fails.
		fatal := func(format string, args ...any) {
			t.Helper()
			close(stop)
			wg.Wait()
			t.Fatalf(format, args...)
		}
		n, target := 0, 40+53*run
		deadline := time.After(60 * time.Second)
		for n < target {
			select {
			case line, ok := <-lines:
				if !ok {
					fatal("run %d: the child exited: %s", run, childErr())
				}
				pgAck(t, line, acked, tried)
				n++
			case <-deadline:
				fatal("run %d: only %d appends answered: %s", run, n, childErr())
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for line := range lines {
			pgAck(t, line, acked, tried)
		}
		cmd.Wait()
		// The survivor goes on after the kill: the dead replica's lock is gone.
		after := survivor.Stats().Commits
		for deadline := time.Now().Add(30 * time.Second); survivor.Stats().Commits < after+5; {
			if time.Now().After(deadline) || t.Failed() {
				fatal("run %d: the surviving replica committed %d transactions in 30s after the kill",
					run, survivor.Stats().Commits-after)
			}
			time.Sleep(time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if t.Failed() {
			return
		}
		for idx, rec := range local {
			if old, dup := acked[idx]; dup {
				t.Fatalf("index %d given to %q and %q", idx, old, rec)
			}
			acked[idx] = rec
		}
		for _, rec := range ltry {
			tried[rec] = true
		}
		// Each child writer's record in flight when it was killed (the one
		// after its last answered) may or may not be in the log.
		for g := range 8 {
			k := 0
			for tried[fmt.Sprintf("run %d writer %d record %d", run, g, k)] {
				k++
			}
			tried[fmt.Sprintf("run %d writer %d record %d", run, g, k)] = true
		}

		fresh := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: key})
		c := pgCheckLog(t, acked, tried, survivor, fresh)
		t.Logf("run %d: %d records acknowledged so far by both replicas, log has %d", run, len(acked), c.Size)
		fresh.Close()
	}
}

func pgAck(t *testing.T, line string, acked map[int64]string, tried map[string]bool) {
	t.Helper()
	idx, rec, ok := strings.Cut(line, "\t")
	i, err := strconv.ParseInt(idx, 10, 64)
	if !ok || err != nil {
		t.Fatalf("bad line from the child: %q", line)
	}
	if prev, dup := acked[i]; dup && prev != rec {
		t.Fatalf("index %d answered for %q and %q", i, prev, rec)
	}
	acked[i] = rec
	tried[rec] = true
}

// pgChild is the replica that is killed: it appends from 8 goroutines
// until then, printing "index\trecord" for each answered Append, and signs
// checkpoints meanwhile.
func pgChild(dsn, key, run string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool, err := pgdb.Open(pgCtx, pgdb.Config{DSN: dsn, MaxConns: 4})
	if err != nil {
		fail(err)
	}
	l, err := evidencelog.OpenPostgres(pgCtx, pool, evidencelog.PostgresOptions{KeyFile: key})
	if err != nil {
		fail(err)
	}
	var mu sync.Mutex
	for g := range 8 {
		go func() {
			for k := 0; ; k++ {
				rec := fmt.Sprintf("run %s writer %d record %d", run, g, k)
				e, err := l.Append(pgCtx, []byte(rec))
				if err != nil {
					fail(err)
				}
				mu.Lock()
				fmt.Printf("%d\t%s\n", e.Index, rec)
				mu.Unlock()
			}
		}()
	}
	go func() {
		for {
			if _, err := l.Checkpoint(pgCtx); err != nil {
				fail(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(60 * time.Second) // the parent kills it long before
	os.Exit(3)
}

// TestPostgresConnectionLoss: when the server drops a replica's
// connections (a restart, a failover, an administrator), the replica does
// not stay failed: a transaction that failed before COMMIT is tried again
// on a new connection, and the log stays dense and verifiable.
func TestPostgresConnectionLoss(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	app := "provost-pg-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	replica := cfg
	if strings.Contains(replica.DSN, "://") {
		u, err := url.Parse(replica.DSN)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		replica.DSN = u.String()
	} else {
		replica.DSN += " application_name=" + app
	}
	key := pgKey(t, t.TempDir())
	l := openPG(t, replica, evidencelog.PostgresOptions{KeyFile: key})
	admin := pgdbtest.Open(t, cfg)
	acked := map[int64]string{}
	var failed int
	for i := range 60 {
		if i%10 == 5 {
			var killed int
			if err := admin.QueryRow(pgCtx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = $1`, app).Scan(&killed); err != nil {
				t.Fatal(err)
			}
			if killed == 0 {
				t.Fatal("no connection of the replica to terminate")
			}
		}
		rec := "record " + strconv.Itoa(i)
		e, err := l.Append(pgCtx, []byte(rec))
		if err != nil {
			if !errors.Is(err, evidencelog.ErrWriteFailed) {
				t.Fatalf("Append after the connections were dropped: %v, want ErrWriteFailed", err)
			}
			failed++
			continue
		}
		acked[e.Index] = rec
	}
	st := l.Stats()
	t.Logf("%d of 60 appends failed; %d transactions tried again", failed, st.Retries)
	if st.Retries == 0 {
		t.Fatal("no transaction was tried again: the connections were not dropped under the writer")
	}
	if len(acked) < 50 {
		t.Fatalf("only %d of 60 appends succeeded across 6 dropped connections", len(acked))
	}
	c := pgCheckLog(t, acked, nil, l)
	if c.Size < int64(len(acked)) {
		t.Fatalf("checkpoint of size %d, %d records acknowledged", c.Size, len(acked))
	}
}

// TestPostgresKey: the log's one key is pinned by the first replica, a
// replica with another key (or none, or an unprotected key file) is
// refused, and no private key reaches the database.
func TestPostgresKey(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	dir := t.TempDir()
	key := pgKey(t, dir)
	l := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: key, Name: pgLogName})
	if _, err := l.Append(pgCtx, []byte("r")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(pgCtx); err != nil {
		t.Fatal(err)
	}
	pool := pgdbtest.Open(t, cfg)
	open := func(opts evidencelog.PostgresOptions) error {
		l, err := evidencelog.OpenPostgres(pgCtx, pool, opts)
		if err == nil {
			l.Close()
		}
		return err
	}

	other := filepath.Join(dir, "other.key")
	if _, err := evidencelog.CreateKeyFile(other, pgLogName); err != nil {
		t.Fatal(err)
	}
	if err := open(evidencelog.PostgresOptions{KeyFile: other}); !errors.Is(err, evidencelog.ErrUnknownKey) {
		t.Fatalf("a replica with another key: %v, want ErrUnknownKey", err)
	}
	if err := open(evidencelog.PostgresOptions{}); err == nil {
		t.Fatal("a replica without a key was opened")
	}
	if err := open(evidencelog.PostgresOptions{KeyFile: key, Name: "provost.evidence/another"}); err == nil {
		t.Fatal("a replica whose name is not its key's was opened")
	}
	if err := open(evidencelog.PostgresOptions{KeyFile: filepath.Join(dir, "missing.key")}); err == nil {
		t.Fatal("a replica with a missing key file was opened")
	}
	if _, err := evidencelog.CreateKeyFile(key, "provost.evidence/another"); err == nil {
		t.Fatal("CreateKeyFile over the key of another log succeeded")
	}
	loose := filepath.Join(dir, "loose.key")
	raw, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(loose, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := open(evidencelog.PostgresOptions{KeyFile: loose}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key file others can read: %v, want a refusal", err)
	}
	if strings.Contains(fmt.Sprint(open(evidencelog.PostgresOptions{KeyFile: loose})), strings.TrimSpace(string(raw))) {
		t.Fatal("an error repeats the private key")
	}

	// The same key as a note.Signer, with and without its verifier key.
	skey := strings.TrimSpace(string(raw))
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if err := open(evidencelog.PostgresOptions{Signer: signer, VerifierKey: l.VerifierKey()}); err != nil {
		t.Fatalf("the log's key as a Signer: %v", err)
	}
	_, otherV, err := note.GenerateKey(nil, pgLogName)
	if err != nil {
		t.Fatal(err)
	}
	if err := open(evidencelog.PostgresOptions{Signer: signer, VerifierKey: otherV}); err == nil {
		t.Fatal("a Signer with a verifier key that is not its own was accepted")
	}
	if err := open(evidencelog.PostgresOptions{Signer: signer, KeyFile: key}); err == nil {
		t.Fatal("both KeyFile and Signer were accepted")
	}

	// Nothing in the database holds the private key.
	// A note signer key is PRIVATE+KEY+name+hash+key: the key is the fifth
	// field, whose base64 may itself hold '+'.
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || len(parts[4]) < 40 {
		t.Fatalf("unexpected signer key shape: %d fields", len(parts))
	}
	seed := parts[4]
	var found int
	err = pool.QueryRow(pgCtx, `SELECT
		(SELECT count(*) FROM evidence_meta WHERE value LIKE '%' || $1 || '%' OR value LIKE 'PRIVATE+KEY%') +
		(SELECT count(*) FROM evidence_checkpoint WHERE position(convert_to($1, 'UTF8') in note) > 0) +
		(SELECT count(*) FROM evidence_leaf WHERE position(convert_to($1, 'UTF8') in record) > 0)`, seed).Scan(&found)
	if err != nil {
		t.Fatal(err)
	}
	if found != 0 {
		t.Fatal("the private key is in the database")
	}
}

// TestPostgresTamper: a replica refuses to sign, and a new replica to open,
// a database that lost records a checkpoint covers or whose tree hashes no
// longer give the tree head's root.
func TestPostgresTamper(t *testing.T) {
	setup := func(t *testing.T) (*evidencelog.Postgres, *pgxpool.Pool, pgdb.Config, string) {
		cfg := pgdbtest.FreshSchema(t)
		key := pgKey(t, t.TempDir())
		l := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: key})
		for i := range 10 {
			if _, err := l.Append(pgCtx, []byte("record "+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Checkpoint(pgCtx); err != nil {
			t.Fatal(err)
		}
		return l, pgdbtest.Open(t, cfg), cfg, key
	}
	exec := func(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(pgCtx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("rolled back", func(t *testing.T) {
		l, pool, _, _ := setup(t)
		// An older copy: the last five records and the checkpoints gone.
		exec(t, pool, `DELETE FROM evidence_leaf WHERE idx >= 5`)
		exec(t, pool, `DELETE FROM evidence_checkpoint`)
		exec(t, pool, `UPDATE evidence_head SET size = 5`)
		if _, err := l.Checkpoint(pgCtx); !errors.Is(err, evidencelog.ErrRolledBack) {
			t.Fatalf("Checkpoint of a rolled back log by a replica that saw it larger: %v, want ErrRolledBack", err)
		}
	})
	t.Run("head behind checkpoint", func(t *testing.T) {
		_, pool, cfg, key := setup(t)
		exec(t, pool, `DELETE FROM evidence_leaf WHERE idx >= 5`)
		exec(t, pool, `UPDATE evidence_head SET size = 5`)
		_, err := evidencelog.OpenPostgres(pgCtx, pgdbtest.Open(t, cfg), evidencelog.PostgresOptions{KeyFile: key})
		if !errors.Is(err, evidencelog.ErrRolledBack) {
			t.Fatalf("open of a log smaller than its checkpoint: %v, want ErrRolledBack", err)
		}
	})
	t.Run("tree hash changed", func(t *testing.T) {
		l, pool, cfg, key := setup(t)
		// The hash of records 8 and 9, read for the root of the tree of 10.
		exec(t, pool, `UPDATE evidence_hash SET hash = decode(repeat('ab', 32), 'hex') WHERE id = $1`, tlog.StoredHashIndex(1, 4))
		if _, err := l.Append(pgCtx, []byte("one more")); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Checkpoint(pgCtx); !errors.Is(err, evidencelog.ErrTreeCorrupt) && !errors.Is(err, evidencelog.ErrInconsistent) {
			t.Fatalf("Checkpoint over a changed tree hash: %v, want ErrTreeCorrupt or ErrInconsistent", err)
		}
		_, err := evidencelog.OpenPostgres(pgCtx, pgdbtest.Open(t, cfg), evidencelog.PostgresOptions{KeyFile: key})
		if !errors.Is(err, evidencelog.ErrInconsistent) {
			t.Fatalf("open over a changed tree hash: %v, want ErrInconsistent", err)
		}
	})
	t.Run("record missing", func(t *testing.T) {
		l, pool, _, _ := setup(t)
		exec(t, pool, `DELETE FROM evidence_leaf WHERE idx = 3`)
		if _, err := l.Entries(pgCtx, 0, 10); !errors.Is(err, evidencelog.ErrRecordMissing) {
			t.Fatalf("Entries over a hole: %v, want ErrRecordMissing", err)
		}
		if _, err := l.Entries(pgCtx, 3, 4); !errors.Is(err, evidencelog.ErrRecordMissing) {
			t.Fatalf("Entries of the missing record: %v, want ErrRecordMissing", err)
		}
	})
}

// TestPostgresCheckpointInterval: with an interval, replicas share the
// newest checkpoint while it is young, even as the log grows; a receipt
// for a record it does not cover signs a new one.
func TestPostgresCheckpointInterval(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	key := pgKey(t, t.TempDir())
	opts := evidencelog.PostgresOptions{KeyFile: key, CheckpointInterval: time.Hour}
	a := openPG(t, cfg, opts)
	b := openPG(t, cfg, opts)
	if _, err := a.Append(pgCtx, []byte("one")); err != nil {
		t.Fatal(err)
	}
	c1 := pgCheckpoint(t, a, b.VerifierKey())
	e, err := b.Append(pgCtx, []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if c := pgCheckpoint(t, b, a.VerifierKey()); c != c1 {
		t.Fatalf("b signed a new checkpoint (size %d) within the interval of a's (size %d)", c.Size, c1.Size)
	}
	r, err := b.Receipt(pgCtx, e.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := evidencelog.VerifyReceipt(r, a.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	if c := pgCheckpoint(t, a, b.VerifierKey()); c.Size != 2 {
		t.Fatalf("after a receipt of record 1, the shared checkpoint has size %d, want 2", c.Size)
	}
	if _, err := a.Receipt(pgCtx, 2); !errors.Is(err, evidencelog.ErrOutOfRange) {
		t.Fatalf("receipt of a record not in the log: %v, want ErrOutOfRange", err)
	}
}

// BenchmarkPostgresAppend appends b.N 1 KiB records durably from N
// goroutines on one replica; BenchmarkPostgresAppendReplicas spreads them
// over two replicas (two pools, one schema). Each reports records/s, the
// records per transaction, the append latency (median and 99th
// percentile) and the database bytes per record.
func BenchmarkPostgresAppend(b *testing.B) {
	for _, writers := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchPG(b, 1, writers) })
	}
}

func BenchmarkPostgresAppendReplicas(b *testing.B) {
	for _, writers := range []int{2, 16, 64, 256} {
		b.Run(fmt.Sprintf("replicas=2/writers=%d", writers), func(b *testing.B) { benchPG(b, 2, writers) })
	}
}

func benchPG(b *testing.B, replicas, writers int) {
	cfg := pgdbtest.FreshSchema(b)
	key := pgKey(b, b.TempDir())
	var logs []*evidencelog.Postgres
	for range replicas {
		logs = append(logs, openPG(b, cfg, evidencelog.PostgresOptions{KeyFile: key}))
	}
	rec := bytes.Repeat([]byte("e"), 1024)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		l := logs[w%replicas]
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := l.Append(pgCtx, rec); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var commits int64
	for _, l := range logs {
		commits += l.Stats().Commits
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/float64(max(commits, 1)), "records/commit")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	pool := pgdbtest.Open(b, cfg)
	var bytesUsed int64
	if err := pool.QueryRow(pgCtx, `SELECT sum(pg_total_relation_size(c))::bigint FROM unnest(ARRAY[
		'evidence_leaf', 'evidence_hash', 'evidence_head', 'evidence_checkpoint']::regclass[]) c`).Scan(&bytesUsed); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(bytesUsed)/float64(b.N), "db-bytes/record")
}

// BenchmarkPGBareCommit is the floor under BenchmarkPostgresAppend: one
// durable single-row INSERT transaction per record from one goroutine, no
// tree, no lock.
func BenchmarkPGBareCommit(b *testing.B) {
	cfg := pgdbtest.FreshSchema(b)
	pool := pgdbtest.Open(b, cfg)
	if _, err := pool.Exec(pgCtx, `CREATE TABLE bare (idx bigint PRIMARY KEY, record bytea NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	rec := bytes.Repeat([]byte("e"), 1024)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := pool.Exec(pgCtx, `INSERT INTO bare VALUES ($1, $2)`, i, rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
