package evidencelog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	goldenfile "github.com/provost-dev/provost/internal/golden"
)

const exampleName = "provost.evidence/example"

// exampleLog is a reproducible log: a key from a fixed seed and seven records.
func exampleLog(t *testing.T) *Log {
	t.Helper()
	dir := t.TempDir()
	writeKey(t, dir, exampleName, "provost evidence log example key")
	l, err := Open(ctx, dir, Options{Async: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i := range 7 {
		if _, err := l.Append(ctx, []byte(`{"example":`+string(rune('0'+i))+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return l
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, "")
}

// TestExampleGolden pins the checkpoint and receipt formats with the
// example that docs/evidence.md shows.
func TestExampleGolden(t *testing.T) {
	l := exampleLog(t)
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "example.checkpoint", signed)
	golden(t, "example.vkey", []byte(l.VerifierKey()+"\n"))
	r, err := l.Receipt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "example.receipt.json", append(b, '\n'))
}

// TestReceiptFromFiles verifies the golden receipt with nothing but the
// golden verifier key string, as a third party would.
func TestReceiptFromFiles(t *testing.T) {
	vkey, err := os.ReadFile("testdata/example.vkey")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/example.receipt.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReceipt(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyReceipt(r, strings.TrimSpace(string(vkey))); err != nil {
		t.Fatal(err)
	}
	if string(r.Record) != `{"example":3}` || r.Index != 3 {
		t.Fatalf("receipt for %q at %d", r.Record, r.Index)
	}
}

func TestReceiptRoundTrip(t *testing.T) {
	l, _ := openLog(t, Options{Async: true})
	appendN(t, l, 0, 13)
	for i := range int64(13) {
		r, err := l.Receipt(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseReceipt(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := json.Marshal(back)
		if !bytes.Equal(b, b2) {
			t.Fatalf("receipt %d does not round-trip:\n%s\n%s", i, b, b2)
		}
		if err := VerifyReceipt(back, l.VerifierKey()); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
	}
	if st := l.Stats(); st.Size != 13 {
		t.Fatalf("size %d", st.Size)
	}
	// One checkpoint covered all thirteen receipts.
	var n int
	if err := l.db.QueryRow(`SELECT COUNT(*) FROM evidence_checkpoint`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d checkpoints stored (%v), want 1", n, err)
	}
	if _, err := l.Receipt(ctx, 13); err == nil {
		t.Fatal("receipt for an index past the log")
	}
}

func TestVerifyReceiptFailures(t *testing.T) {
	l, _ := openLog(t, Options{Async: true})
	appendN(t, l, 0, 11)
	good, err := l.Receipt(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(good.Checkpoint, l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	signWithLogKey := func(body string) []byte {
		b, err := note.Sign(&note.Note{Text: body}, l.signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	_, otherLogKey, err := note.GenerateKey(nil, "provost.evidence/other")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(r *Receipt)
		vkey  string
		want  error
		index int64
	}{
		{"good", func(r *Receipt) {}, "", nil, 0},
		{"changed record", func(r *Receipt) { r.Record = []byte(`{"test":"forged"}`) }, "", ErrNotIncluded, 6},
		{"another index", func(r *Receipt) { r.Index = 7 }, "", ErrNotIncluded, 7},
		{"index past the tree", func(r *Receipt) { r.Index = 11 }, "", ErrNotIncluded, 11},
		{"negative index", func(r *Receipt) { r.Index = -1 }, "", ErrNotIncluded, -1},
		{"altered proof", func(r *Receipt) { r.Proof[1][0] ^= 1 }, "", ErrNotIncluded, 6},
		{"short proof", func(r *Receipt) { r.Proof = r.Proof[:len(r.Proof)-1] }, "", ErrNotIncluded, 6},
		{"long proof", func(r *Receipt) { r.Proof = make([]tlog.Hash, 64) }, "", ErrMalformedReceipt, 6},
		{"checkpoint signed by another key", func(r *Receipt) {
			r.Checkpoint = otherKeyNote(t, formatCheckpoint(c))
		}, "", ErrUnknownKey, -1},
		{"another log's verifier key", func(r *Receipt) {}, otherLogKey, ErrUnknownKey, -1},
		{"malformed verifier key", func(r *Receipt) {}, "provost.evidence/test+00000000+AQ==", ErrBadVerifierKey, -1},
		{"altered signature", func(r *Receipt) { alterSignature(r.Checkpoint) }, "", ErrBadSignature, -1},
		{"altered checkpoint size", func(r *Receipt) {
			r.Checkpoint = bytes.Replace(r.Checkpoint, []byte("\n11\n"), []byte("\n12\n"), 1)
		}, "", ErrBadSignature, -1},
		{"not a signed note", func(r *Receipt) { r.Checkpoint = []byte(formatCheckpoint(c)) }, "", ErrMalformedCheckpoint, -1},
		{"checkpoint too long", func(r *Receipt) { r.Checkpoint = make([]byte, MaxCheckpointSize+1) }, "", ErrMalformedCheckpoint, -1},
		{"another origin", func(r *Receipt) {
			r.Checkpoint = signWithLogKey(formatCheckpoint(Checkpoint{Origin: "provost.evidence/other", Size: c.Size, Root: c.Root}))
		}, "", ErrOriginMismatch, -1},
		{"malformed body, validly signed", func(r *Receipt) {
			r.Checkpoint = signWithLogKey(c.Origin + "\n011\n" + strings.Split(formatCheckpoint(c), "\n")[2] + "\n")
		}, "", ErrMalformedCheckpoint, -1},
		{"another tree size, validly signed", func(r *Receipt) {
			r.Checkpoint = signWithLogKey(formatCheckpoint(Checkpoint{Origin: c.Origin, Size: 7, Root: c.Root}))
		}, "", ErrNotIncluded, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Receipt{
				Record:     bytes.Clone(good.Record),
				Index:      good.Index,
				Checkpoint: bytes.Clone(good.Checkpoint),
				Proof:      append([]tlog.Hash(nil), good.Proof...),
			}
			tt.edit(&r)
			vkey := tt.vkey
			if vkey == "" {
				vkey = l.VerifierKey()
			}
			err := VerifyReceipt(r, vkey)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Log(err)
			wantProblem(t, err, tt.want, tt.index)
		})
	}
}

func TestParseReceipt(t *testing.T) {
	tests := []struct {
		name string
		json string
		ok   bool
	}{
		{"minimal", `{"record":"","index":0,"checkpoint":"","proof":[]}`, true},
		{"unknown field", `{"record":"","index":0,"checkpoint":"","proof":[],"extra":1}`, false},
		{"missing proof", `{"record":"","index":0,"checkpoint":""}`, false},
		{"null proof", `{"record":"","index":0,"checkpoint":"","proof":null}`, false},
		{"trailing data", `{"record":"","index":0,"checkpoint":"","proof":[]} {}`, false},
		{"bad base64", `{"record":"!","index":0,"checkpoint":"","proof":[]}`, false},
		{"short hash", `{"record":"","index":0,"checkpoint":"","proof":["AAAA"]}`, false},
		{"string index", `{"record":"","index":"0","checkpoint":"","proof":[]}`, false},
		{"array", `[]`, false},
		{"too large", `{"record":"` + strings.Repeat("A", MaxReceiptSize) + `"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseReceipt([]byte(tt.json))
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok {
				wantProblem(t, err, ErrMalformedReceipt, -1)
			}
		})
	}
}

// storedCheckpoints counts the checkpoints the log stored.
func storedCheckpoints(t *testing.T, l *Log) int {
	t.Helper()
	var n int
	if err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM evidence_checkpoint`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The log signs at most once per CheckpointInterval, whoever asks:
// repeated checkpoints and receipts within it store none, and 50
// concurrent receipts of a record no checkpoint covers yet share one.
func TestCheckpointInterval(t *testing.T) {
	const interval = 400 * time.Millisecond
	l, dir := openLog(t, Options{CheckpointInterval: interval})
	appendN(t, l, 0, 3)
	if _, err := l.Receipt(ctx, 2); err != nil { // the first signature is at once
		t.Fatal(err)
	}
	if n := storedCheckpoints(t, l); n != 1 {
		t.Fatalf("%d checkpoints stored, want 1", n)
	}
	appendN(t, l, 3, 5)
	start := time.Now()
	for range 20 {
		signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(signed, l.VerifierKey())
		if err != nil || c.Size != 3 {
			t.Fatalf("checkpoint within the interval: %+v %v, want the stored one of size 3", c, err)
		}
		if _, err := l.Receipt(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	_, err := l.Receipt(short, 4)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receipt of an uncovered record within the interval: %v, want it to wait", err)
	}
	if n := storedCheckpoints(t, l); n != 1 && time.Since(start) < interval {
		t.Fatalf("%d checkpoints stored within the interval, want 1", n)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Receipt(ctx, 4)
			if err == nil {
				err = VerifyReceipt(r, l.VerifierKey())
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := storedCheckpoints(t, l); n != 2 {
		t.Fatalf("50 concurrent receipts stored %d new checkpoints, want 1", n-1)
	}
	if time.Since(start) < interval/2 {
		t.Fatalf("a checkpoint was signed %s after the last, interval %s", time.Since(start), interval)
	}
	for range 50 {
		if _, err := l.Receipt(ctx, 4); err != nil {
			t.Fatal(err)
		}
	}
	if n := storedCheckpoints(t, l); n != 2 {
		t.Fatalf("%d checkpoints stored after repeated receipts, want 2", n)
	}

	// Close signs the records no checkpoint covers yet.
	appendN(t, l, 5, 7)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(ctx, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	signed, err := ro.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := OpenCheckpoint(signed, ro.VerifierKey()); err != nil || c.Size != 7 {
		t.Fatalf("checkpoint after Close: %+v %v, want size 7", c, err)
	}
}

// Close waits for no interval, and a log that did not grow signs nothing.
func TestCloseSignsOnlyWhenGrown(t *testing.T) {
	l, dir := openLog(t, Options{CheckpointInterval: time.Hour})
	appendN(t, l, 0, 2)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(ctx, dir, Options{Name: testName, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n := storedCheckpoints(t, l2); n != 1 {
		t.Fatalf("%d checkpoints stored, want 1: Close signed a log that did not grow", n)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
}
