package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "issuer.jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFile(t *testing.T) {
	privEC := ecJWK(t, "k-priv", true)
	privRSA := rsaKey(t, 2048)
	rsaPub := jose.JSONWebKey{Key: &privRSA.PublicKey, KeyID: "rsa", Algorithm: "RS256", Use: "sig"}
	encKey := ecJWK(t, "enc", false)
	encKey.Use = "enc"
	rawD, err := privEC.Key.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	secretD := base64.RawURLEncoding.EncodeToString(rawD)

	tests := []struct {
		name     string
		data     []byte
		wantKids []string // on success
		want     []string // substrings of the error
	}{
		{
			name:     "public keys; enc key left out",
			data:     jwksJSON(t, ecJWK(t, "ec", false), edJWK(t, "ed"), rsaPub, encKey),
			wantKids: []string{"ec", "ed", "rsa"},
		},
		{
			name: "private EC key",
			data: jwksJSON(t, ecJWK(t, "ec", false), privEC),
			want: []string{`key 1 (kid "k-priv")`, "contains private or symmetric key material; Provost takes public keys only"},
		},
		{
			name: "private RSA key",
			data: jwksJSON(t, jose.JSONWebKey{Key: privRSA, KeyID: "rsa-priv"}),
			want: []string{`key 0 (kid "rsa-priv")`, "contains private or symmetric key material; Provost takes public keys only"},
		},
		{
			name: "private key meant for encryption",
			data: []byte(`{"keys":[{"kty":"EC","use":"enc","crv":"P-256","x":"x","y":"y","d":"d"}]}`),
			want: []string{"key 0: contains private or symmetric key material"},
		},
		{
			name: "symmetric key",
			data: jwksJSON(t, octJWK("hmac")),
			want: []string{`key 0 (kid "hmac")`, "contains private or symmetric key material; Provost takes public keys only"},
		},
		{
			name: "small RSA",
			data: jwksJSON(t, jose.JSONWebKey{Key: &rsaKey(t, 1024).PublicKey, KeyID: "small"}),
			want: []string{`key 0 (kid "small")`, "RSA key has 1024 bits; at least 2048 are required"},
		},
		{
			name: "duplicate kid",
			data: jwksJSON(t, ecJWK(t, "same", false), edJWK(t, "same")),
			want: []string{`key 1 (kid "same")`, "duplicate kid"},
		},
		{
			name: "unsupported kty",
			data: []byte(`{"keys":[{"kty":"XYZ","kid":"odd"}]}`),
			want: []string{`key 0 (kid "odd")`, "unsupported key type"},
		},
		{
			name: "EC point off the curve",
			data: []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}]}`),
			want: []string{"key 0: invalid JWK", "not on declared curve"},
		},
		{name: "bad JSON", data: []byte(`{"keys":`), want: []string{"invalid JWKS JSON"}},
		{name: "no keys member", data: []byte(`{}`), want: []string{`no "keys" array`}},
		{name: "empty set", data: []byte(`{"keys":[]}`), want: []string{"no signing keys"}},
		{name: "only enc keys", data: jwksJSON(t, encKey), want: []string{"no signing keys"}},
		{name: "too large", data: make([]byte, maxFileBytes+1), want: []string{"larger than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.data)
			s, err := LoadFile(path)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				set, _ := s.Keys(context.Background(), "")
				if !slices.Equal(kids(set), tc.wantKids) {
					t.Fatalf("kids %v, want %v", kids(set), tc.wantKids)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadFile accepted the file")
			}
			msg := err.Error()
			for _, w := range append(tc.want, path) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, secretD) {
				t.Errorf("error %q contains private key material", msg)
			}
		})
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestNewStatic(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ec"}
	tests := []struct {
		name string
		keys []jose.JSONWebKey
		want string
	}{
		{"public", []jose.JSONWebKey{pub, edJWK(t, "ed")}, ""},
		{"private", []jose.JSONWebKey{{Key: ec, KeyID: "p"}}, privateMsg},
		{"symmetric", []jose.JSONWebKey{octJWK("s")}, privateMsg},
		{"small RSA", []jose.JSONWebKey{{Key: &rsaKey(t, 1024).PublicKey}}, "1024 bits"},
		{"duplicate kid", []jose.JSONWebKey{pub, pub}, "duplicate kid"},
		{"no key", []jose.JSONWebKey{{KeyID: "nil"}}, "not a valid public key"},
		{"unsupported type", []jose.JSONWebKey{{Key: "a string", KeyID: "str"}}, "unsupported key type"},
		{"empty", nil, "no signing keys"},
		{"too many", slices.Repeat([]jose.JSONWebKey{{}}, maxKeys+1), "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStatic(jose.JSONWebKeySet{Keys: tc.keys})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("NewStatic error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The static set is a copy: changing the caller's slice changes nothing.
			tc.keys[0].KeyID = "changed"
			set, err := s.Keys(context.Background(), "whatever")
			if err != nil || set.Keys[0].KeyID != "ec" || len(set.Keys) != len(tc.keys) {
				t.Fatalf("Keys: %v %v", err, kids(set))
			}
		})
	}
}

func TestKeyProblemText(t *testing.T) {
	for _, tc := range []struct {
		p    keyProblem
		want string
	}{
		{keyProblem{index: 3, msg: "m"}, "key 3: m"},
		{keyProblem{index: 0, kid: `a"b`, msg: "m"}, `key 0 (kid "a\"b"): m`},
	} {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestLoadFileKeyOps(t *testing.T) {
	enc := withKeyOps(t, ecJWK(t, "enc-ops", false), `["encrypt"]`)
	ver := withKeyOps(t, ecJWK(t, "verify-ops", false), `["verify"]`)
	s, err := ParseStatic("issuer.jwks.json", []byte(`{"keys":[`+enc+`,`+ver+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	set, _ := s.Keys(context.Background(), "")
	if !slices.Equal(kids(set), []string{"verify-ops"}) {
		t.Fatalf("kept kids %v, want [verify-ops]", kids(set))
	}
	_, err = ParseStatic("issuer.jwks.json", []byte(`{"keys":[`+enc+`]}`))
	if err == nil || !strings.Contains(err.Error(), "no signing keys") {
		t.Fatalf("only an encrypt key: error %v, want no signing keys", err)
	}
	_, err = ParseStatic("issuer.jwks.json", []byte(`{"keys":[`+withKeyOps(t, ecJWK(t, "bad", false), `"verify"`)+`]}`))
	if err == nil || !strings.Contains(err.Error(), "key 0: invalid JWK") {
		t.Fatalf("key_ops not an array: error %v, want it to name the key", err)
	}
}
