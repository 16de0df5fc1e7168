// Package smallfile reads the small trusted files a configuration or a
// command line names (keys, certificates, JWKs, bindings, configurations,
// tokens) whole, bounded in size so that a wrong path (a log, a device)
// cannot exhaust memory.
package smallfile

import (
	"crypto/x509"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// DefaultLimit bounds a file whose reader has no limit of its own: PEM
// bundles, keys and JWKs.
const DefaultLimit = 1 << 20

// TooLargeError reports a file over its limit.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes", e.Path, e.Limit)
}

// Read reads the whole file at path, refusing one larger than limit bytes
// (limit must not be negative). Every error names the file: opening or
// reading fails with the *fs.PathError of package os (so errors.Is(err,
// fs.ErrNotExist) holds for a missing file), a file over the limit with a
// *TooLargeError ("PATH: larger than LIMIT bytes").
func Read(path string, limit int64) ([]byte, error) {
	return ReadFS(osFS{}, path, limit)
}

// ReadFS is Read from the file system fsys.
func ReadFS(fsys fs.FS, path string, limit int64) ([]byte, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return data, nil
}

// osFS opens paths as the operating system names them (os.DirFS cannot
// take absolute or relative-upward paths).
type osFS struct{}

func (osFS) Open(name string) (fs.File, error) { return os.Open(name) }

// CertPool reads a PEM file of CA certificates, at most DefaultLimit bytes,
// into a pool. The error names the file and what is wrong with it.
func CertPool(path string) (*x509.CertPool, error) {
	data, err := Read(path, DefaultLimit)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
