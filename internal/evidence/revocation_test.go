package evidence

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/revocation"
)

// operatorRevocation is the revocation of the golden revocation record:
// the test credential revoked by fingerprint from the dashboard.
func operatorRevocation(t testing.TB) revocation.Revocation {
	return revocation.Revocation{
		ID: "rev_0123456789abcdef0123456789abcdef", Kind: revocation.KindFingerprint, Value: testFingerprint(t),
		Reason: "INC-7: copied token", CreatedAt: decidedAt, ExpiresAt: decidedAt.Add(30 * 24 * time.Hour),
	}
}

func revocationRecord(t testing.TB) Record {
	return FromRevocation(operatorRevocation(t), "dashboard: alice", "req-0004")
}

func TestGoldenRevocationRecord(t *testing.T) {
	r := revocationRecord(t)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "revocation.json", append(b, '\n'))
	for _, want := range []string{`{"v":2,"time":"2026-03-01T12:00:00.123456789Z","request_id":"req-0004","event":"revocation","revocation":{`,
		`"kind":"fingerprint","value":"` + testFingerprint(t) + `"`, `"client":"dashboard: alice"`, `"expires_at":"2026-03-31T12:00:00.123456789Z"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the record lacks %s:\n%s", want, b)
		}
	}
	for _, unwanted := range []string{rawToken, `"decision"`, `"credential"`, `"provenance"`} {
		if bytes.Contains(b, []byte(unwanted)) {
			t.Errorf("the record holds %s:\n%s", unwanted, b)
		}
	}
	back, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal of the revocation record: %v", err)
	}
	if !equal(back, r) {
		t.Errorf("Unmarshal(Marshal(r)) != r:\n got %+v\nwant %+v", back, r)
	}
	if back.IsDecision() || back.Fingerprint() != testFingerprint(t) {
		t.Errorf("IsDecision %v, Fingerprint %q: want an event about the test credential", back.IsDecision(), back.Fingerprint())
	}
	// A revocation of another kind names no single credential.
	byJTI := operatorRevocation(t)
	byJTI.Kind, byJTI.Value = revocation.KindJTI, "b7f1c2"
	jti := FromRevocation(byJTI, "token", "")
	if fp := jti.Fingerprint(); fp != "" {
		t.Errorf("a jti revocation's Fingerprint is %q, want none", fp)
	}
}

// A decision record is still version 1, byte for byte: the new fields are
// absent from it.
func TestDecisionRecordsStayVersion1(t *testing.T) {
	for name, s := range scenarios(t) {
		r := s.record()
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(`{"v":1,`)) || bytes.Contains(b, []byte(`"event":"revocation"`)) || bytes.Contains(b, []byte(`"revocation":{`)) {
			t.Errorf("%s: %s", name, b)
		}
		if !r.IsDecision() || r.Fingerprint() != r.Credential.Fingerprint {
			t.Errorf("%s: IsDecision %v, Fingerprint %q", name, r.IsDecision(), r.Fingerprint())
		}
	}
}

func TestUnmarshalRejectsBadEventRecords(t *testing.T) {
	good, err := revocationRecord(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	allow, err := scenarios(t)["allow"].record().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(in []byte, old, new string) []byte {
		t.Helper()
		if !bytes.Contains(in, []byte(old)) {
			t.Fatalf("the record has no %q", old)
		}
		return bytes.Replace(in, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"event as version 1", edit(good, `"v":2`, `"v":1`)},
		{"event as version 3", edit(good, `"v":2`, `"v":3`)},
		{"unknown event", edit(good, `"event":"revocation"`, `"event":"reload"`)},
		{"no event", edit(good, `"event":"revocation",`, ``)},
		{"decision as version 2", edit(allow, `"v":1`, `"v":2`)},
		{"decision with a revocation", edit(allow, `}}`, `},"revocation":{"id":"r","kind":"jti","value":"j"}}`)},
		{"decision with an event", edit(allow, `}}`, `},"event":"revocation"}`)},
		{"revocation with a decision", edit(good, `"event":"revocation"`, `"decision":"deny","event":"revocation"`)},
		{"revocation with a credential", edit(good, `"event":"revocation"`, `"credential":{"verdict":"rejected"},"event":"revocation"`)},
		{"revocation without an id", edit(good, `"id":"rev_0123456789abcdef0123456789abcdef",`, ``)},
		{"unknown revocation field", edit(good, `"client"`, `"secret":"x","client"`)},
		{"fields reordered", edit(good, `"request_id":"req-0004","event":"revocation"`, `"event":"revocation","request_id":"req-0004"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Unmarshal(tt.data); !errors.Is(err, ErrInvalid) {
				t.Errorf("Unmarshal = %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
	if _, err := Unmarshal(good); err != nil {
		t.Fatalf("the valid record is rejected: %v", err)
	}
}

func TestMarshalRejectsInvalidEventRecords(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Record)
	}{
		{"version 1", func(r *Record) { r.Version = Version }},
		{"zero time", func(r *Record) { r.Time = Instant{} }},
		{"unknown event", func(r *Record) { r.Event = "reload" }},
		{"no revocation id", func(r *Record) { r.Revocation.ID = "" }},
		{"no value", func(r *Record) { r.Revocation.Value = "" }},
		{"a decision", func(r *Record) { r.Decision = decision.Deny }},
		{"an action", func(r *Record) { r.Actions = []decision.Action{decision.Revoke} }},
		{"a fingerprint", func(r *Record) { r.Credential.Fingerprint = r.Revocation.Value }},
		{"year 0 issued_before", func(r *Record) { r.Revocation.IssuedBefore = At(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := revocationRecord(t)
			tt.change(&r)
			if _, err := r.Marshal(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Marshal = %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}

// An event record gives no OCSF event, whatever the classes; JSON lines
// carry it as it is.
func TestOCSFSkipsEventRecords(t *testing.T) {
	recs := []Record{revocationRecord(t), scenarios(t)["deny-revoke"].record()}
	all := OCSFClasses{Authentication: true, APIActivity: true}
	if evs := OCSFEvents(recs[0], all); len(evs) != 0 {
		t.Errorf("the revocation record gives %d OCSF events, want none", len(evs))
	}
	var b strings.Builder
	if err := WriteOCSF(&b, func(yield func(Record) bool) {
		for _, r := range recs {
			if !yield(r) {
				return
			}
		}
	}, all); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 2 {
		t.Errorf("%d OCSF lines for a revocation record and a decision record, want the decision's 2:\n%s", n, b.String())
	}
	if strings.Contains(b.String(), recs[0].Revocation.ID) {
		t.Error("the OCSF export carries the revocation record")
	}
	var jl bytes.Buffer
	if err := WriteJSONLines(&jl, func(yield func(Record) bool) { yield(recs[0]) }); err != nil {
		t.Fatal(err)
	}
	want, _ := recs[0].Marshal()
	if !bytes.Equal(jl.Bytes(), append(want, '\n')) {
		t.Errorf("JSON lines: %s", jl.Bytes())
	}
}
