package app_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

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
