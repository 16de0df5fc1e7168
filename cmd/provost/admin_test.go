package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/provost-dev/provost/internal/admin/admintest"
	"github.com/provost-dev/provost/internal/telemetry"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

type adminCmd func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

func runAdminCmd(t *testing.T, cmd adminCmd, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cmd(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAdminHashToken(t *testing.T) {
	sum := sha256.Sum256([]byte("0123456789abcdef0123456789abcdef"))
	cases := []struct {
		name, stdin string
		code        int
		out, errout string
	}{
		{"token", "0123456789abcdef0123456789abcdef\n", exitOK, hex.EncodeToString(sum[:]) + "\n", ""},
		{"CRLF", "0123456789abcdef0123456789abcdef\r\n", exitOK, hex.EncodeToString(sum[:]) + "\n", ""},
		{"short token warns", "s3kr1t\n", exitOK, "", "shorter than 32"},
		{"empty", "\n", exitUsage, "", "nothing on standard input"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errout := runAdminCmd(t, cmdAdmin, tc.stdin, "hash-token")
			if code != tc.code || (tc.out != "" && out != tc.out) || !strings.Contains(errout, tc.errout) {
				t.Fatalf("exit %d, out %q, err %q", code, out, errout)
			}
			if strings.Contains(out+errout, strings.TrimSpace(tc.stdin)) && tc.stdin != "\n" {
				t.Error("the token was printed")
			}
		})
	}
	if code, _, _ := runAdminCmd(t, cmdAdmin, "", "frobnicate"); code != exitUsage {
		t.Errorf("unknown admin command: exit %d", code)
	}
}

var revIDRE = regexp.MustCompile(`rev_[0-9a-f]{32}`)

func TestRevokeCLI(t *testing.T) {
	w := admintest.New(t, admintest.Options{})
	logs := &lockedBuffer{}
	url := w.Serve(telemetry.NewMetrics(telemetry.AppSources(w.App)), telemetry.NewLogger(logs, slog.LevelDebug))
	t.Setenv(envAdminToken, w.AdminToken)
	t.Setenv(envAdminURL, "")
	conn := []string{"--admin", url, "--ca", w.ServerCAFile}
	tok := w.MustToken(admintest.Subject, map[string]any{"jti": "cli-1"})
	if d := w.Decide(tok); d.Outcome != verdict.Allow {
		t.Fatalf("before: %s", d.Outcome)
	}

	code, out, errout := runAdminCmd(t, cmdRevoke, tok+"\n", append(conn, "--credential-stdin", "--reason", "pasted in chat")...)
	if code != exitOK {
		t.Fatalf("revoke: exit %d: %s", code, errout)
	}
	id := revIDRE.FindString(out)
	if id == "" || !strings.Contains(out, w.App.Fingerprint(tok)) {
		t.Fatalf("revoke output %q", out)
	}
	if d := w.Decide(tok); d.Credential.Reason != reason.Revoked {
		t.Fatalf("after revoke: %s", d.Credential.Reason)
	}
	code, out, errout = runAdminCmd(t, cmdRevocations, "", conn...)
	if code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "pasted in chat") {
		t.Fatalf("revocations: exit %d %q %s", code, out, errout)
	}
	if code, out, errout = runAdminCmd(t, cmdRevocations, "", append(conn, "--delete", id)...); code != exitOK {
		t.Fatalf("delete: exit %d %q %s", code, out, errout)
	}
	if d := w.Decide(tok); d.Outcome != verdict.Allow {
		t.Fatalf("after delete: %s %s", d.Outcome, d.Credential.Reason)
	}
	if code, _, errout = runAdminCmd(t, cmdRevocations, "", append(conn, "--delete", id)...); code != exitFail || !strings.Contains(errout, "404") {
		t.Errorf("second delete: exit %d %s", code, errout)
	}

	// jti scoped to the issuer, through mTLS and a token file is not needed.
	certFile, keyFile := w.ClientCertFiles("ops", "ops", admintest.AllowedID)
	t.Setenv(envAdminToken, "")
	mtls := append(conn, "--cert", certFile, "--key", keyFile)
	code, out, errout = runAdminCmd(t, cmdRevoke, "", append(mtls, "--jti", "cli-1", "--issuer", admintest.Issuer, "--json")...)
	if code != exitOK || !strings.Contains(out, `"kind": "jti"`) || !strings.Contains(out, admintest.Issuer) {
		t.Fatalf("revoke --jti: exit %d %q %s", code, out, errout)
	}
	if d := w.Decide(tok); d.Credential.Reason != reason.Revoked {
		t.Fatalf("after jti revoke: %s", d.Credential.Reason)
	}
	if code, out, errout = runAdminCmd(t, cmdAdmin, "", append([]string{"status"}, mtls...)...); code != exitOK || !strings.Contains(out, `"revocations": 1`) {
		t.Errorf("admin status: exit %d %q %s", code, out, errout)
	}
	if code, out, errout = runAdminCmd(t, cmdAdmin, "", append([]string{"reload"}, mtls...)...); code != exitOK || !strings.Contains(out, `"reloaded"`) {
		t.Errorf("admin reload: exit %d %q %s", code, out, errout)
	}

	// A token file; then no credentials at all.
	tokFile := filepath.Join(t.TempDir(), "admin.token")
	os.WriteFile(tokFile, []byte(w.AdminToken+"\n"), 0o600)
	if code, _, errout = runAdminCmd(t, cmdRevoke, "", append(conn, "--token-file", tokFile, "--subject", "svc:x", "--issued-before", "2030-01-01T00:00:00Z")...); code != exitOK {
		t.Errorf("revoke --subject with --token-file: exit %d %s", code, errout)
	}
	code, _, errout = runAdminCmd(t, cmdRevoke, "", append(conn, "--binding", "reports")...)
	if code != exitFail || !strings.Contains(errout, "401") {
		t.Errorf("without credentials: exit %d %s", code, errout)
	}
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), w.AdminToken) {
		t.Error("a credential reached the server's log")
	}
}

func TestRevokeUsage(t *testing.T) {
	t.Setenv(envAdminURL, "")
	t.Setenv(envAdminToken, "")
	const u = "https://127.0.0.1:1"
	cases := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"nothing to revoke", []string{"--admin", u}, "", "say what to revoke"},
		{"two kinds", []string{"--admin", u, "--jti", "j", "--binding", "b"}, "", "only one of"},
		{"fingerprint and stdin", []string{"--admin", u, "--fingerprint", "fp1:x", "--credential-stdin"}, "t\n", "only one of"},
		{"issuer scope on binding", []string{"--admin", u, "--binding", "b", "--issuer", "https://i"}, "", "scopes only --jti and --subject"},
		{"issued-before on jti", []string{"--admin", u, "--jti", "j", "--issued-before", "2030-01-01T00:00:00Z"}, "", "applies only to --subject"},
		{"bad time", []string{"--admin", u, "--subject", "s", "--issued-before", "tomorrow"}, "", "--issued-before is not an RFC 3339 time"},
		{"bad expiry", []string{"--admin", u, "--jti", "j", "--expires-at", "soon"}, "", "--expires-at is not"},
		{"empty stdin", []string{"--admin", u, "--credential-stdin"}, "", "nothing on standard input"},
		{"no admin URL", []string{"--jti", "j"}, "", "--admin URL"},
		{"token over plain http", []string{"--admin", "http://admin.example:1", "--jti", "j", "--token-file", "admin_test.go"}, "", "plain HTTP"},
		{"stray argument", []string{"--admin", u, "--jti", "j", "extra"}, "", "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errout := runAdminCmd(t, cmdRevoke, tc.stdin, tc.args...)
			if code != exitUsage || !strings.Contains(errout, tc.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, errout, tc.want)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}
}
