// Package devworld keeps the private keys of a demo world on disk, clearly
// marked as demo-only, and mints credentials with them for `provost dev`:
// access tokens, DPoP proofs, X.509- and JWT-SVIDs and posture
// attestations for the world `provost demo --keep DIR` leaves behind.
//
// A kept world's keys live in DIR/demo-keys/ beside a manifest
// (DEMO-ONLY.json) whose marker says what they are. Open refuses anything
// that does not look exactly like what Write made: no manifest or a wrong
// marker, a key file that is a symbolic link, is readable by others or
// lacks the demo-only banner, an issuer outside the reserved .test domain,
// or a configuration whose JWKS does not hold the demo issuer's key. So
// `provost dev` cannot be pointed at production keys by mistake.
package devworld

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/provost-dev/provost/internal/pemkey"
	"github.com/provost-dev/provost/internal/smallfile"
)

// KeysDir is the folder of a kept world's private keys, beside its
// provost.yaml.
const KeysDir = "demo-keys"

// ManifestFile names the world: its issuer, audiences, trust domain, key ids.
const ManifestFile = "DEMO-ONLY.json"

// ReadmeFile explains the folder to whoever finds it.
const ReadmeFile = "README-DEMO-ONLY.txt"

// Marker is the manifest's marker; Open refuses a manifest without it.
const Marker = "provost-demo-world/v1: demo and test keys only, never trust them in production"

// keyPrefix starts every key file's name.
const keyPrefix = "DEMO-ONLY-"

// banner precedes the PEM block of every key file (PEM readers skip text
// before -----BEGIN); Open refuses a key file without it.
const banner = "Provost DEMO-ONLY key, made by 'provost demo --keep'. Never use it, or anything it signed, in production.\n"

// Key names (the part after DEMO-ONLY- and before .key.pem).
const (
	KeyIssuer   = "issuer"
	KeyAttestor = "attestor"
	KeyCA       = "spiffe-ca"
	KeyJWTSVID  = "spiffe-jwt"
	KeyDPoP     = "dpop"
	keyHop      = "hop-" // + the hop's name
)

// ErrNotDemo is the error of every refusal: the keys or the world are not
// ones `provost demo --keep` made.
var ErrNotDemo = errors.New("not a demo world kept by 'provost demo --keep'")

// KeyFile is the file name of the key called name.
func KeyFile(name string) string { return keyPrefix + name + ".key.pem" }

// HopKeyFile is the file name of the hop key of the approved proxy hop.
func HopKeyFile(hop string) string { return KeyFile(keyHop + hop) }

// writeKey writes k (PKCS #8) to dir/KeyFile(name) with mode 0600,
// refusing to replace a file.
func writeKey(dir, name string, k crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("devworld: key %s: %w", name, err)
	}
	data := append([]byte(banner), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	return writeNew(filepath.Join(dir, KeyFile(name)), data)
}

// writeNew creates path with mode 0600; an existing file is an error.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("devworld: %w", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("devworld: writing %s: %w", path, err)
	}
	return nil
}

// readKey reads dir/KeyFile(name), refusing a file that is not a regular
// file of mode 0600 (or stricter) carrying the demo-only banner.
func readKey(dir, name string) (crypto.Signer, error) {
	path := filepath.Join(dir, KeyFile(name))
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("devworld: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%w: %s is a symbolic link; demo keys are regular files in %s", ErrNotDemo, path, KeysDir)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotDemo, path)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%w: %s is readable or writable by others (mode %v); demo keys are 0600 (chmod 600 %s)", ErrNotDemo, path, fi.Mode().Perm(), path)
	}
	data, err := smallfile.Read(path, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("devworld: %w", err)
	}
	if !strings.HasPrefix(string(data), banner) {
		return nil, fmt.Errorf("%w: %s does not begin with the demo-only banner", ErrNotDemo, path)
	}
	k, err := pemkey.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("devworld: %s: %w", path, err)
	}
	return k, nil
}

// readECKey is readKey for the keys that sign with ES256.
func readECKey(dir, name string) (*ecdsa.PrivateKey, error) {
	k, err := readKey(dir, name)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("devworld: %s: must be an ECDSA P-256 key", KeyFile(name))
	}
	return ec, nil
}
