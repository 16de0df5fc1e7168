package evidencelog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadCheckpointFile(t *testing.T) {
	for _, c := range []struct {
		name    string
		size    int // -1: no file
		wantErr error
	}{
		{"none", -1, nil},
		{"at the limit", MaxCheckpointSize, nil},
		{"over the limit", MaxCheckpointSize + 1, ErrMalformedCheckpoint},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.size >= 0 {
				if err := os.WriteFile(filepath.Join(dir, checkpointFile), make([]byte, c.size), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := readCheckpointFile(dir)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil || len(b) != max(c.size, 0) || (c.size < 0) != (b == nil) {
				t.Fatalf("got %d bytes (nil %v), err %v; want %d", len(b), b == nil, err, c.size)
			}
		})
	}
	// A directory where the file should be is an error naming it.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, checkpointFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := readCheckpointFile(dir); err == nil {
		t.Error("a directory read as a checkpoint file")
	}
}
