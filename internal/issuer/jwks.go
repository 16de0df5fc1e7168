package issuer

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/json"
)

const (
	// maxKeys bounds the keys in one set; real issuers publish a handful.
	maxKeys = 256
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
)

// problemKind says why a key was not kept.
type problemKind int

const (
	problemInvalid   problemKind = iota // unparsable or unsupported key
	problemPrivate                      // private or symmetric key material
	problemUse                          // "use" other than "sig", or "key_ops" without "verify"
	problemWeak                         // RSA under minRSABits
	problemDuplicate                    // kid already seen in this set
)

// keyProblem is one key that was not kept, and why.
type keyProblem struct {
	index int
	kid   string
	kind  problemKind
	msg   string
}

func (p *keyProblem) Error() string {
	if p.kid == "" {
		return fmt.Sprintf("key %d: %s", p.index, p.msg)
	}
	return fmt.Sprintf("key %d (kid %q): %s", p.index, p.kid, p.msg)
}

// fatal reports whether the problem rejects a whole set in strict mode; keys
// meant for something other than signatures are dropped in either mode.
func (p *keyProblem) fatal() bool { return p.kind != problemUse }

const privateMsg = "contains private or symmetric key material; Provost takes public keys only"

// keyMembers are the members read before go-jose parses a key, so that private
// material is refused before it is ever decoded into a key value.
type keyMembers struct {
	Kid string `json:"kid"`
	Use string `json:"use"`
	// KeyOps is nil when "key_ops" is absent (or null); go-jose does not
	// keep it, so it is checked here.
	KeyOps *[]string       `json:"key_ops"`
	D      json.RawMessage `json:"d"`
	P      json.RawMessage `json:"p"`
	Q      json.RawMessage `json:"q"`
	Dp     json.RawMessage `json:"dp"`
	Dq     json.RawMessage `json:"dq"`
	Qi     json.RawMessage `json:"qi"`
	K      json.RawMessage `json:"k"`
	Priv   json.RawMessage `json:"priv"`
}

func (m *keyMembers) private() bool {
	return m.D != nil || m.P != nil || m.Q != nil || m.Dp != nil || m.Dq != nil ||
		m.Qi != nil || m.K != nil || m.Priv != nil
}

// parseJWKS decodes a JWK Set (RFC 7517 §5) and checks every key. In strict
// mode (files) any bad key is an error naming it; otherwise (fetched sets) bad
// keys are dropped and returned as problems. Keys whose use is not "sig", and
// keys whose "key_ops" is present without "verify", are dropped in both modes.
// The input is untrusted: it never panics.
func parseJWKS(data []byte, strict bool) (jose.JSONWebKeySet, []*keyProblem, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return jose.JSONWebKeySet{}, nil, fmt.Errorf("invalid JWKS JSON: %w", err)
	}
	if doc.Keys == nil {
		return jose.JSONWebKeySet{}, nil, errors.New(`invalid JWKS: no "keys" array`)
	}
	raws := *doc.Keys
	if len(raws) > maxKeys {
		return jose.JSONWebKeySet{}, nil, fmt.Errorf("JWKS has %d keys; at most %d are accepted", len(raws), maxKeys)
	}
	c := newSetChecker(strict, len(raws))
	for i, raw := range raws {
		k, p := parseKey(i, raw)
		if err := c.add(i, k, p); err != nil {
			return jose.JSONWebKeySet{}, nil, err
		}
	}
	return jose.JSONWebKeySet{Keys: c.keys}, c.dropped, nil
}

// setChecker builds a checked set one key at a time.
type setChecker struct {
	strict  bool
	seen    map[string]bool
	keys    []jose.JSONWebKey
	dropped []*keyProblem
}

func newSetChecker(strict bool, n int) *setChecker {
	return &setChecker{strict: strict, seen: make(map[string]bool, n), keys: make([]jose.JSONWebKey, 0, n)}
}

// add checks key i (p is its parse problem, if any) and keeps it or records
// why not. In strict mode a fatal problem is returned as the error.
func (c *setChecker) add(i int, k jose.JSONWebKey, p *keyProblem) error {
	if p == nil {
		p = checkKey(i, &k)
	}
	if p == nil && k.KeyID != "" {
		if c.seen[k.KeyID] {
			p = &keyProblem{index: i, kid: k.KeyID, kind: problemDuplicate, msg: "duplicate kid in one set"}
		} else {
			c.seen[k.KeyID] = true
		}
	}
	switch {
	case p == nil:
		c.keys = append(c.keys, k)
	case c.strict && p.fatal():
		return p
	default:
		c.dropped = append(c.dropped, p)
	}
	return nil
}

// checkKey checks a parsed key: public, for signatures, well formed, strong.
func checkKey(i int, k *jose.JSONWebKey) *keyProblem {
	p := &keyProblem{index: i, kid: k.KeyID}
	if _, symmetric := k.Key.([]byte); symmetric {
		p.kind, p.msg = problemPrivate, privateMsg
		return p
	}
	if k.Key != nil && !k.IsPublic() {
		p.kind, p.msg = problemInvalid, "unsupported key type"
		if pub := k.Public(); pub.Key != nil {
			p.kind, p.msg = problemPrivate, privateMsg
		}
		return p
	}
	if k.Use != "" && k.Use != "sig" {
		p.kind, p.msg = problemUse, fmt.Sprintf("use %q is not \"sig\"", k.Use)
		return p
	}
	if !k.Valid() {
		p.kind, p.msg = problemInvalid, "not a valid public key"
		return p
	}
	if rk, ok := k.Key.(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
		p.kind, p.msg = problemWeak, fmt.Sprintf("RSA key has %d bits; at least %d are required", rk.N.BitLen(), minRSABits)
		return p
	}
	return nil
}

// parseKey decodes one JWK, refusing private members before go-jose sees them.
func parseKey(i int, raw []byte) (jose.JSONWebKey, *keyProblem) {
	var m keyMembers
	if err := json.Unmarshal(raw, &m); err != nil {
		return jose.JSONWebKey{}, &keyProblem{index: i, kind: problemInvalid, msg: "invalid JWK: " + err.Error()}
	}
	if m.private() {
		return jose.JSONWebKey{}, &keyProblem{index: i, kid: m.Kid, kind: problemPrivate, msg: privateMsg}
	}
	if m.Use != "" && m.Use != "sig" {
		return jose.JSONWebKey{}, &keyProblem{index: i, kid: m.Kid, kind: problemUse, msg: fmt.Sprintf("use %q is not \"sig\"", m.Use)}
	}
	if m.KeyOps != nil && !slices.Contains(*m.KeyOps, "verify") {
		return jose.JSONWebKey{}, &keyProblem{index: i, kid: m.Kid, kind: problemUse, msg: fmt.Sprintf("key_ops %q does not include \"verify\"", *m.KeyOps)}
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		msg := "invalid JWK: " + err.Error()
		if errors.Is(err, jose.ErrUnsupportedKeyType) {
			msg = "unsupported key type or curve"
		}
		return jose.JSONWebKey{}, &keyProblem{index: i, kid: m.Kid, kind: problemInvalid, msg: msg}
	}
	return k, nil
}
