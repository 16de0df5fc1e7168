package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/server"
)

// servedEngine is an engine on the embedded default configuration (every
// credential rejected) that decided n requests, served on loopback.
func servedEngine(t *testing.T, n int) (*app.App, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "provost.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\ndata_dir: data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(t.Context(), app.Options{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	for i := range n {
		d, err := a.Engine.Check(t.Context(), &provost.Request{Method: "GET", Target: "/v1/things/" + strconv.Itoa(i),
			Peer: netip.MustParseAddr("10.0.0.1"), ID: "req-" + strconv.Itoa(i)})
		if err != nil || d.Evidence == nil || d.Evidence.Index != int64(i) {
			t.Fatalf("decision %d: %+v %v", i, d, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { server.New(server.ForApp(a), config.Serve{}, nil).Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a, "http://" + ln.Addr().String()
}

func runReceipt(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cmdReceipt(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// A receipt fetched from a server verifies offline with the log's key
// alone; every kind of tampering fails naming what is wrong.
func TestReceiptGetAndVerify(t *testing.T) {
	a, url := servedEngine(t, 5)
	key := a.Evidence.VerifierKey()
	code, got, stderr := runReceipt(t, "", "get", "--server", url, "--index", "2")
	if code != exitOK {
		t.Fatalf("get: exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "receipt.json")
	keyFile := filepath.Join(dir, "log.vkey")
	os.WriteFile(file, []byte(got), 0o600)
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)

	for _, k := range []string{key, keyFile} {
		code, out, stderr := runReceipt(t, "", "verify", "--key", k, file)
		if code != exitOK {
			t.Fatalf("verify: exit %d: %s", code, stderr)
		}
		for _, want := range []string{"receipt verified", "record 2 ", "tree of size 5", "decision deny", `request "req-2"`} {
			if !strings.Contains(out, want) || strings.Count(out, "\n") != 1 {
				t.Errorf("summary lacks %q: %q", want, out)
			}
		}
	}
	if code, _, stderr := runReceipt(t, got, "verify", "--key", key, "-"); code != exitOK {
		t.Fatalf("verify from stdin: exit %d: %s", code, stderr)
	}

	var rc evidencelog.Receipt
	if err := json.Unmarshal([]byte(got), &rc); err != nil {
		t.Fatal(err)
	}
	other, err := evidencelog.Open(t.Context(), t.TempDir(), evidencelog.Options{Name: a.Evidence.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cases := []struct {
		name   string
		change func(r *evidencelog.Receipt)
		key    string
		want   string
	}{
		{"changed record", func(r *evidencelog.Receipt) { r.Record = bytes.Replace(r.Record, []byte("req-2"), []byte("req-3"), 1) }, key, "not included"},
		{"other index", func(r *evidencelog.Receipt) { r.Index = 1 }, key, "not included"},
		{"index past the tree", func(r *evidencelog.Receipt) { r.Index = 9 }, key, "not included"},
		{"changed proof", func(r *evidencelog.Receipt) { r.Proof[0][0] ^= 1 }, key, "not included"},
		{"altered checkpoint", func(r *evidencelog.Receipt) {
			r.Checkpoint = bytes.Replace(r.Checkpoint, []byte("\n5\n"), []byte("\n6\n"), 1)
		}, key, "bad checkpoint signature"},
		{"another log's key, same name", func(*evidencelog.Receipt) {}, other.VerifierKey(), "not signed by the log's key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rc
			r.Record, r.Checkpoint = bytes.Clone(rc.Record), bytes.Clone(rc.Checkpoint)
			r.Proof = append(r.Proof[:0:0], rc.Proof...)
			c.change(&r)
			b, _ := r.MarshalJSON()
			f := filepath.Join(t.TempDir(), "r.json")
			os.WriteFile(f, b, 0o600)
			code, out, stderr := runReceipt(t, "", "verify", "--key", c.key, f)
			if code != exitFail || out != "" || !strings.Contains(stderr, "NOT VERIFIED") || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, out %q, err %q; want %q", code, out, stderr, c.want)
			}
		})
	}
	for _, bad := range []string{`{"record":"e30=","index":0}`, `not json`, got + got} {
		if code, _, stderr := runReceipt(t, bad, "verify", "--key", key, "-"); code != exitFail || !strings.Contains(stderr, "malformed receipt") {
			t.Errorf("%.30q: exit %d, %s", bad, code, stderr)
		}
	}
}

func TestReceiptUsage(t *testing.T) {
	_, url := servedEngine(t, 1)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{[]string{"verify", "x.json"}, exitUsage, "usage"},
		{[]string{"verify", "--key", "nonsense", "x.json"}, exitUsage, "neither a verifier key"},
		{[]string{"verify", "--key", "a+b+c", "/nonexistent/x.json"}, exitUsage, "no such file"},
		{[]string{"get", "--server", url}, exitUsage, "usage"},
		{[]string{"get", "--server", "ftp://x", "--index", "0"}, exitFail, "not an http(s) URL"},
		{[]string{"get", "--server", url, "--index", "7"}, exitFail, "404"},
		{[]string{"get", "--server", url, "--index", "0", "--timeout", "1ns"}, exitFail, "deadline"},
	}
	for _, c := range cases {
		code, _, stderr := runReceipt(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want %d with %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
