package app_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/verdict"
)

// With storage.postgres.evidence_key_file, two replicas append to one
// evidence log in PostgreSQL: their decisions get dense, distinct indexes,
// and a receipt of a decision made on replica 1, fetched from replica 2,
// verifies with the log's verifier key alone.
func TestReplicasSharePostgresEvidenceLog(t *testing.T) {
	pg := pgdbtest.FreshSchema(t)
	w := provosttest.New(t, provosttest.Options{Bindings: sharedBindings, Config: fmt.Sprintf(`storage:
  postgres: {dsn: %q, evidence_key_file: evidence.key, evidence_checkpoint_interval: 1s}
`, pg.DSN)})
	// Relative to the configuration file, as the README says.
	vkey, err := evidencelog.CreateKeyFile(filepath.Join(w.Dir, "evidence.key"), "provost.test/evidence")
	if err != nil {
		t.Fatal(err)
	}
	one, two := w.App("replica-1"), w.App("replica-2")
	ctx := context.Background()
	for i, a := range []*app.App{one, two} {
		if err := a.Ready(ctx); err != nil {
			t.Fatalf("replica %d not ready: %v", i+1, err)
		}
		if _, ok := a.Evidence.(*evidencelog.Postgres); !ok {
			t.Fatalf("replica %d's evidence log is a %T, want the shared *evidencelog.Postgres", i+1, a.Evidence)
		}
		if got := a.Evidence.VerifierKey(); got != vkey {
			t.Fatalf("replica %d signs with %s, want %s", i+1, got, vkey)
		}
		if _, err := os.Stat(filepath.Join(w.Dir, fmt.Sprintf("replica-%d", i+1), "evidence")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("replica %d opened a log in its data directory too: %v", i+1, err)
		}
	}

	// Decisions on both replicas at once.
	tok := w.MustToken("svc:reports", nil)
	const perReplica = 12
	var (
		mu      sync.Mutex
		indexes []int64
		onOne   []verdict.EvidenceRef
		wg      sync.WaitGroup
	)
	for r, a := range []*app.App{one, two} {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perReplica / 3 {
					d, err := a.Engine.Check(ctx, &provost.Request{Method: "GET", Target: "/v1/r", Authorization: "Bearer " + tok,
						Peer: netip.MustParseAddr("10.3.3.3")})
					if err != nil || d.Outcome != verdict.Allow || d.Evidence == nil {
						t.Errorf("replica %d: %+v %v", r+1, d, err)
						return
					}
					mu.Lock()
					indexes = append(indexes, d.Evidence.Index)
					if r == 0 {
						onOne = append(onOne, *d.Evidence)
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(indexes)
	for i, x := range indexes {
		if x != int64(i) {
			t.Fatalf("indexes %v: want 0 to %d, each once", indexes, 2*perReplica-1)
		}
	}
	for i, a := range []*app.App{one, two} {
		if n := a.Evidence.Size(); n != 2*perReplica {
			t.Fatalf("replica %d sees %d records, want %d", i+1, n, 2*perReplica)
		}
	}

	// Replica 2 serves the receipt of replica 1's decision.
	srv := httptest.NewServer(server.New(server.ForApp(two), config.Serve{}, nil).Handler())
	defer srv.Close()
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, body, err)
		}
		return body
	}
	if key := strings.TrimSpace(string(get(server.PathLogKey))); key != vkey {
		t.Fatalf("replica 2 serves the key %s, want %s", key, vkey)
	}
	ref := onOne[len(onOne)/2]
	rc, err := evidencelog.ParseReceipt(get(server.PathLogReceipt + "?index=" + strconv.FormatInt(ref.Index, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if err := evidencelog.VerifyReceipt(rc, vkey); err != nil {
		t.Fatalf("the receipt of record %d from replica 2: %v", ref.Index, err)
	}
	if h := tlog.RecordHash(rc.Record); rc.Index != ref.Index || base64.StdEncoding.EncodeToString(h[:]) != ref.LeafHash {
		t.Fatalf("the receipt names record %d (leaf %x), replica 1 answered %d (leaf %s)", rc.Index, h, ref.Index, ref.LeafHash)
	}
	// The checkpoint replica 2 serves covers replica 1's records.
	c, err := evidencelog.OpenCheckpoint(get(server.PathLogCheckpoint), vkey)
	if err != nil || c.Size != 2*perReplica {
		t.Fatalf("replica 2's checkpoint: %+v %v, want size %d", c, err, 2*perReplica)
	}
}
