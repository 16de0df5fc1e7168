package evidencelog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/jsonerr"
)

// Bounds on untrusted receipts.
const (
	// MaxReceiptSize bounds an encoded receipt.
	MaxReceiptSize = 4 << 20
	// maxProofLen is the longest audit path: one hash per tree level.
	maxProofLen = 63
)

// Receipt proves that one record is in the log. Its JSON encoding is
// stable: the fields below in this order, byte strings in padded standard
// base64:
//
//	{"record":"...","index":7,"checkpoint":"...","proof":["...", ...]}
type Receipt struct {
	Record     []byte      `json:"record"`     // the record as logged
	Index      int64       `json:"index"`      // its index in the log
	Checkpoint []byte      `json:"checkpoint"` // a signed checkpoint whose tree includes it
	Proof      []tlog.Hash `json:"proof"`      // the RFC 6962 audit path from the leaf to the checkpoint's root
}

// MarshalJSON encodes r in its stable form (a nil proof as []).
func (r Receipt) MarshalJSON() ([]byte, error) {
	type plain Receipt
	p := plain(r)
	if p.Proof == nil {
		p.Proof = []tlog.Hash{}
	}
	if p.Record == nil {
		p.Record = []byte{}
	}
	return json.Marshal(p)
}

// ParseReceipt decodes a receipt from JSON strictly: one object, no unknown
// fields, within MaxReceiptSize. It checks the encoding only; VerifyReceipt
// checks the proof.
func ParseReceipt(data []byte) (Receipt, error) {
	if len(data) > MaxReceiptSize {
		return Receipt{}, problem(ErrMalformedReceipt, -1, "%d bytes, at most %d", len(data), MaxReceiptSize)
	}
	var p struct {
		Record     *[]byte      `json:"record"`
		Index      *int64       `json:"index"`
		Checkpoint *[]byte      `json:"checkpoint"`
		Proof      *[]tlog.Hash `json:"proof"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		// A receipt is untrusted: the error never repeats a value or a long name.
		return Receipt{}, problem(ErrMalformedReceipt, -1, "%v", jsonerr.Describe(err, data))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Receipt{}, problem(ErrMalformedReceipt, -1, "data after the receipt object")
	}
	if p.Record == nil || p.Index == nil || p.Checkpoint == nil || p.Proof == nil {
		return Receipt{}, problem(ErrMalformedReceipt, -1, "record, index, checkpoint and proof are all required")
	}
	return Receipt{Record: *p.Record, Index: *p.Index, Checkpoint: *p.Checkpoint, Proof: *p.Proof}, nil
}

// VerifyReceipt checks r with nothing but the log's verifier key (a note
// verifier key, name+hash+base64):
//
//  1. the checkpoint is a signed note with a valid signature by that key
//     (ErrUnknownKey, ErrBadSignature, ErrMalformedCheckpoint);
//  2. its body is a C2SP checkpoint whose origin is the key's name
//     (ErrMalformedCheckpoint, ErrOriginMismatch);
//  3. the record's leaf hash, SHA-256(0x00 || record), is at Index in the
//     checkpoint's tree by the RFC 6962 audit path Proof (ErrNotIncluded).
func VerifyReceipt(r Receipt, verifierKey string) error {
	c, err := OpenCheckpoint(r.Checkpoint, verifierKey)
	if err != nil {
		return err
	}
	if len(r.Proof) > maxProofLen {
		return problem(ErrMalformedReceipt, r.Index, "proof has %d hashes, at most %d", len(r.Proof), maxProofLen)
	}
	if r.Index < 0 || r.Index >= c.Size {
		return problem(ErrNotIncluded, r.Index, "index %d is outside the checkpoint's tree of size %d", r.Index, c.Size)
	}
	leaf := tlog.RecordHash(r.Record)
	if err := tlog.CheckRecord(r.Proof, c.Size, c.Root, r.Index, leaf); err != nil {
		return problem(ErrNotIncluded, r.Index, "record with leaf hash %s is not at index %d of the tree of size %d with root %s",
			leaf, r.Index, c.Size, c.Root)
	}
	return nil
}
