package evidencelog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Bounds on untrusted checkpoint input.
const (
	// MaxCheckpointSize bounds a signed checkpoint (body and signatures).
	MaxCheckpointSize = 16 << 10
	// maxExtensionLines bounds the extension lines after the root hash.
	maxExtensionLines = 16
)

// Checkpoint is the parsed body of a C2SP tlog-checkpoint.
type Checkpoint struct {
	Origin string    // the log's name, the first line
	Size   int64     // the number of records in the tree
	Root   tlog.Hash // the RFC 6962 root hash of the tree
}

// formatCheckpoint is the checkpoint body: origin, size and base64 root
// hash, each on its own line.
func formatCheckpoint(c Checkpoint) string {
	return c.Origin + "\n" + strconv.FormatInt(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root[:]) + "\n"
}

// ParseCheckpoint parses a checkpoint body (the text of the signed note,
// not the signatures). Extension lines after the root hash are allowed and
// ignored. It accepts only the canonical form: a decimal size without sign
// or leading zeros, and a root hash of 32 bytes in padded standard base64.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	if len(text) > MaxCheckpointSize || !strings.HasSuffix(text, "\n") {
		return c, problem(ErrMalformedCheckpoint, -1, "body does not end with a newline or is too long")
	}
	lines := strings.Split(text[:len(text)-1], "\n")
	if len(lines) < 3 {
		return c, problem(ErrMalformedCheckpoint, -1, "body has %d lines, want origin, size and root hash", len(lines))
	}
	if len(lines) > 3+maxExtensionLines {
		return c, problem(ErrMalformedCheckpoint, -1, "body has more than %d extension lines", maxExtensionLines)
	}
	c.Origin = lines[0]
	if c.Origin == "" {
		return c, problem(ErrMalformedCheckpoint, -1, "empty origin line")
	}
	size, err := parseSize(lines[1])
	if err != nil {
		return c, problem(ErrMalformedCheckpoint, -1, "tree size %q is not a canonical decimal number", lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, problem(ErrMalformedCheckpoint, -1, "root hash %q is not 32 bytes of base64", lines[2])
	}
	copy(c.Root[:], root)
	for _, ext := range lines[3:] {
		if ext == "" {
			return c, problem(ErrMalformedCheckpoint, -1, "empty extension line")
		}
	}
	return c, nil
}

func parseSize(s string) (int64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, errors.New("not canonical")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a digit")
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// OpenCheckpoint checks that signed is a C2SP signed note carrying a valid
// signature by the key verifierKey (a note verifier key, name+hash+base64),
// that its body is a checkpoint, and that the checkpoint's origin is the
// key's name. Other signatures (such as witness cosignatures) are ignored.
func OpenCheckpoint(signed []byte, verifierKey string) (Checkpoint, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, problem(ErrBadVerifierKey, -1, "%q: %v", verifierKey, err)
	}
	return openCheckpoint(signed, v)
}

func openCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	if len(signed) > MaxCheckpointSize {
		return Checkpoint{}, problem(ErrMalformedCheckpoint, -1, "signed note is longer than %d bytes", MaxCheckpointSize)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return Checkpoint{}, problem(ErrUnknownKey, -1, "no signature by %s+%08x (signed by %s)",
				v.Name(), v.KeyHash(), signerList(unverified.Note))
		case errors.As(err, &invalid):
			return Checkpoint{}, problem(ErrBadSignature, -1, "signature by %s+%08x does not verify", invalid.Name, invalid.Hash)
		default:
			return Checkpoint{}, problem(ErrMalformedCheckpoint, -1, "not a signed note: %v", err)
		}
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return c, err
	}
	if c.Origin != v.Name() {
		return c, problem(ErrOriginMismatch, -1, "origin %q, key is for %q", c.Origin, v.Name())
	}
	return c, nil
}

// signerList names the keys that signed an unverified note, for an error.
func signerList(n *note.Note) string {
	if n == nil || len(n.UnverifiedSigs) == 0 {
		return "no key"
	}
	var b strings.Builder
	for i, s := range n.UnverifiedSigs {
		if i == 3 {
			b.WriteString(", ...")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s+%08x", s.Name, s.Hash)
	}
	return b.String()
}
