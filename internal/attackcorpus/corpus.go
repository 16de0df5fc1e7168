// Package attackcorpus generates and reads Provost's attack corpus, the
// files in testdata/attacks: requests that try to get past the credential
// and provenance checks (alg none, algorithm confusion, kid injection,
// header keys, ECDSA signature forms, oversized and malformed tokens,
// nested JWTs, other token kinds, claim tricks, duplicate JSON members,
// duplicate and spoofed headers), each with the reason codes and answers
// every transport must give, and a few controls that must be allowed.
//
// The corpus is generated, never edited by hand: keys come from fixed
// seeds, ECDSA signatures are deterministic (RFC 6979) and every time is
// At, so Generate gives the same bytes on every run. Regenerate with
//
//	go run ./internal/attackcorpus/gen
//
// from the repository root (or go generate ./internal/attackcorpus).
// TestAttackCorpus in the root package fails when testdata/attacks differs
// from what Generate makes, then runs every case through the check API,
// forward-auth, the reverse proxy and Envoy ext_authz.
//
// The keys are test keys derived from published seeds: never use them for
// anything real.
package attackcorpus

//go:generate go run ./gen -dir ../../testdata/attacks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The deployment the corpus is made for (testdata/attacks/provost.yaml).
const (
	Issuer      = "https://issuer.attacks.provost.test"
	OtherIssuer = "https://other-issuer.attacks.provost.test"
	Audience    = "https://api.attacks.provost.test"
	// Origin is the external origin DPoP proofs name.
	Origin      = Audience
	TrustDomain = "attacks.provost.test"

	// TrustedProxy is the only address in trust.proxies: nginx calling
	// forward-auth, or a load balancer in front of the other transports.
	TrustedProxy = "127.0.0.1"
	// BuildHost is the approved network of the deploy binding.
	BuildHost = "127.0.0.20"
	// Attacker is anywhere else.
	Attacker = "127.0.0.66"
	// OtherNetwork is an address in another /24 than BuildHost: another
	// origin for the origin history.
	OtherNetwork = "127.0.9.66"
	// KeyServer is where the header key URLs (jku, x5u), a URL kid and an
	// unknown issuer point: a test listens there and requires that
	// nothing ever connects.
	KeyServer = "127.0.0.77:47077"
)

// At is the time of every request in the corpus: a test runs Provost on a
// clock stopped at At.
var At = time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC)

// The transports a case is run through.
const (
	CheckAPI    = "check_api"    // POST /v1/check
	ForwardAuth = "forward_auth" // /v1/forward-auth
	Proxy       = "proxy"        // provost proxy in front of an upstream
	ExtAuthz    = "ext_authz"    // Envoy's gRPC Authorization/Check
)

// Transports lists every transport, in the order tests report them.
var Transports = []string{CheckAPI, ForwardAuth, Proxy, ExtAuthz}

// How forward-auth is called for a case (Request.ForwardAuth).
const (
	// ViaNginx (the default) calls forward-auth as docs/nginx.md's
	// auth_request does: from TrustedProxy, GET /v1/forward-auth, with the
	// client's headers, X-Original-Method and X-Original-URI set, the
	// client's address appended to X-Forwarded-For, and the headers the
	// recipe blanks or sets itself (Forwarded, X-Forwarded-Method,
	// X-Forwarded-Uri, X-Forwarded-Host, X-Forwarded-Proto,
	// X-Forwarded-Client-Cert, Client-Cert, Client-Cert-Chain) removed.
	ViaNginx = "nginx"
	// Direct has the client call forward-auth itself, from its own
	// address, with the headers it typed: an untrusted client sends its
	// method and /v1/forward-auth followed by its target; a trusted proxy
	// names the original request with X-Original-Method and
	// X-Original-URI.
	Direct = "direct"
)

// Case is one request of the corpus and what every transport must answer.
type Case struct {
	Name string `json:"name"`
	// Class groups cases by the kind of attack (alg_none, alg_confusion,
	// kid_injection, ...).
	Class string `json:"class"`
	// Attack says, in words, what the case attacks and how.
	Attack string `json:"attack"`
	// Setup are requests sent first, in order, through the same
	// transport (a token used and revoked, a proof used once).
	Setup   []Step  `json:"setup,omitempty"`
	Request Request `json:"request"`
	Expect  Expect  `json:"expect"`
}

// Step is one setup request and its expected answer.
type Step struct {
	Note    string  `json:"note"`
	Request Request `json:"request"`
	Expect  Expect  `json:"expect"`
}

// Request is the request as the client sends it.
type Request struct {
	Method string `json:"method"`
	Target string `json:"target"`
	// Peer is the address the client connects from.
	Peer string `json:"peer"`
	// Headers are the header lines, in order; a name may repeat.
	Headers [][2]string `json:"headers"`
	// ForwardAuth is ViaNginx (empty) or Direct.
	ForwardAuth string `json:"forward_auth,omitempty"`
}

// Values returns the values of every header line named name (compared
// case-insensitively), in order.
func (r Request) Values(name string) []string {
	var out []string
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

// Expect is what every transport must answer.
type Expect struct {
	// Decision is deny for every attack, allow for a control.
	Decision string `json:"decision"`
	// Credential is the credential verdict: accepted or rejected.
	Credential string `json:"credential"`
	// Reasons must each be among the decision's reason codes.
	Reasons []string `json:"reasons"`
	// Transports is the answer of each transport.
	Transports map[string]Answer `json:"transports"`
}

// Answer is a transport's answer: the HTTP status it gives (for the check
// API, its own status; for ext_authz, the status Envoy is told to give)
// and, for ext_authz, the gRPC status code.
type Answer struct {
	Status int    `json:"status"`
	GRPC   string `json:"grpc,omitempty"`
}

// File names in the corpus directory.
const (
	CasesFile    = "cases.jsonl"
	ControlsFile = "controls.jsonl"
	ConfigFile   = "provost.yaml"
)

// Load reads the attacks and controls of the corpus in dir and checks
// that each is complete: a unique name, a method, target and peer, and an
// answer for every transport; attacks deny, controls allow.
func Load(dir string) (attacks, controls []Case, err error) {
	if attacks, err = readCases(filepath.Join(dir, CasesFile)); err != nil {
		return nil, nil, err
	}
	if controls, err = readCases(filepath.Join(dir, ControlsFile)); err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, set := range []struct {
		cases    []Case
		decision string
	}{{attacks, "deny"}, {controls, "allow"}} {
		for _, c := range set.cases {
			if c.Name == "" || seen[c.Name] {
				return nil, nil, fmt.Errorf("attackcorpus: case name %q is empty or repeated", c.Name)
			}
			seen[c.Name] = true
			if c.Expect.Decision != set.decision {
				return nil, nil, fmt.Errorf("attackcorpus: case %s expects %q, want %q", c.Name, c.Expect.Decision, set.decision)
			}
			if err := c.check(); err != nil {
				return nil, nil, err
			}
		}
	}
	return attacks, controls, nil
}

func (c Case) check() error {
	steps := append(slices.Clone(c.Setup), Step{Request: c.Request, Expect: c.Expect})
	for _, s := range steps {
		r := s.Request
		if r.Method == "" || r.Target == "" || r.Peer == "" {
			return fmt.Errorf("attackcorpus: case %s: a request lacks its method, target or peer", c.Name)
		}
		if r.ForwardAuth != "" && r.ForwardAuth != ViaNginx && r.ForwardAuth != Direct {
			return fmt.Errorf("attackcorpus: case %s: forward_auth %q", c.Name, r.ForwardAuth)
		}
		if len(s.Expect.Reasons) == 0 {
			return fmt.Errorf("attackcorpus: case %s: no expected reason", c.Name)
		}
		for _, tr := range Transports {
			if _, ok := s.Expect.Transports[tr]; !ok {
				return fmt.Errorf("attackcorpus: case %s: no expected answer for %s", c.Name, tr)
			}
		}
	}
	return nil
}

func readCases(path string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Case
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var c Case
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}
