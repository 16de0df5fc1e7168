package evidence

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	goldenfile "github.com/provost-dev/provost/internal/golden"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, "")
}

func TestGoldenRecords(t *testing.T) {
	for name, s := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			r := s.record()
			b, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".json", append(b, '\n'))
			back, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal of the golden record: %v", err)
			}
			if !equal(back, r) {
				t.Errorf("Unmarshal(Marshal(r)) != r:\n got %+v\nwant %+v", back, r)
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	r := scenarios(t)["deny-revoke"].record()
	first, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The same record in another zone and with unsorted sets is the same record.
	r.Time = Instant{r.Time.In(time.FixedZone("UTC+5", 5*3600))}
	r.Actions = []decision.Action{decision.Revoke, decision.Alert}
	r.Signals.Network.Sets = []string{"runners", "corp"}
	for range 20 {
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, first) {
			t.Fatalf("Marshal is not deterministic:\n%s\n%s", b, first)
		}
	}
	if r.Actions[0] != decision.Revoke {
		t.Error("Marshal sorted the caller's slice in place")
	}
}

func TestEncodingRules(t *testing.T) {
	r := scenarios(t)["rejected"].record()
	r.Credential.Message = `<a href="x">&</a>`
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`{"v":1,"time":"2026-03-01T12:00:00.123456789Z",`, `<a href=\"x\">&</a>`} {
		if !strings.Contains(s, want) {
			t.Errorf("encoding lacks %s:\n%s", want, s)
		}
	}
	for _, unwanted := range []string{"\n", " :", ": ", `\u003c`, `"present":false`, `"checks":[]`, `"signals":{"workload"`} {
		if strings.Contains(s, unwanted) {
			t.Errorf("encoding contains %q:\n%s", unwanted, s)
		}
	}
}

// TestRoundTripProperty checks Marshal∘Unmarshal∘Marshal = Marshal on
// random records.
func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		r := randomRecord(rng)
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("case %d: Marshal: %v\n%+v", i, err, r)
		}
		back, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("case %d: Unmarshal: %v\n%s", i, err, b)
		}
		again, err := back.Marshal()
		if err != nil {
			t.Fatalf("case %d: second Marshal: %v", i, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("case %d: round trip changed the bytes:\n%s\n%s", i, b, again)
		}
	}
}

func randomRecord(rng *rand.Rand) Record {
	str := func() string {
		parts := []string{"", "a", "spiffe://example.org/x", `"`, `\`, "<&>", "\u2028", "é", "😀", "\x00", "\x7f", "\xff", " ", "\t\n"}
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		return b.String()
	}
	strs := func() []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, str())
		}
		return out
	}
	instant := func() Instant {
		if rng.IntN(3) == 0 {
			return Instant{}
		}
		return At(time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)))
	}
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	if rng.IntN(4) == 0 { // an event record: an operator's revocation
		return Record{Version: EventVersion, Time: At(time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9))), RequestID: str(),
			Event: EventRevocation, Revocation: Revocation{ID: "rev_" + str(), Kind: pick("fingerprint", "jti", "subject"),
				Value: "v" + str(), Issuer: str(), IssuedBefore: instant(), Reason: str(), ExpiresAt: instant(), Client: str()}}
	}
	r := Record{
		Version: Version, Time: At(time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9))), RequestID: str(),
		Request:    Request{Method: str(), Path: str()},
		Decision:   decision.Outcome(pick("allow", "step_up", "deny")),
		Provenance: decision.Provenance(pick("verified", "violated", "insufficient")),
		Mode:       binding.Mode(pick("", "enforce", "monitor")), Binding: str(), BindingsDigest: str(),
		Credential: Credential{Verdict: credential.Verdict(pick("accepted", "rejected")), Reason: reason.Code(str()),
			Message: str(), Fingerprint: str(),
			Issuer: Issuer{Issuer: str(), Subject: str(), Audience: strs(), IssuedAt: instant(), ExpiresAt: instant(),
				AgeSeconds: rng.Int64N(1<<40) - 1<<39, Cnf: Confirmation{X5TS256: str()}}},
		Signals: Signals{
			Workload: Workload{Present: rng.IntN(2) == 0, ID: str(), NotAfter: instant(), Problem: Problem{Code: reason.Code(str())}},
			Network:  Network{Client: pick("", "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"), Sets: strs()},
			Proxy:    Proxy{Present: rng.IntN(2) == 0, Hops: strs()},
			Time:     TimeOfUse{TokenAgeNanos: rng.Int64(), HasTokenAge: rng.IntN(2) == 0, LastSeen: instant()},
		},
		Actions: []decision.Action{decision.Action(pick("alert", "revoke")), decision.Action(str())},
		Origin:  Origin{Workload: str(), ProxyChain: str()},
	}
	for range rng.IntN(3) {
		r.Checks = append(r.Checks, Check{Signal: signal.Name(str()), Status: binding.Status(str()), Observed: str(), Evidence: rng.IntN(2) == 0})
		r.Reasons = append(r.Reasons, Reason{Code: reason.Code(str()), Message: str()})
		r.Tags = append(r.Tags, Tag{Framework: str(), ID: str(), Name: str()})
		r.Credential.Issuer.Act = append(r.Credential.Issuer.Act, Actor{Subject: str()})
	}
	return r
}

func TestUnmarshalRejects(t *testing.T) {
	good, err := scenarios(t)["allow"].record().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(good); err != nil {
		t.Fatalf("the valid record is rejected: %v", err)
	}
	// edit replaces old by new in the valid record; it fails the test when
	// old is not there, so every case really changes the input.
	edit := func(old, new string) []byte {
		t.Helper()
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("the record has no %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not an object", []byte(`[1]`)},
		{"unknown field", edit(`"request_id"`, `"extra":1,"request_id"`)},
		{"no version", edit(`"v":1,`, ``)},
		{"version 2", edit(`"v":1`, `"v":2`)},
		{"version as string", edit(`"v":1`, `"v":"1"`)},
		{"version 1.0", edit(`"v":1`, `"v":1.0`)},
		{"upper-case key", edit(`"v":1`, `"V":1`)},
		{"fields reordered", edit(`"v":1,"time":"2026-03-01T12:00:00.123456789Z"`, `"time":"2026-03-01T12:00:00.123456789Z","v":1`)},
		{"duplicate key", edit(`"request_id":"req-0001"`, `"request_id":"x","request_id":"req-0001"`)},
		{"whitespace", edit(`"v":1,`, `"v": 1,`)},
		{"trailing newline", append(bytes.Clone(good), '\n')},
		{"trailing data", append(bytes.Clone(good), []byte(`{}`)...)},
		{"time with fewer digits", edit(`12:00:00.123456789Z`, `12:00:00.123Z`)},
		{"time with an offset", edit(`12:00:00.123456789Z`, `13:00:00.123456789+01:00`)},
		{"time not a string", edit(`"time":"2026-03-01T12:00:00.123456789Z"`, `"time":1`)},
		{"explicit false", edit(`"present":true`, `"present":false`)},
		{"explicit null", edit(`"request_id":"req-0001"`, `"request_id":null`)},
		{"explicit empty list", edit(`"request_id":"req-0001"`, `"request_id":"req-0001","checks":[]`)},
		{"unsorted list", edit(`"aud":["api","https://provost.example"]`, `"aud":["https://provost.example","api"]`)},
		{"escaped letter", edit(`"kid":"k1"`, `"kid":"\u006b1"`)},
		{"address not canonical", edit(`"client":"192.0.2.10"`, `"client":"192.000.2.10"`)},
		{"bad decision", edit(`"decision":"allow"`, `"decision":"maybe"`)},
		{"too large", append(bytes.Clone(good), bytes.Repeat([]byte(" "), MaxRecordBytes)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Unmarshal(tt.data); !errors.Is(err, ErrInvalid) {
				t.Errorf("Unmarshal = %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}

func TestMarshalRejectsInvalidRecords(t *testing.T) {
	base := scenarios(t)["allow"].record()
	tests := []struct {
		name   string
		change func(*Record)
	}{
		{"version 0", func(r *Record) { r.Version = 0 }},
		{"zero time", func(r *Record) { r.Time = Instant{} }},
		{"year 10000", func(r *Record) { r.Time = At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) }},
		{"year 10000 inside", func(r *Record) { r.Credential.Issuer.ExpiresAt = At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) }},
		{"no decision", func(r *Record) { r.Decision = "" }},
		{"no provenance", func(r *Record) { r.Provenance = "" }},
		{"no verdict", func(r *Record) { r.Credential.Verdict = "" }},
		{"bad address", func(r *Record) { r.Signals.Network.Peer = "10.0.0.256" }},
		{"too large", func(r *Record) { r.Credential.Message = strings.Repeat("m", MaxRecordBytes) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.change(&r)
			if _, err := r.Marshal(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Marshal = %v, want an error wrapping ErrInvalid", err)
			}
			if _, err := r.ID(); err == nil {
				t.Error("ID of an invalid record has no error")
			}
		})
	}
}

func TestID(t *testing.T) {
	sc := scenarios(t)
	a, err := sc["allow"].record().ID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sc["deny-revoke"].record().ID()
	if len(a) != 64 || a == b {
		t.Errorf("IDs %q and %q: want two different 64-hex-digit hashes", a, b)
	}
	if fp := testFingerprint(t); strings.Contains(a, fp) {
		t.Error("the ID contains the fingerprint")
	}
	// The ID is the RFC 6962 leaf hash: pin it so a change of encoding shows.
	golden(t, "allow.id", []byte(a+"\n"))
}

// TestMarshalFastPathAgrees: the fast path (encode as is) and the
// sanitizing path give the bytes the sanitized record gives, whether a
// string holds an invalid byte, a real U+FFFD, or the text \ufffd; the
// caller's lists are neither sanitized nor sorted in place.
func TestMarshalFastPathAgrees(t *testing.T) {
	for _, v := range []string{"plain", "bad\xffbyte", "real\ufffdchar", `text\ufffd`, "\\\xff"} {
		aud := []string{"z", v, "a"}
		r := Record{Version: Version, Time: At(time.Unix(1, 0)), Decision: "deny", Provenance: "violated",
			Credential: Credential{Verdict: "rejected", Reason: "x", Issuer: Issuer{Audience: aud}}, RequestID: v}
		got, err := r.Marshal()
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		want, err := encode(r.canonical())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%q: Marshal\n%s\nwant\n%s", v, got, want)
		}
		if aud[0] != "z" || aud[1] != v {
			t.Errorf("%q: the caller's audiences changed: %q", v, aud)
		}
		back, err := Unmarshal(got)
		if err != nil {
			t.Fatalf("%q: Unmarshal: %v", v, err)
		}
		if !utf8.ValidString(back.RequestID) {
			t.Errorf("%q: decoded request id is not valid UTF-8", v)
		}
	}
}
