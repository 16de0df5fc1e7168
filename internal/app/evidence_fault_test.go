package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

// After an evidence write fault the SQLite log refuses every append, so
// every decision is denied: Ready and /readyz must say so, naming the
// evidence log, instead of answering 200 (issue 14).
func TestReadyzAfterEvidenceWriteFault(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
	a := w.App("")
	ctx := context.Background()
	if code, body := readyz(a); code != http.StatusOK {
		t.Fatalf("/readyz before the fault: %d %s", code, body)
	}
	// The fault: every commit of a record aborts.
	db, err := sqlitedb.Open(ctx, filepath.Join(a.Layout.Evidence, "evidence.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER fault BEFORE INSERT ON evidence_leaf
		BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := a.Evidence.Append(ctx, []byte("refused")); !errors.Is(err, evidencelog.ErrWriteFailed) {
		t.Fatalf("Append under the fault: %v, want ErrWriteFailed", err)
	}
	if err := a.Ready(ctx); err == nil || !strings.Contains(err.Error(), "evidence log") {
		t.Errorf("Ready after the write fault: %v, want an error naming the evidence log", err)
	}
	code, body := readyz(a)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"not_ready"`) || !strings.Contains(body, "evidence log") {
		t.Errorf("/readyz after the write fault: %d %s, want 503 naming the evidence log", code, body)
	}
}

// While origin history cannot be written, every decision fails closed
// (Record refuses): /readyz must say so, naming origin history, and
// recover once a batch is written again.
func TestReadyzAfterOriginWriteFault(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
	a := w.App("")
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, a.Layout.Origins)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER fault BEFORE INSERT ON origin_credential
		BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`); err != nil {
		t.Fatal(err)
	}
	tok := w.MustToken("svc:reports", nil)
	req := &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr("10.20.1.1")}
	a.Engine.Check(ctx, req) // queues the use the writer cannot write
	if !waitFor(5*time.Second, func() bool { return a.Ready(ctx) != nil }) {
		t.Fatal("Ready stayed nil while origin history could not be written")
	}
	if code, body := readyz(a); code != http.StatusServiceUnavailable || !strings.Contains(body, "origin history") {
		t.Fatalf("/readyz = %d %s, want 503 naming origin history", code, body)
	}
	if _, err := db.ExecContext(ctx, `DROP TRIGGER fault`); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return a.Ready(ctx) == nil }) {
		t.Fatalf("Ready did not recover after the fault cleared: %v", a.Ready(ctx))
	}
}
