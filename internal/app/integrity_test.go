package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/sqlitedb"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// TestStoreFileDeletedWhileRunning (issue 14 item 3): a store file deleted
// or replaced under a running Provost is noticed within the watch interval:
// every decision is then denied, /readyz fails naming the file, and no
// revocation is written into a file that is gone.
func TestStoreFileDeletedWhileRunning(t *testing.T) {
	cases := []struct {
		name string
		file func(a *app.App) string
		how  func(t *testing.T, path string)
		want string
	}{
		{"revocations deleted", func(a *app.App) string { return a.Layout.Revocations }, remove, "deleted"},
		{"evidence deleted", func(a *app.App) string { return filepath.Join(a.Layout.Evidence, "evidence.db") }, remove, "deleted"},
		{"origins deleted", func(a *app.App) string { return a.Layout.Origins }, remove, "deleted"},
		{"secret replaced", func(a *app.App) string { return a.Layout.Secret }, replace, "replaced"},
		{"revocations replaced", func(a *app.App) string { return a.Layout.Revocations }, replace, "replaced"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
			a := w.App("")
			tok := w.MustToken("svc:reports", nil)
			req := func() *provost.Request {
				return &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr("10.20.1.1")}
			}
			if d, err := a.Engine.Check(context.Background(), req()); err != nil || d.Outcome != verdict.Allow {
				t.Fatalf("before: %s %v %v", d.Outcome, d.Codes(), err)
			}
			c.how(t, c.file(a))
			if !waitFor(3*app.FileCheckInterval+2*time.Second, func() bool { return a.Ready(context.Background()) != nil }) {
				t.Fatal("Ready still nil after the file went")
			}
			if err := a.Ready(context.Background()); !errors.Is(err, app.ErrStoreFile) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Ready = %v, want ErrStoreFile saying %q", err, c.want)
			}
			if code, body := readyz(a); code != http.StatusServiceUnavailable || strings.Contains(body, a.Layout.Dir) {
				t.Fatalf("/readyz = %d %s, want 503 naming the store, not its path", code, body)
			}
			d, err := a.Engine.Check(context.Background(), req())
			if err == nil || d.Outcome != verdict.Deny || !d.Has(reason.InternalError) {
				t.Fatalf("after: %s %v %v, want a fail-closed denial", d.Outcome, d.Codes(), err)
			}
			if _, err := a.Revocations.Add(context.Background(), revocation.Revocation{Kind: revocation.KindJTI, Value: "j"}); !errors.Is(err, app.ErrStoreFile) {
				t.Fatalf("Add = %v, want it refused with ErrStoreFile", err)
			}
		})
	}
}

func remove(t *testing.T, path string) {
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// replace puts a copy in place of path, as a restore from backup would.
func replace(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".restored"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestRestartWithMissingStore: a data directory in use whose revocation
// store or evidence log is gone does not start afresh (a revoked token
// would be allowed, the log would restart at 0); an empty file says "start
// it empty" on purpose.
func TestRestartWithMissingStore(t *testing.T) {
	for _, name := range []string{"revocations.db", filepath.Join("evidence", "evidence.db")} {
		t.Run(name, func(t *testing.T) {
			w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
			a := w.App("")
			dir := a.Layout.Dir
			if _, err := a.Revocations.Add(context.Background(), revocation.Revocation{Kind: revocation.KindJTI, Value: "j"}); err != nil {
				t.Fatal(err)
			}
			a.Close()
			path := filepath.Join(dir, name)
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
			_, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile(), DataDir: dir, Now: w.Now})
			if !errors.Is(err, app.ErrStoreFile) || !strings.Contains(err.Error(), "touch "+path) {
				t.Fatalf("Open = %v, want ErrStoreFile naming the way out", err)
			}
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile(), DataDir: dir, Now: w.Now})
			if err != nil {
				t.Fatalf("Open after touching the file: %v", err)
			}
			b.Close()
		})
	}
}

// TestRestartWithEditedRevocations: a revocation deleted from the database
// while Provost was down does not silently un-revoke the token.
func TestRestartWithEditedRevocations(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
	a := w.App("")
	dir := a.Layout.Dir
	rev, err := a.Revocations.Add(context.Background(), revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:reports"})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(dir, "revocations.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM revocation WHERE id = ?`, rev.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile(), DataDir: dir, Now: w.Now})
	if !errors.Is(err, revocation.ErrTampered) {
		t.Fatalf("Open = %v, want ErrTampered", err)
	}
}
