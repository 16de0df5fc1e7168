package dashboard

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
)

// pieceLen is the length of the pieces of a secret looked for: a
// 20-character piece of a random secret found anywhere is no accident
// (as cmd/provost's leak scan).
const pieceLen = 20

// minSecret is the least a piece must hold of a token's signature (about
// 60 bits): its header and payload are readable by design.
const minSecret = 10

// windows are every pieceLen-character piece of v.
func windows(v string) []string {
	var out []string
	for i := 0; i+pieceLen <= len(v); i++ {
		out = append(out, v[i:i+pieceLen])
	}
	return out
}

// jwtPieces are the pieces of a compact JWS holding at least minSecret
// characters of its signature.
func jwtPieces(tok string) []string {
	at := strings.LastIndexByte(tok, '.') + 1
	var out []string
	for i := max(0, at+minSecret-pieceLen); i+pieceLen <= len(tok); i++ {
		out = append(out, tok[i:i+pieceLen])
	}
	return out
}

// rawPieces are the pieces of random bytes in every form they could be
// written: hex (both cases) and base64 (both alphabets, padded or not).
func rawPieces(raw []byte) []string {
	var out []string
	for _, enc := range []string{hex.EncodeToString(raw), strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw)} {
		out = append(out, windows(enc)...)
	}
	return out
}

// leakScan looks for every secret's pieces in every source.
type leakScan struct {
	secrets map[string][]string // name → pieces
	sources []leakSource
}

type leakSource struct{ name, data string }

func (s *leakScan) add(name, data string) { s.sources = append(s.sources, leakSource{name, data}) }

// hits names each secret found in each source.
func (s *leakScan) hits() []string {
	var out []string
	for _, src := range s.sources {
		for name, pieces := range s.secrets {
			for _, p := range pieces {
				if strings.Contains(src.data, p) {
					out = append(out, fmt.Sprintf("%s holds a piece of %s", src.name, name))
					break
				}
			}
		}
	}
	return out
}

// No page, API answer, stream event or header of the dashboard holds a
// piece of any raw credential the decisions used, of the dashboard's own
// tokens, or of the server secret.
func TestNoRawCredentialAnywhere(t *testing.T) {
	e := newEnv(t)
	p := e.play()
	secret, err := os.ReadFile(filepath.Join(e.dataDir(), "server.secret"))
	if err != nil {
		t.Fatal(err)
	}
	scan := &leakScan{secrets: map[string][]string{
		"the admin token":     windows(e.adminTok),
		"the read-only token": windows(e.roTok),
		"the opaque key":      windows(p.opaque),
		"the server secret":   append(rawPieces(secret), windows(string(secret))...),
	}}
	for name, tok := range map[string]string{"reports": p.reports, "ci": p.ci, "canary": p.canary, "shadow": p.shadow,
		"trial": p.trial, "newcomer": p.newcomer} {
		scan.secrets["the "+name+" token"] = jwtPieces(tok)
	}
	// The scan finds what it looks for.
	scan.add("a planted answer", "x"+p.reports+"x")
	if h := scan.hits(); len(h) != 1 || !strings.Contains(h[0], "reports token") {
		t.Fatalf("the scan does not find a planted token: %v", h)
	}
	scan.sources = nil

	adm := e.login(e.adminTok)
	ro := e.login(e.roTok)
	stream, cancel := e.stream(adm, "")
	events := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		events <- b.String()
	}()
	// More decisions while the stream is open, then a revocation.
	e.check(p.reports, "10.40.0.5")
	e.check(p.canary, "10.40.0.9")
	confirm := e.get(adm, "/ui/credentials/"+p.reportsFP+"/revoke")
	a := e.do(adm, http.MethodPost, "/ui/credentials/"+p.reportsFP+"/revoke", url.Values{"csrf": {csrfOf(t, confirm.body)}, "reason": {"leak test"}}, "Origin", e.base)
	scan.add("POST revoke", a.body+fmt.Sprint(a.Header))
	e.check(p.reports, "10.40.0.5")
	e.do(adm, http.MethodPost, "/ui/log/verify", url.Values{"csrf": {csrfOf(t, confirm.body)}}, "Origin", e.base)
	e.settle()
	time.Sleep(50 * time.Millisecond)

	paths := []string{"/ui/", "/ui/decisions", "/ui/decisions?outcome=deny", "/ui/decisions?reason=honeytoken_used", "/ui/log",
		"/ui/api/decisions", "/ui/api/verify", "/ui/login", "/ui/static/dashboard.js", "/ui/no-such-page", "/ui/credentials/fp1:"}
	size := e.a.Evidence.Size()
	fps := map[string]bool{}
	raw, err := e.a.Evidence.Entries(context.Background(), 0, size)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range raw {
		idx := strconv.Itoa(i)
		paths = append(paths, "/ui/decisions/"+idx, "/ui/api/receipts/"+idx)
		if r, err := evidence.Unmarshal(b); err == nil && r.Credential.Fingerprint != "" {
			fps[r.Credential.Fingerprint] = true
		}
	}
	for fp := range fps {
		paths = append(paths, "/ui/credentials/"+fp, "/ui/credentials/"+fp+"/revoke", "/ui/credentials/"+fp[:shortLen])
	}
	if len(fps) < 6 {
		t.Fatalf("%d credentials in the log, want the 6 tokens' at least", len(fps))
	}
	for _, c := range []struct {
		name string
		c    *http.Client
	}{{"admin", adm}, {"read-only", ro}, {"anonymous", e.client()}} {
		for _, path := range paths {
			a := e.get(c.c, path)
			if a.StatusCode >= 500 {
				t.Errorf("GET %s as %s: %d", path, c.name, a.StatusCode)
			}
			scan.add("GET "+path+" as "+c.name, a.body+"\n"+fmt.Sprint(a.Header))
		}
	}
	// A failed sign-in with a credential typed as the token.
	login := e.client()
	a = e.do(login, http.MethodPost, PathLogin, url.Values{"csrf": {csrfOf(t, e.get(login, PathLogin).body)}, "token": {p.shadow}}, "Origin", e.base)
	scan.add("a sign-in with a raw credential", a.body+fmt.Sprint(a.Header))
	cancel()
	scan.add("the live stream", <-events)
	scan.add("the dashboard's log", e.logs.String())
	if !strings.Contains(scan.sources[len(scan.sources)-2].data, "event: decision") {
		t.Error("the stream carried no decision: nothing was scanned there")
	}
	if h := scan.hits(); len(h) > 0 {
		t.Errorf("raw secrets in the dashboard's answers:\n%s", strings.Join(h, "\n"))
	}
	t.Logf("scanned %d answers for %d secrets", len(scan.sources), len(scan.secrets))
}
