package fingerprint

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the name of the server secret inside the data directory.
const SecretFile = "server.secret"

// SecretSize is the size in bytes of the server secret.
const SecretSize = 32

// LoadOrCreateSecret reads dir/server.secret, or creates it on first start.
//
// The directory is created with mode 0700 when missing. A new secret is 32
// bytes from crypto/rand, written to a temporary file in dir, synced, and then
// linked into place, so a crash never leaves a partial secret and an existing
// secret is never overwritten (if another process created one first, that one
// is read and returned). An existing file is refused, with an error naming the
// path and the problem, when it is not a regular file, is not exactly 32 bytes,
// or grants any permission to group or others.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	if dir == "" {
		return nil, errors.New("fingerprint: secret directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("fingerprint: create secret directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, SecretFile)
	secret, err := readSecret(path)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return createSecret(dir, path)
}

// readSecret reads and checks an existing secret file. The checks use the
// opened file's own metadata, so a file swapped between check and read is not
// a concern.
func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("fingerprint: open secret %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("fingerprint: stat secret %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("fingerprint: secret %s is not a regular file (mode %s)", path, info.Mode())
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("fingerprint: secret %s has mode %#o, readable or writable by group or others; want 0600 (chmod 600 %s)", path, perm, path)
	}
	if info.Size() != SecretSize {
		return nil, fmt.Errorf("fingerprint: secret %s is %d bytes, want exactly %d", path, info.Size(), SecretSize)
	}
	secret := make([]byte, SecretSize+1)
	n, err := io.ReadFull(f, secret)
	if err != io.ErrUnexpectedEOF && err != nil {
		return nil, fmt.Errorf("fingerprint: read secret %s: %w", path, err)
	}
	if n != SecretSize {
		return nil, fmt.Errorf("fingerprint: secret %s is %d bytes, want exactly %d", path, n, SecretSize)
	}
	return secret[:SecretSize], nil
}

// createSecret writes a new secret to a temporary file and links it to path.
// os.Link fails when path exists, which is what keeps an existing secret from
// ever being replaced (a rename would silently overwrite it).
func createSecret(dir, path string) ([]byte, error) {
	secret := make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("fingerprint: generate secret: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+SecretFile+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("fingerprint: create secret %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeSynced(tmp, secret); err != nil {
		return nil, fmt.Errorf("fingerprint: write secret %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created the secret first: use theirs.
			return readSecret(path)
		}
		return nil, fmt.Errorf("fingerprint: install secret %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("fingerprint: sync directory %s: %w", dir, err)
	}
	return secret, nil
}

func writeSynced(f *os.File, data []byte) error {
	// CreateTemp already uses 0600; Chmod makes it independent of that detail.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
