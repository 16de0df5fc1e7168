package evidencelog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/provost-dev/provost/internal/smallfile"
	"golang.org/x/mod/sumdb/note"
)

// File names in the log's directory.
const (
	dbFile         = "evidence.db"
	keyFile        = "log.key"    // note private key, mode 0600
	checkpointFile = "checkpoint" // the latest signed checkpoint, outside the database
)

// maxKeyFile bounds the key file read.
const maxKeyFile = 4096

// loadKey returns the signer in dir's key file and its verifier key,
// creating the file with a new Ed25519 key named name when it does not
// exist. The private key never appears in an error.
func loadKey(dir, name string) (note.Signer, string, error) {
	path := filepath.Join(dir, keyFile)
	skey, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, err = createKey(dir, path, name)
	}
	if err != nil {
		return nil, "", err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", fmt.Errorf("evidencelog: %s is not a note private key (PRIVATE+KEY+name+hash+key)", path)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, "", fmt.Errorf("evidencelog: %s: %w", path, err)
	}
	return signer, vkey, nil
}

func readKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("evidencelog: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("evidencelog: %s has mode %#o: others can read the log's private key; chmod 600 it", path, fi.Mode().Perm())
	}
	buf := make([]byte, maxKeyFile+1)
	n, _ := f.ReadAt(buf, 0)
	if n > maxKeyFile {
		return "", fmt.Errorf("evidencelog: %s is larger than %d bytes", path, maxKeyFile)
	}
	return string(bytes.TrimSpace(buf[:n])), nil
}

// createKey writes a new key file; when another process created it first,
// it reads that one.
func createKey(dir, path, name string) (string, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", fmt.Errorf("evidencelog: generate key for %q: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKey(path)
	}
	if err != nil {
		return "", fmt.Errorf("evidencelog: create key: %w", err)
	}
	_, err = f.WriteString(skey + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("evidencelog: write %s: %w", path, err)
	}
	return skey, nil
}

// verifierKey derives the note verifier key (name+hash+base64) from a
// private key (PRIVATE+KEY+name+hash+base64): the public half is not stored,
// so it is recomputed from the seed.
func verifierKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return "", errors.New("malformed private key")
	}
	seed, err := decodeEd25519Seed(parts[4])
	if err != nil {
		return "", err
	}
	return note.NewEd25519VerifierKey(parts[2], seed.Public().(ed25519.PublicKey))
}

// keyName is the name in a private key string (PRIVATE+KEY+name+...).
func keyName(skey string) string {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return ""
	}
	return parts[2]
}

// writeCheckpointFile replaces dir's checkpoint file atomically and durably.
func writeCheckpointFile(dir string, signed []byte) error {
	path := filepath.Join(dir, checkpointFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("evidencelog: write checkpoint: %w", err)
	}
	_, err = f.Write(signed)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("evidencelog: write checkpoint: %w", err)
	}
	return nil
}

// readCheckpointFile returns dir's checkpoint file, nil when there is none.
func readCheckpointFile(dir string) ([]byte, error) {
	path := filepath.Join(dir, checkpointFile)
	b, err := smallfile.Read(path, MaxCheckpointSize)
	var tooLarge *smallfile.TooLargeError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.As(err, &tooLarge):
		return nil, problem(ErrMalformedCheckpoint, -1, "%s is larger than %d bytes", path, MaxCheckpointSize)
	case err != nil:
		return nil, fmt.Errorf("evidencelog: %w", err)
	}
	return b, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// decodeEd25519Seed decodes the key part of a note private key: the
// algorithm byte 1 (Ed25519) and the 32-byte seed.
func decodeEd25519Seed(b64 string) (ed25519.PrivateKey, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("malformed Ed25519 private key")
	}
	return ed25519.NewKeyFromSeed(raw[1:]), nil
}
