package issuer

import (
	"context"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/internal/smallfile"
)

// maxFileBytes bounds a JWKS file.
const maxFileBytes = 1 << 20

// Source gives an issuer's current signing keys. kid is the key id the token
// names ("" if none): a refreshing source that does not hold kid may fetch once
// (rate-limited) before answering.
//
// The returned set is shared by every caller and must be treated as read-only:
// callers must not modify the set, its Keys slice or the keys in it. When kid
// is not in the set, the set is returned anyway and the caller reports the key
// as not found.
type Source interface {
	Keys(ctx context.Context, kid string) (*jose.JSONWebKeySet, error)
}

// Static is a fixed set of keys, from memory or a file.
type Static struct {
	set *jose.JSONWebKeySet
}

var _ Source = (*Static)(nil)

// NewStatic checks set and returns a Source that always answers with it. A key
// carrying private or symmetric material, an invalid or unsupported key, an
// RSA key under 2048 bits and a duplicate kid are errors; keys whose use is
// not "sig" are left out (as are keys of a JWKS file whose "key_ops" lacks
// "verify": go-jose does not keep key_ops in memory). A set left with no keys
// is an error.
func NewStatic(set jose.JSONWebKeySet) (*Static, error) {
	if len(set.Keys) > maxKeys {
		return nil, fmt.Errorf("JWKS has %d keys; at most %d are accepted", len(set.Keys), maxKeys)
	}
	c := newSetChecker(true, len(set.Keys))
	for i, k := range set.Keys {
		if err := c.add(i, k, nil); err != nil {
			return nil, err
		}
	}
	return newStatic(c.keys)
}

// LoadFile reads a JWKS file and checks it as NewStatic does. Errors name the
// file and the offending key's index and kid.
func LoadFile(path string) (*Static, error) {
	data, err := smallfile.Read(path, maxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("JWKS file: %w", err)
	}
	return ParseStatic(path, data)
}

// ParseStatic checks the JWKS data (read from name) as NewStatic does.
func ParseStatic(name string, data []byte) (*Static, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("JWKS file %s: larger than %d bytes", name, maxFileBytes)
	}
	set, _, err := parseJWKS(data, true)
	if err != nil {
		return nil, fmt.Errorf("JWKS file %s: %w", name, err)
	}
	s, err := newStatic(set.Keys)
	if err != nil {
		return nil, fmt.Errorf("JWKS file %s: %w", name, err)
	}
	return s, nil
}

func newStatic(keys []jose.JSONWebKey) (*Static, error) {
	if len(keys) == 0 {
		return nil, errors.New(`no signing keys (every key was absent or had a "use" other than "sig" or "key_ops" without "verify")`)
	}
	return &Static{set: &jose.JSONWebKeySet{Keys: keys}}, nil
}

// Keys returns the static set. kid is ignored: a static set never changes.
func (s *Static) Keys(ctx context.Context, kid string) (*jose.JSONWebKeySet, error) {
	return s.set, nil
}
