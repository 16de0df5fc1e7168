package demo

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/devworld"
	"github.com/provost-dev/provost/verdict"
)

// demo --keep keeps a world whose configuration loads, whose keys are the
// demo's and marked so, and whose engine accepts what provost dev mints
// for it: a token, a DPoP-bound token with its proof, a JWT-SVID. It ends
// with the next steps.
func TestKeepMakesAUsableWorld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my world") // a space: the printed commands quote it
	var out bytes.Buffer
	failed, err := Run(t.Context(), Options{Out: &out, Keep: true, KeepDir: dir})
	if err != nil || failed != 0 {
		t.Fatalf("failed %d, err %v\n%s", failed, err, out.String())
	}
	for _, want := range []string{
		"The demo world is kept in " + dir,
		"provost serve --config '" + filepath.Join(dir, "provost.yaml") + "'",
		"TOKEN=$(provost dev token --world '" + dir + "' --sub svc:reports",
		"DEMO ONLY",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	for _, f := range []string{"provost.yaml", jwtBundleFile, filepath.Join("data", "server.secret"), filepath.Join(devworld.KeysDir, devworld.ReadmeFile)} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
	}
	dw, err := devworld.Open(filepath.Join(dir, "provost.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(t.Context(), app.Options{ConfigFile: dw.ConfigFile})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	judge := func(r *provost.Request) *verdict.Decision {
		t.Helper()
		d, err := a.Engine.Check(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tok, _ := dw.Token(devworld.TokenOptions{Subject: "svc:reports", TTL: time.Hour})
	if d := judge(&provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr("10.40.7.7")}); d.Outcome != verdict.Allow {
		t.Errorf("svc:reports from the datacenter: %s %v", d.Outcome, d.Codes())
	}
	dtok, _ := dw.Token(devworld.TokenOptions{Subject: "agent:tool-caller", TTL: time.Hour, DPoP: true})
	proof, err := dw.DPoP("POST", "/v1/tools/run", dtok)
	if err != nil {
		t.Fatal(err)
	}
	if d := judge(&provost.Request{Method: "POST", Target: "/v1/tools/run", Authorization: "DPoP " + dtok, DPoP: proof, Peer: netip.MustParseAddr("10.0.0.1")}); d.Outcome != verdict.Allow {
		t.Errorf("DPoP at %s: %s %v", KeptOrigin, d.Outcome, d.Codes())
	}
	atok, _ := dw.Token(devworld.TokenOptions{Subject: "agent:support-bot", TTL: time.Hour})
	svid, err := dw.JWTSVID("spiffe://demo.provost.test/agents/support-bot", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := judge(&provost.Request{Method: "GET", Target: "/v1/tools/search", Authorization: "Bearer " + atok, JWTSVID: svid, Peer: netip.MustParseAddr("10.30.1.5")}); d.Outcome != verdict.Allow {
		t.Errorf("support-bot with its JWT-SVID: %s %v", d.Outcome, d.Codes())
	}
}

// --keep never writes into a folder that holds something.
func TestKeepRefusesAFolderInUse(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600)
	var out bytes.Buffer
	if _, err := Run(t.Context(), Options{Out: &out, Keep: true, KeepDir: dir}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("kept into a folder in use: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the folder changed: %v", entries)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/w":     "/tmp/w",
		"/tmp/my w":  "'/tmp/my w'",
		"/tmp/it's":  `'/tmp/it'\''s'`,
		"/tmp/$HOME": "'/tmp/$HOME'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
