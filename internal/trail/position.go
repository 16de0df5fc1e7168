package trail

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/provost-dev/provost/internal/smallfile"
)

// maxPositionBytes bounds a position file.
const maxPositionBytes = 4096

// Position is where a follower stands in an evidence log.
type Position struct {
	// Log is the log's verifier key (its name, key hash and public key):
	// a position is refused by any other log.
	Log string `json:"log"`
	// Next is the index of the first record not yet delivered.
	Next int64 `json:"next"`
	// LastLeaf is the leaf hash (standard base64) of record Next-1, the
	// last delivered: a log that no longer holds it is refused.
	LastLeaf string `json:"last_leaf,omitempty"`
}

// check refuses pos unless it is a position in l, whose size is size. The
// zero Position is the start of any log.
func (pos *Position) check(ctx context.Context, l FollowSource, size int64) error {
	if pos.Next == 0 {
		return nil
	}
	if pos.Log != l.VerifierKey() {
		return fmt.Errorf("%w: it is a position in the log %q, this log is %q", ErrPosition, pos.Log, l.VerifierKey())
	}
	if pos.Next > size {
		return fmt.Errorf("%w: it is at record %d, the log holds %d", ErrPosition, pos.Next, size)
	}
	got, err := l.Entries(ctx, pos.Next-1, pos.Next)
	if err != nil {
		return fmt.Errorf("trail: read the log at %d: %w", pos.Next-1, err)
	}
	if len(got) != 1 {
		return fmt.Errorf("%w: the log gave no record %d", ErrPosition, pos.Next-1)
	}
	h := leaf(got[0])
	if want, err := base64.StdEncoding.DecodeString(pos.LastLeaf); err != nil || !bytes.Equal(want, h[:]) {
		return fmt.Errorf("%w: record %d is not the one delivered before", ErrPosition, pos.Next-1)
	}
	return nil
}

// validate checks a position read from a file.
func (pos *Position) validate() error {
	if pos.Next < 0 {
		return errors.New("next is negative")
	}
	if pos.Next == 0 {
		return nil
	}
	if pos.Log == "" {
		return errors.New("no log named")
	}
	if h, err := base64.StdEncoding.DecodeString(pos.LastLeaf); err != nil || len(h) != 32 {
		return errors.New("last_leaf is not a base64 SHA-256 hash")
	}
	return nil
}

// ReadPosition reads the position file at path; a file that does not
// exist is the zero Position, the start of the log.
func ReadPosition(path string) (Position, error) {
	b, err := smallfile.Read(path, maxPositionBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("trail: position file: %w", err)
	}
	var pos Position
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil {
		return Position{}, fmt.Errorf("trail: position file %s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Position{}, fmt.Errorf("trail: position file %s: data after the position", path)
	}
	if err := pos.validate(); err != nil {
		return Position{}, fmt.Errorf("trail: position file %s: %w", path, err)
	}
	return pos, nil
}

// WritePosition replaces the position file at path atomically: a new file
// beside it, synced, renamed over it, and the directory synced, so a
// crash leaves the old position or the new one.
func WritePosition(path string, pos Position) error {
	b, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("trail: write the position: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("trail: write the position to %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("trail: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("trail: sync %s: %w", dir, err)
	}
	return nil
}
