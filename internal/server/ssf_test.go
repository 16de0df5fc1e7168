package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/ssf"
	"github.com/provost-dev/provost/revocation"
)

// peer is one Provost of the SSF test: its world, its key, and the
// loopback listener its server answers on.
type peer struct {
	name string
	w    *provosttest.T
	key  *ecdsa.PrivateKey
	ln   net.Listener
	app  *app.App
}

func (p *peer) issuer() string   { return "https://" + p.name + ".provost.test" }
func (p *peer) endpoint() string { return "http://" + p.ln.Addr().String() + PathSSFEvents }

func newPeerKey(t *testing.T, name string) *peer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &peer{name: name, key: key, ln: ln}
}

// ssfSection is the ssf section of p's configuration: a transmitter to
// each peer in to, a receiver trusting each peer in from.
func ssfSection(p *peer, to, from []*peer) string {
	s := "ssf:\n"
	if len(to) > 0 {
		s += fmt.Sprintf("  transmitter:\n    issuer: %s\n    key_file: ssf.key.pem\n    key_id: %s-1\n    initial_backoff: 10ms\n    max_backoff: 50ms\n    streams:\n", p.issuer(), p.name)
		for _, q := range to {
			s += fmt.Sprintf("      - {id: %s, endpoint: %q, audience: %s, authorization_file: to-%s.header}\n", q.name, q.endpoint(), q.issuer(), q.name)
		}
	}
	if len(from) > 0 {
		s += "  receiver:\n    transmitters:\n"
		for _, q := range from {
			s += fmt.Sprintf("      - {issuer: %s, audience: %s, jwks_file: %s.jwks.json, algorithms: [ES256], authorization_file: from-%s.header}\n",
				q.issuer(), p.issuer(), q.name, q.name)
		}
	}
	return s
}

func pushSecret(from, to *peer) string { return "Bearer " + from.name + "-to-" + to.name + "-secret" }

// open builds p's world with its ssf section, writes the key, JWKS and
// authorization files it names, opens the App and serves it on p.ln.
func (p *peer) open(t *testing.T, to, from []*peer) {
	t.Helper()
	p.w = provosttest.New(t, provosttest.Options{Config: ssfSection(p, to, from)})
	der, err := x509.MarshalPKCS8PrivateKey(p.key)
	if err != nil {
		t.Fatal(err)
	}
	p.w.Write("ssf.key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	for _, q := range to {
		p.w.Write("to-"+q.name+".header", pushSecret(p, q)+"\n")
	}
	for _, q := range from {
		p.w.Write(q.name+".jwks.json", string(publicJWKS(t, q)))
		p.w.Write("from-"+q.name+".header", pushSecret(q, p)+"\n")
	}
	p.app = p.w.App("")
	srv := httptest.NewUnstartedServer(New(ForApp(p.app), config.Serve{}, nil).Handler())
	srv.Listener.Close()
	srv.Listener = p.ln
	srv.Start()
	t.Cleanup(srv.Close)
}

func publicJWKS(t *testing.T, p *peer) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: p.key.Public(), KeyID: p.name + "-1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listRevocations(t *testing.T, a *app.App) []revocation.Revocation {
	t.Helper()
	list, err := a.Revocations.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasValue(list []revocation.Revocation, kind revocation.Kind, value string) int {
	n := 0
	for _, r := range list {
		if r.Kind == kind && r.Value == value {
			n++
		}
	}
	return n
}

// Two Provosts that stream revocations to each other: a revocation made on
// one reaches the other, and is never sent back.
func TestSSFTwoProvosts(t *testing.T) {
	a, b := newPeerKey(t, "a"), newPeerKey(t, "b")
	a.open(t, []*peer{b}, []*peer{b})
	b.open(t, []*peer{a}, []*peer{a})
	ctx := context.Background()

	// A fingerprint revocation made on A reaches B.
	fp := a.app.Fingerprint("leaked-api-key-1")
	if _, err := a.app.Revocations.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp, Reason: "leaked"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A's revocation on B", func() bool { return hasValue(listRevocations(t, b.app), revocation.KindFingerprint, fp) == 1 })
	waitFor(t, "A's SET delivered", func() bool { return a.app.SSF.Transmitter.Stats().Delivered == 1 })
	if got := b.app.SSF.Receiver.Stats().Revocations; got != 1 {
		t.Fatalf("B's receiver handed over %d revocations, want 1", got)
	}

	// A revocation made on B reaches A: B's transmitter works...
	sub := revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:reports", Issuer: provosttest.Issuer, Reason: "offboarded"}
	if _, err := b.app.Revocations.Add(ctx, sub); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's revocation on A", func() bool { return hasValue(listRevocations(t, a.app), revocation.KindSubject, "svc:reports") == 1 })
	waitFor(t, "B's SET delivered", func() bool { return b.app.SSF.Transmitter.Stats().Delivered == 1 })

	// ...but neither sent on what it received: each queued its own SET
	// only, and neither store holds a duplicate. (A receiver answers 202
	// after OnRevocation returned, and Notify queues synchronously in Add,
	// so a SET sent back would be counted by now.)
	if q := a.app.SSF.Transmitter.Stats().Queued; q != 1 {
		t.Fatalf("A queued %d SETs, want 1 (its own revocation only)", q)
	}
	if q := b.app.SSF.Transmitter.Stats().Queued; q != 1 {
		t.Fatalf("B queued %d SETs, want 1 (its own revocation only)", q)
	}
	for _, p := range []*peer{a, b} {
		list := listRevocations(t, p.app)
		if len(list) != 2 || hasValue(list, revocation.KindFingerprint, fp) != 1 || hasValue(list, revocation.KindSubject, "svc:reports") != 1 {
			t.Fatalf("%s holds %+v, want the fingerprint and the subject revocation once each", p.name, list)
		}
	}

	// The transmitter's keys and SSF configuration are published.
	var set jose.JSONWebKeySet
	getJSON(t, "http://"+a.ln.Addr().String()+PathSSFJWKS, &set)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != "a-1" || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS %+v", set)
	}
	var conf map[string]any
	getJSON(t, "http://"+a.ln.Addr().String()+PathSSFConfig, &conf)
	if conf["issuer"] != a.issuer() || conf["jwks_uri"] != a.issuer()+PathSSFJWKS || conf["spec_version"] != "1_0" {
		t.Fatalf("configuration %v", conf)
	}
}

// A SET for another audience, signed with A's key, is refused by B with
// the RFC 8935 error and adds nothing.
func TestSSFWrongAudienceRefused(t *testing.T) {
	a, b := newPeerKey(t, "a"), newPeerKey(t, "b")
	b.open(t, nil, []*peer{a})
	ctx := context.Background()

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: a.key, KeyID: "a-1"}},
		(&jose.SignerOptions{}).WithType(ssf.TokenType))
	if err != nil {
		t.Fatal(err)
	}
	set := func(aud string) string {
		claims, _ := json.Marshal(map[string]any{
			"iss": a.issuer(), "jti": "set-" + aud, "iat": time.Now().Unix(), "aud": aud,
			"sub_id": map[string]any{"format": "opaque", "id": b.app.Fingerprint("leaked-api-key-2")},
			"events": map[string]any{ssf.EventCredentialChange: map[string]any{"credential_type": "api_key", "change_type": "revoke"}},
		})
		obj, err := signer.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		s, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	push := func(token string) (int, map[string]string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.endpoint(), strings.NewReader(token))
		req.Header.Set("Content-Type", ssf.ContentType)
		req.Header.Set("Authorization", pushSecret(a, b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &body)
		return resp.StatusCode, body
	}

	status, body := push(set("https://wrong.provost.test"))
	if status != http.StatusBadRequest || body["err"] != ssf.CodeInvalidAudience {
		t.Fatalf("wrong audience: %d %v, want 400 invalid_audience", status, body)
	}
	if list := listRevocations(t, b.app); len(list) != 0 {
		t.Fatalf("a refused SET added %+v", list)
	}
	// The same SET for B's audience is accepted: the refusal was the
	// audience's.
	if status, body := push(set(b.issuer())); status != http.StatusAccepted {
		t.Fatalf("right audience: %d %v, want 202", status, body)
	}
	if list := listRevocations(t, b.app); len(list) != 1 || list[0].Kind != revocation.KindFingerprint {
		t.Fatalf("after the accepted SET: %+v", list)
	}
}

// Without an ssf section the three routes are not there.
func TestSSFRoutesNotConfigured(t *testing.T) {
	h := New(Deps{}, config.Serve{}, nil).Handler()
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, PathSSFEvents}, {http.MethodGet, PathSSFJWKS}, {http.MethodGet, PathSSFConfig},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, bytes.NewReader(nil)))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s %s: %d, want 404", c.method, c.path, rec.Code)
		}
	}
	// With them, a wrong method is refused.
	h = New(Deps{SSFJWKS: []byte(`{"keys":[]}`), SSFConfiguration: []byte(`{}`), SSFEvents: http.NotFoundHandler()}, config.Serve{}, nil).Handler()
	for _, p := range []string{PathSSFJWKS, PathSSFConfig} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, p, nil))
		if rec.Code != http.StatusMethodNotAllowed || !slices.Contains(strings.Split(rec.Header().Get("Allow"), ", "), "GET") {
			t.Fatalf("POST %s: %d %v", p, rec.Code, rec.Header())
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
