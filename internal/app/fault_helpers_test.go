package app_test

// Helpers of the fault tests (fault_test.go): a small tmpfs a test mounts
// and fills, a Provost served over loopback HTTP, and the check API's
// answers kept so the evidence log can be held to them.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/reason"
)

// skipOrFail skips the test with why, or fails it when CI is set: nothing
// may skip silently in CI.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set: "+format, args...)
	}
	t.Skipf(format, args...)
}

// mountTmpfs mounts a tmpfs of size bytes on dir (created when missing)
// and unmounts it when the test ends. It needs root (CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounting a tmpfs for the disk fault needs root (running as uid %d)", os.Geteuid())
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		skipOrFail(t, "mount -t tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			// Still in use (a test that failed half way): detach it, so
			// the temporary directory can go.
			if err2 := syscall.Unmount(dir, syscall.MNT_DETACH); err2 != nil {
				t.Errorf("umount %s: %v, then %v", dir, err, err2)
			}
		}
	})
}

// fill writes a filler file into dir until its file system is full, and
// returns its path: removing it frees the space.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for size := len(chunk); size > 0; {
		if _, err := f.Write(chunk[:size]); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			size /= 2 // the last pages, down to one byte
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bavail != 0 {
		t.Fatalf("%s still has %d free blocks after filling", dir, st.Bavail)
	}
	return path
}

// moveToTmpfs moves the store at path (a file with its SQLite -wal and
// -shm files, or a directory) onto a tmpfs of its own of size bytes and
// leaves a symbolic link in its place: SQLite follows the link, so the
// store's every write (its write-ahead log too) goes to that file system.
// It returns the tmpfs's directory. Provost must not have path open.
func moveToTmpfs(t *testing.T, path string, size int64) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	mountTmpfs(t, mnt, size)
	target := filepath.Join(mnt, filepath.Base(path))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err := copyTree(path+suffix, target+suffix); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(path + suffix); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	return mnt
}

// copyTree copies a file, or a directory of files, keeping their modes
// (os.Rename cannot cross file systems).
func copyTree(from, to string) error {
	info, err := os.Stat(from)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, info.Mode().Perm())
	}
	if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyTree(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// served is a Provost answering over loopback HTTP, as `provost serve`
// does, and every check API answer it gave.
type served struct {
	t    *testing.T
	a    *app.App
	base string
	cl   *http.Client

	mu      sync.Mutex
	answers []checkAnswer
}

// checkAnswer is what a test keeps of one check API answer.
type checkAnswer struct {
	status   int
	decision string
	codes    []reason.Code
	index    int64  // -1: no evidence record named
	leafHash string // base64, as the answer names it
	revoked  string // the revocation the decision wrote, if any
}

func (c checkAnswer) has(code reason.Code) bool { return slices.Contains(c.codes, code) }

func (c checkAnswer) String() string {
	return fmt.Sprintf("%d %s %v evidence %d revocation %q", c.status, c.decision, c.codes, c.index, c.revoked)
}

// serve starts a's server on a loopback port with writeTimeout (0: the
// default) and stops it when the test ends.
func serve(t *testing.T, a *app.App, writeTimeout time.Duration) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.ForApp(a), config.Serve{WriteTimeout: config.Duration(writeTimeout)}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &served{t: t, a: a, base: "http://" + ln.Addr().String(), cl: &http.Client{Timeout: 30 * time.Second}}
}

// check asks POST /v1/check about a bearer request from peer and keeps the
// answer. Any answer but a 200 with a decision fails the test.
func (s *served) check(method, target, authorization, peer string) checkAnswer {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"method": method, "target": target, "authorization": authorization, "peer": peer})
	resp, err := s.cl.Post(s.base+server.PathCheck, "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("POST /v1/check: no answer: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		s.t.Fatalf("POST /v1/check: reading the answer: %v", err)
	}
	var d struct {
		Decision string `json:"decision"`
		Reasons  []struct {
			Code reason.Code `json:"code"`
		} `json:"reasons"`
		Credential struct {
			Reason reason.Code `json:"reason"`
		} `json:"credential"`
		Evidence *struct {
			Index    int64  `json:"index"`
			LeafHash string `json:"leaf_hash"`
		} `json:"evidence"`
		RevocationID string `json:"revocation_id"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || resp.StatusCode != http.StatusOK || d.Decision == "" {
		s.t.Fatalf("POST /v1/check: %s %s (%v), want 200 with a decision", resp.Status, raw, err)
	}
	a := checkAnswer{status: resp.StatusCode, decision: d.Decision, index: -1, revoked: d.RevocationID}
	if d.Credential.Reason != "" {
		a.codes = append(a.codes, d.Credential.Reason)
	}
	for _, r := range d.Reasons {
		a.codes = append(a.codes, r.Code)
	}
	if d.Evidence != nil {
		a.index, a.leafHash = d.Evidence.Index, d.Evidence.LeafHash
	}
	s.mu.Lock()
	s.answers = append(s.answers, a)
	s.mu.Unlock()
	return a
}

// readyz is GET /readyz over HTTP.
func (s *served) readyz() (int, string) {
	s.t.Helper()
	resp, err := s.cl.Get(s.base + server.PathReadyz)
	if err != nil {
		s.t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b)
}

// waitReadyz polls /readyz until it answers want, within limit.
func (s *served) waitReadyz(want int, limit time.Duration) (int, string) {
	s.t.Helper()
	var code int
	var body string
	waitFor(limit, func() bool { code, body = s.readyz(); return code == want })
	return code, body
}

// verifiable is an evidence log that checks itself: the SQLite one of the
// data directory, or the one the replicas share in PostgreSQL.
type verifiable interface {
	evidencelog.Reader
	Verify(ctx context.Context, progress func(done, total int64)) error
}

var (
	_ verifiable = (*evidencelog.Log)(nil)
	_ verifiable = (*evidencelog.Postgres)(nil)
)

// verifyAnswers checks the evidence log and every answer s gave: the log
// verifies, no two answers name one record, and each named record is in
// the log at its index with the leaf hash the answer gave. It returns how
// many answers named a record.
func (s *served) verifyAnswers(ctx context.Context) int {
	s.t.Helper()
	l, ok := s.a.Evidence.(verifiable)
	if !ok {
		s.t.Fatalf("the evidence log is a %T, which cannot verify itself", s.a.Evidence)
	}
	if err := l.Verify(ctx, nil); err != nil {
		s.t.Fatalf("the evidence log does not verify: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int64]bool{}
	named := 0
	for _, a := range s.answers {
		if a.index < 0 {
			continue
		}
		named++
		if seen[a.index] {
			s.t.Errorf("two answers name evidence record %d", a.index)
		}
		seen[a.index] = true
		recs, err := l.Entries(ctx, a.index, a.index+1)
		if err != nil || len(recs) != 1 {
			s.t.Errorf("answered decision %s is not in the log (size %d): %v", a, l.Size(), err)
			continue
		}
		h := sha256.Sum256(append([]byte{0}, recs[0]...))
		if got := base64.StdEncoding.EncodeToString(h[:]); got != a.leafHash {
			s.t.Errorf("record %d has leaf hash %s, the answer named %s", a.index, got, a.leafHash)
		}
	}
	return named
}
