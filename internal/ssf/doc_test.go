package ssf

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/revocation"
)

// detRand is a deterministic byte stream (SHA-256 in counter mode).
type detRand struct {
	seed string
	n    uint64
	buf  []byte
}

func (d *detRand) Read(p []byte) (int, error) {
	for len(d.buf) < len(p) {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], d.n)
		d.n++
		sum := sha256.Sum256(append([]byte(d.seed), c[:]...))
		d.buf = append(d.buf, sum[:]...)
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

// exampleSET builds the SET docs/ssf.md shows: a fingerprint revocation,
// signed with an Ed25519 key derived from a public string (Ed25519
// signatures are deterministic, so the token is too).
func exampleSET(t *testing.T) (*Transmitter, string) {
	t.Helper()
	seed := sha256.Sum256([]byte("provost docs/ssf.md example key"))
	secret := sha256.Sum256([]byte("provost docs/ssf.md example fingerprint secret"))
	fpr, err := fingerprint.New(secret[:])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tx, err := NewTransmitter(TransmitterConfig{
		Issuer: "https://provost.acme.test",
		Key:    ed25519.NewKeyFromSeed(seed[:]),
		KeyID:  "provost-ssf-2026-06",
		Streams: []Stream{{
			ID: "siem", EndpointURL: "https://siem.acme.test/ssf/events", Audience: "https://siem.acme.test",
		}},
		Now:  func() time.Time { return now },
		Rand: &detRand{seed: "provost docs/ssf.md example ids"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Close(context.Background()) })
	rev := revocation.Revocation{
		ID: "rev_01", Kind: revocation.KindFingerprint, Value: fpr.Of("example-ci-token"),
		Reason: "used from an unapproved build host", CreatedAt: now.Add(-30 * time.Second),
	}
	// What Notify does for one stream, without the delivery.
	typ, sub, body, err := eventFor(rev, now, false)
	if err != nil {
		t.Fatal(err)
	}
	txn, err := tx.newID()
	if err != nil {
		t.Fatal(err)
	}
	j, err := tx.newJob(tx.workers[0], now, txn, typ, sub, body)
	if err != nil {
		t.Fatal(err)
	}
	return tx, j.set
}

// TestDocExampleSET keeps docs/ssf.md true: its example SET (header,
// payload, compact form and JWKS) is what the Transmitter builds, and the
// Receiver turns it back into the same fingerprint revocation.
func TestDocExampleSET(t *testing.T) {
	tx, set := exampleSET(t)
	segs := strings.Split(set, ".")
	pretty := func(seg string) string {
		raw, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	var jwks bytes.Buffer
	if err := json.Indent(&jwks, tx.JWKS(), "", "  "); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/ssf.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]string{
		"header":  "```json\n" + pretty(segs[0]) + "\n```",
		"payload": "```json\n" + pretty(segs[1]) + "\n```",
		"compact": "```text\n" + set + "\n```",
		"jwks":    "```json\n" + jwks.String() + "\n```",
	} {
		if !bytes.Contains(doc, []byte(block)) {
			t.Errorf("docs/ssf.md does not show the example SET's %s:\n%s", name, block)
		}
	}

	// The example is a SET a Receiver accepts, and it means the revocation.
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	rx, err := NewReceiver(ReceiverConfig{
		Transmitters: []TrustedTransmitter{{Issuer: "https://provost.acme.test", Audience: "https://siem.acme.test", JWKS: tx.JWKS()}},
		Replay:       replay.NewMemory(replay.MemoryConfig{Now: func() time.Time { return now }}),
		OnRevocation: func(context.Context, revocation.Revocation) error { return nil },
		Now:          func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	c, serr := rx.check(set, "")
	if serr != nil {
		t.Fatal(serr)
	}
	if len(c.revs) != 1 || c.revs[0].Kind != revocation.KindFingerprint || !fingerprint.Valid(c.revs[0].Value) {
		t.Fatalf("the example means %+v", c.revs)
	}
}
