package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provost-dev/provost/internal/provosttest"
)

// soakKind is one kind of traffic in the mix: step sends one or two
// requests and judges each answer against what the kind expects.
type soakKind struct {
	name   string
	weight int
	step   func(c *soakClient, ctx context.Context)
}

// soakMix is the traffic: weights out of 16.
var soakMix = []soakKind{
	{"bearer", 5, (*soakClient).bearer},         // svc:reports from its datacenter address: allow
	{"dpop", 3, (*soakClient).dpop},             // agent:tool-caller, DPoP-bound, fresh proof: allow
	{"dpop-replay", 1, (*soakClient).replay},    // an accepted proof sent again: deny dpop_replayed
	{"invalid-token", 3, (*soakClient).invalid}, // forged, expired, wrong audience, ...: deny, rejected
	{"copied", 1, (*soakClient).copied},         // a token used from a second /24 at once: deny copied_credential
	{"malformed", 3, (*soakClient).malformed},   // refused requests: 400, 405, 413, 415
}

// soakPace hands out one step per tick, at rate a second: the clients
// together never exceed it, and ticks no client is free for are dropped.
func soakPace(ctx context.Context, rate int) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				close(ch)
				return
			case <-tick.C:
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch
}

// soakClient is one client goroutine with its own credentials and
// addresses: 10.40.ID.1 (datacenter) for svc:reports, 10.30.ID.5 for its
// DPoP-bound agent token.
type soakClient struct {
	id      int
	w       *provosttest.T
	foreign *provosttest.World // same issuer name and kid, another key
	api     string
	cl      *http.Client
	rng     *mrand.Rand
	tally   *soakTally

	bearerTok  string
	bearerUses int
	dpopKey    *ecdsa.PrivateKey
	dpopTok    string
	dpopUses   int
	n          int // steps taken, to cycle through variants
}

// A client's tokens are replaced after this many uses, as a workload
// refreshes its token: the server sees new credentials all along.
const soakTokenUses = 200

func newSoakClient(w *provosttest.T, foreign *provosttest.World, api string, id int, tally *soakTally) *soakClient {
	return &soakClient{id: id, w: w, foreign: foreign, api: api, tally: tally,
		cl:  &http.Client{Timeout: 30 * time.Second},
		rng: mrand.New(mrand.NewPCG(uint64(id), 0x50a6))}
}

func (c *soakClient) run(ctx context.Context, pace <-chan struct{}) {
	total := 0
	for _, k := range soakMix {
		total += k.weight
	}
	for range pace {
		if ctx.Err() != nil {
			return
		}
		c.n++
		pick := c.rng.IntN(total)
		for _, k := range soakMix {
			if pick < k.weight {
				k.step(c, ctx)
				break
			}
			pick -= k.weight
		}
	}
}

func (c *soakClient) datacenterPeer() string { return fmt.Sprintf("10.40.%d.1", c.id) }

func (c *soakClient) bearer(ctx context.Context) {
	if c.bearerTok == "" || c.bearerUses >= soakTokenUses {
		tok, err := c.w.Token("svc:reports", time.Hour, nil)
		if err != nil {
			c.tally.clientError("bearer", err)
			return
		}
		c.bearerTok, c.bearerUses = tok, 0
		c.tally.minted.Add(1)
	}
	c.bearerUses++
	c.expect(ctx, "bearer", map[string]any{"method": "GET", "target": "/v1/reports", "authorization": "Bearer " + c.bearerTok,
		"peer": c.datacenterPeer()}, soakAllow)
}

// dpopRequest is one DPoP-bound request with a fresh proof.
func (c *soakClient) dpopRequest() (map[string]any, error) {
	if c.dpopKey == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		c.dpopKey = k
	}
	if c.dpopTok == "" || c.dpopUses >= soakTokenUses {
		jkt, err := provosttest.JKT(c.dpopKey)
		if err != nil {
			return nil, err
		}
		tok, err := c.w.Token("agent:tool-caller", time.Hour, map[string]any{"cnf": map[string]any{"jkt": jkt}})
		if err != nil {
			return nil, err
		}
		c.dpopTok, c.dpopUses = tok, 0
		c.tally.minted.Add(1)
	}
	c.dpopUses++
	const target = "/v1/tools/invoke"
	proof, err := c.w.DPoPProof(c.dpopKey, "POST", target, c.dpopTok)
	if err != nil {
		return nil, err
	}
	return map[string]any{"method": "POST", "target": target, "authorization": "DPoP " + c.dpopTok, "dpop": proof,
		"peer": fmt.Sprintf("10.30.%d.5", c.id)}, nil
}

func (c *soakClient) dpop(ctx context.Context) {
	doc, err := c.dpopRequest()
	if err != nil {
		c.tally.clientError("dpop", err)
		return
	}
	c.expect(ctx, "dpop", doc, soakAllowDPoP)
}

func (c *soakClient) replay(ctx context.Context) {
	doc, err := c.dpopRequest()
	if err != nil {
		c.tally.clientError("dpop-replay", err)
		return
	}
	c.expect(ctx, "dpop", doc, soakAllowDPoP)
	c.expect(ctx, "dpop-replay", doc, soakDeny("dpop_replayed"))
}

// copied uses a fresh token from the client's datacenter address, then
// from another /24 of the same approved network: a second origin at the
// same time.
func (c *soakClient) copied(ctx context.Context) {
	tok, err := c.w.Token("svc:reports", time.Hour, nil)
	if err != nil {
		c.tally.clientError("copied", err)
		return
	}
	c.tally.minted.Add(1)
	doc := map[string]any{"method": "GET", "target": "/v1/reports", "authorization": "Bearer " + tok, "peer": c.datacenterPeer()}
	c.expect(ctx, "copied-first-use", doc, soakAllow)
	doc["peer"] = fmt.Sprintf("10.40.%d.9", 100+c.id)
	c.expect(ctx, "copied", doc, soakDeny("copied_credential"))
}

// invalid presents a credential that must be rejected, each variant with
// the credential reason it must get.
func (c *soakClient) invalid(ctx context.Context) {
	var (
		cred, want string
		err        error
	)
	switch c.n % 6 {
	case 0:
		cred, err = c.w.Token("svc:reports", time.Hour, nil)
		cred, want = cred[:len(cred)-8]+"AAAAAAAA", "jws_bad_signature"
	case 1:
		cred, err = c.w.Token("svc:reports", -time.Minute, nil)
		want = "expired"
	case 2:
		cred, err = c.w.Token("svc:reports", time.Hour, map[string]any{"aud": "https://elsewhere.test"})
		want = "audience_mismatch"
	case 3:
		cred, err = c.foreign.Token("svc:reports", time.Hour, nil)
		want = "jws_bad_signature"
	case 4:
		cred, want = "eyJhbGciOiJFUzI1NiJ9.e30", "jws_segment_count"
	default:
		cred, want = "sk_soak_"+strings.Repeat("x", 24), "opaque_credential_unknown"
	}
	if err != nil {
		c.tally.clientError("invalid-token", err)
		return
	}
	c.expect(ctx, "invalid-token", map[string]any{"method": "GET", "target": "/v1/reports", "authorization": "Bearer " + cred,
		"peer": c.datacenterPeer()}, soakRejected(want))
}

// malformed sends a request the server must refuse, each with its status.
func (c *soakClient) malformed(ctx context.Context) {
	type bad struct {
		method, path, ctype string
		body                []byte
		status              int
	}
	cases := []bad{
		{"POST", "/v1/check", "application/json", []byte(`{"method":"GET","target":`), http.StatusBadRequest},
		{"POST", "/v1/check", "application/json", []byte(`{"method":"GET","target":"/a/../b"}`), http.StatusBadRequest},
		{"POST", "/v1/check", "application/json", []byte(`{"method":"get","target":"/"}`), http.StatusBadRequest},
		{"POST", "/v1/check", "application/json", []byte(`{"method":"GET","target":"/","surprise":1}`), http.StatusBadRequest},
		{"POST", "/v1/check", "application/json", []byte(`{"method":"GET","target":"/","at":"2020-01-01T00:00:00Z"}`), http.StatusBadRequest},
		{"POST", "/v1/check", "text/plain", []byte(`{"method":"GET","target":"/"}`), http.StatusUnsupportedMediaType},
		{"POST", "/v1/check", "application/json", bytes.Repeat([]byte(" "), 2<<20), http.StatusRequestEntityTooLarge},
		{"GET", "/v1/check", "", nil, http.StatusMethodNotAllowed},
		{"GET", "/v1/forward-auth/r", "", nil, http.StatusUnauthorized}, // no credential at all
	}
	b := cases[c.n%len(cases)]
	req, err := http.NewRequestWithContext(ctx, b.method, c.api+b.path, bytes.NewReader(b.body))
	if err != nil {
		c.tally.clientError("malformed", err)
		return
	}
	if b.ctype != "" {
		req.Header.Set("Content-Type", b.ctype)
	}
	status, _, err := c.send(req)
	c.tally.record("malformed", fmt.Sprint(status), err, soakStatusIs(status, b.status, fmt.Sprintf("%s %s", b.method, b.path)))
}

// soakAnswer is what the soak reads of a check API answer.
type soakAnswer struct {
	Decision   string `json:"decision"`
	Credential struct {
		Verdict    string `json:"verdict"`
		Reason     string `json:"reason"`
		Possession struct {
			Method string `json:"method"`
		} `json:"possession"`
	} `json:"credential"`
	Reasons []struct {
		Code string `json:"code"`
	} `json:"reasons"`
}

func (a soakAnswer) codes() []string {
	var out []string
	for _, r := range a.Reasons {
		out = append(out, r.Code)
	}
	return out
}

// A soakWant judges an answer: "" when it is what the kind expects.
type soakWant func(a soakAnswer) string

func soakAllow(a soakAnswer) string {
	if a.Decision != "allow" || a.Credential.Verdict != "accepted" {
		return fmt.Sprintf("want allow, got %s (credential %s %s, reasons %v)", a.Decision, a.Credential.Verdict, a.Credential.Reason, a.codes())
	}
	return ""
}

// soakAllowDPoP is soakAllow with the proof of possession verified.
func soakAllowDPoP(a soakAnswer) string {
	if wrong := soakAllow(a); wrong != "" {
		return wrong
	}
	if a.Credential.Possession.Method != "dpop" {
		return fmt.Sprintf("allowed without a verified DPoP proof (possession %q)", a.Credential.Possession.Method)
	}
	return ""
}

func soakDeny(code string) soakWant {
	return func(a soakAnswer) string {
		if a.Decision != "deny" || !slices.Contains(a.codes(), code) {
			return fmt.Sprintf("want deny with %s, got %s %v", code, a.Decision, a.codes())
		}
		return ""
	}
}

func soakRejected(reason string) soakWant {
	return func(a soakAnswer) string {
		if a.Decision != "deny" || a.Credential.Verdict != "rejected" || a.Credential.Reason != reason {
			return fmt.Sprintf("want deny, credential rejected for %s; got %s, credential %s %s", reason, a.Decision, a.Credential.Verdict, a.Credential.Reason)
		}
		return ""
	}
}

func soakStatusIs(got, want int, what string) string {
	if got != want {
		return fmt.Sprintf("%s: want status %d, got %d", what, want, got)
	}
	return ""
}

// expect asks /v1/check about doc and judges the answer.
func (c *soakClient) expect(ctx context.Context, kind string, doc map[string]any, want soakWant) {
	body, err := json.Marshal(doc)
	if err != nil {
		c.tally.clientError(kind, err)
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api+"/v1/check", bytes.NewReader(body))
	if err != nil {
		c.tally.clientError(kind, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	status, b, err := c.send(req)
	if err != nil || status != http.StatusOK {
		c.tally.record(kind, fmt.Sprint(status), err, soakStatusIs(status, http.StatusOK, "check"))
		return
	}
	var a soakAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		c.tally.record(kind, "unreadable", nil, "answer is not JSON: "+err.Error())
		return
	}
	c.tally.record(kind, a.Decision, nil, want(a))
}

// send does req and reads up to 1 MiB of the answer. A request cut off by
// the end of the run returns errSoakCutOff, which record does not count.
func (c *soakClient) send(req *http.Request) (int, []byte, error) {
	resp, err := c.cl.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return 0, nil, errSoakCutOff
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && req.Context().Err() != nil {
		return 0, nil, errSoakCutOff
	}
	return resp.StatusCode, b, err
}

var errSoakCutOff = errors.New("cut off by the end of the soak")

// soakTally counts answers by kind and outcome, and keeps the first few
// unexpected ones.
type soakTally struct {
	minted     atomic.Int64 // valid tokens made: the distinct credentials the server accepts
	mu         sync.Mutex
	outcomes   map[string]int64 // "kind outcome" -> count
	requests   int64
	mismatches int64
	errors     int64
	status5xx  int64
	cutOff     int64
	samples    []string         // distinct unexpected answers, in order
	seen       map[string]int64 // how often each of samples came
}

func newSoakTally() *soakTally {
	return &soakTally{outcomes: map[string]int64{}, seen: map[string]int64{}}
}

// record counts one answer (or transport error) of kind; wrong is "" when
// the answer was the expected one.
func (t *soakTally) record(kind, outcome string, err error, wrong string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case errors.Is(err, errSoakCutOff):
		t.cutOff++
		return
	case err != nil:
		t.errors++
		t.requests++
		t.note(kind + ": " + err.Error())
		return
	}
	t.requests++
	t.outcomes[kind+" "+outcome]++
	if len(outcome) == 3 && outcome[0] == '5' {
		t.status5xx++
	}
	if wrong != "" {
		t.mismatches++
		t.note(kind + ": " + wrong)
	}
}

// clientError counts a failure of the soak client itself (minting a token).
func (t *soakTally) clientError(kind string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors++
	t.note(kind + " (client): " + err.Error())
}

// note keeps the first 20 distinct messages, each with how often it came.
func (t *soakTally) note(s string) {
	if n, ok := t.seen[s]; ok {
		t.seen[s] = n + 1
		return
	}
	if len(t.seen) < 20 {
		t.seen[s] = 1
		t.samples = append(t.samples, s)
	}
}

// soakCounts is a copy of a tally.
type soakCounts struct {
	outcomes                                             map[string]int64
	requests, mismatches, errors, status5xx, cut, minted int64
	samples                                              []string
}

func (t *soakTally) snapshot() soakCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := make(map[string]int64, len(t.outcomes))
	for k, v := range t.outcomes {
		o[k] = v
	}
	samples := make([]string, len(t.samples))
	for i, m := range t.samples {
		samples[i] = fmt.Sprintf("%s (×%d)", m, t.seen[m])
	}
	return soakCounts{outcomes: o, requests: t.requests, mismatches: t.mismatches, errors: t.errors,
		status5xx: t.status5xx, cut: t.cutOff, minted: t.minted.Load(), samples: samples}
}
