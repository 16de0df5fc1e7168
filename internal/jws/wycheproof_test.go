package jws

import (
	"encoding/json"
	"os"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// wycheproofSkip lists vectors whose expected result Provost deliberately
// does not follow, with the reason. Every other vector must match.
var wycheproofSkip = map[int]string{
	1:   "valid HS256: Provost never accepts symmetric algorithms (rejected with jws_symmetric_alg)",
	348: "valid HS256 (RFC 7520 figure 35): symmetric algorithms are never accepted",
	352: "valid HS256 (RFC 7520 figure 35): symmetric algorithms are never accepted",
	357: "valid HS256: symmetric algorithms are never accepted",
	358: "valid HS256: symmetric algorithms are never accepted",
	359: "valid HS256: symmetric algorithms are never accepted",
	372: "valid HS256 with '?' in the header segment: symmetric algorithms are never accepted, and Provost also rejects any character outside base64url",
	373: "valid HS256 with '?' in the payload segment: symmetric algorithms are never accepted, and Provost also rejects any character outside base64url",
	376: "valid HS256 (spaces in header JSON): symmetric algorithms are never accepted",
	377: "valid HS256 (whitespace in header JSON): symmetric algorithms are never accepted",
	346: "valid PS384 token checked with a JWK whose alg is PS256: Provost binds a JWK with an alg to that algorithm only (RFC 7517 section 4.4) and rejects it with jws_key_alg_mismatch",
	350: "valid PS384 token checked with a JWK whose alg is PS256: Provost binds a JWK with an alg to that algorithm only and rejects it with jws_key_alg_mismatch",
	347: "valid ES512 token checked with a JWK whose alg is the unregistered \"ES521\": Provost requires a JWK's alg to name the JWS algorithm",
	351: "valid ES512 token checked with a JWK whose alg is the unregistered \"ES521\": Provost requires a JWK's alg to name the JWS algorithm",
	355: "invalid because the JWK's key_ops is [\"encrypt\"]: go-jose's JSONWebKey does not carry key_ops, so Verify cannot see it; the key source (JWKS loader) must drop keys whose key_ops lacks \"verify\"",
	356: "invalid because the JWK's key_ops is [\"encrypt\"]: go-jose's JSONWebKey does not carry key_ops, so Verify cannot see it; the key source (JWKS loader) must drop keys whose key_ops lacks \"verify\"",
}

type wycheproofFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		Comment string          `json:"comment"`
		Public  json.RawMessage `json:"public"`
		Tests   []struct {
			TcID    int    `json:"tcId"`
			Comment string `json:"comment"`
			JWS     string `json:"jws"`
			Result  string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func TestWycheproof(t *testing.T) {
	data, err := os.ReadFile("testdata/wycheproof/json_web_signature_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var count, accepted, rejected, skipped, acceptable int
	seenSkip := map[int]bool{}
	for _, g := range f.TestGroups {
		var jwk *jose.JSONWebKey
		if len(g.Public) > 0 {
			jwk = new(jose.JSONWebKey)
			if err := jwk.UnmarshalJSON(g.Public); err != nil {
				t.Fatalf("group %q: public key: %v", g.Comment, err)
			}
		}
		for _, tc := range g.Tests {
			count++
			ok := wycheproofAccepts(tc.JWS, jwk)
			if why, skip := wycheproofSkip[tc.TcID]; skip {
				seenSkip[tc.TcID] = true
				skipped++
				t.Logf("tcId %d (%s, %s) skipped, Provost %s: %s", tc.TcID, tc.Comment, tc.Result, outcome(ok), why)
				continue
			}
			switch {
			case tc.Result == "acceptable":
				acceptable++
				t.Logf("tcId %d (%s) acceptable: Provost %s", tc.TcID, tc.Comment, outcome(ok))
			case tc.Result == "valid" && !ok:
				t.Errorf("tcId %d (%s): valid vector rejected", tc.TcID, tc.Comment)
			case tc.Result == "invalid" && ok:
				t.Errorf("tcId %d (%s): invalid vector accepted", tc.TcID, tc.Comment)
			}
			if ok {
				accepted++
			} else {
				rejected++
			}
		}
	}
	if count != f.NumberOfTests {
		t.Errorf("ran %d vectors, file declares %d", count, f.NumberOfTests)
	}
	for id := range wycheproofSkip {
		if !seenSkip[id] {
			t.Errorf("skip list names tcId %d, which is not in the file", id)
		}
	}
	t.Logf("wycheproof JWS: %d vectors: %d accepted, %d rejected as expected or acceptable (%d acceptable), %d skipped with reasons",
		count, accepted, rejected, acceptable, skipped)
}

// wycheproofAccepts runs one vector the way a Provost caller would: the
// allowed algorithm comes from the key (its JWK alg), or the header's alg when
// the key does not name one.
func wycheproofAccepts(compact string, jwk *jose.JSONWebKey) bool {
	tok, err := Parse(compact, 0)
	if err != nil {
		return false
	}
	allowed := []string{tok.Header.Alg}
	var key any
	if jwk != nil {
		key = jwk
		if jwk.Algorithm != "" {
			allowed = []string{jwk.Algorithm}
		}
	}
	return Verify(tok, allowed, key) == nil
}

func outcome(ok bool) string {
	if ok {
		return "accepts"
	}
	return "rejects"
}
