package configcheck

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/sumdb/note"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/pemkey"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/internal/smallfile"
)

// parser checks the file at a resolved path is what its field needs.
type parser func(path string) error

// file is one file the configuration names.
type file struct {
	field string // where, e.g. trust.hops[1].public_key
	path  string // as written
	parse parser
}

// PolicyFiles checks the files the policy reads besides the bindings (the
// issuers' JWKS files and the trust anchors): that each exists and parses.
// It is what `provost bindings lint --config` checks besides the bindings.
func PolicyFiles(cfg *config.Config) []Problem {
	var out []Problem
	for _, p := range Files(cfg) {
		if strings.HasPrefix(p.Field, "issuers[") || strings.HasPrefix(p.Field, "trust.") {
			out = append(out, p)
		}
	}
	return out
}

// Files checks every file cfg names except the bindings file: that each
// exists and parses as what its field needs.
func Files(cfg *config.Config) []Problem {
	c := &checker{cfg: cfg}
	if data, err := smallfile.Read(cfg.File, config.MaxFileBytes); err == nil {
		yaml.Unmarshal(data, &c.root)
	}
	c.files()
	return c.rep.Problems
}

// files checks every file the configuration names.
func (c *checker) files() {
	for _, f := range c.fileList() {
		if f.path == "" {
			continue
		}
		path := c.cfg.Resolve(f.path)
		if _, err := os.Stat(path); err != nil {
			c.problem(f.field, "%v", describe(err))
			continue
		}
		if err := f.parse(path); err != nil {
			msg := anchorPrefix.ReplaceAllString(err.Error(), "")
			if !strings.Contains(msg, f.path) {
				msg = f.path + ": " + msg
			}
			c.problem(f.field, "%s", msg)
		}
	}
	for _, t := range c.tlsPairs() {
		if t.cert == "" {
			continue
		}
		if err := checkPair(c.cfg.Resolve(t.cert), c.cfg.Resolve(t.key), time.Now()); err != nil {
			c.problem(t.field, "%v", err)
		}
	}
}

// describe words a missing or unreadable file.
func describe(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
		return pe.Path + " does not exist"
	}
	return err.Error()
}

func (c *checker) fileList() []file {
	cfg := c.cfg
	var out []file
	add := func(field, path string, p parser) { out = append(out, file{field, path, p}) }
	for i, is := range cfg.Issuers {
		add(fmt.Sprintf("issuers[%d].jwks_file", i), is.JWKSFile, jwks)
	}
	for i, s := range cfg.Trust.SPIFFE {
		add(fmt.Sprintf("trust.spiffe[%d].x509_bundle", i), s.X509Bundle, c.anchors(config.Trust{SPIFFE: []config.SPIFFE{{TrustDomain: s.TrustDomain, X509Bundle: s.X509Bundle}}}))
		add(fmt.Sprintf("trust.spiffe[%d].jwt_bundle", i), s.JWTBundle, c.anchors(config.Trust{SPIFFE: []config.SPIFFE{{TrustDomain: s.TrustDomain, JWTBundle: s.JWTBundle}}}))
	}
	for i, h := range cfg.Trust.Hops {
		add(fmt.Sprintf("trust.hops[%d].public_key", i), h.PublicKey, c.anchors(config.Trust{Hops: []config.HopKey{h}}))
	}
	for i, a := range cfg.Trust.Attestors {
		add(fmt.Sprintf("trust.attestors[%d].jwks_file", i), a.JWKSFile, jwks)
	}
	add("serve.tls.client_ca", cfg.Serve.TLS.ClientCA, certPool)
	add("grpc.tls.client_ca", cfg.GRPC.TLS.ClientCA, certPool)
	add("proxy.tls.client_ca", cfg.Proxy.TLS.ClientCA, certPool)
	add("proxy.upstream_ca", cfg.Proxy.UpstreamCA, certPool)
	add("proxy.hop.key", cfg.Proxy.Hop.Key, hopKey)
	add("admin.client_ca", cfg.Admin.ClientCA, certPool)
	add("storage.postgres.evidence_key_file", cfg.Storage.Postgres.EvidenceKeyFile, evidenceKey)
	add("storage.redis.password_file", cfg.Storage.Redis.PasswordFile, nonEmpty)
	add("storage.redis.tls.ca", cfg.Storage.Redis.TLS.CA, certPool)
	if t := cfg.SSF.Transmitter; t != nil {
		add("ssf.transmitter.key_file", t.KeyFile, app.CheckSSFSigningKey)
		for i, s := range t.Streams {
			add(fmt.Sprintf("ssf.transmitter.streams[%d].authorization_file", i), s.AuthorizationFile, app.CheckSSFHeaderFile)
		}
	}
	if r := cfg.SSF.Receiver; r != nil {
		for i, t := range r.Transmitters {
			add(fmt.Sprintf("ssf.receiver.transmitters[%d].jwks_file", i), t.JWKSFile, jwks)
			add(fmt.Sprintf("ssf.receiver.transmitters[%d].authorization_file", i), t.AuthorizationFile, app.CheckSSFHeaderFile)
		}
	}
	return out
}

// anchorPrefix is how CompileAnchors names the anchor; with one anchor
// compiled alone its index would mislead, and the field is named anyway.
var anchorPrefix = regexp.MustCompile(`^trust\.(hops|attestors)\[0\] \([^)]*\): |^trust\.spiffe: `)

// anchors checks one trust anchor the way the engine loads it: with the
// trust section holding that anchor alone.
func (c *checker) anchors(t config.Trust) parser {
	return func(string) error {
		one := *c.cfg
		one.Trust = t
		_, err := signal.CompileAnchors(&one, func(p string) ([]byte, error) { return smallfile.Read(one.Resolve(p), smallfile.DefaultLimit) })
		return err
	}
}

func jwks(path string) error {
	_, err := issuer.LoadFile(path)
	return err
}

func certPool(path string) error {
	_, err := smallfile.CertPool(path)
	return err
}

func nonEmpty(path string) error {
	b, err := smallfile.Read(path, 4<<10)
	if err == nil && len(bytes.TrimSpace(b)) == 0 {
		err = errors.New("is empty")
	}
	return err
}

// hopKey reads a proxy's hop signing key as `provost proxy` does
// (pemkey.Parse).
func hopKey(path string) error {
	data, err := smallfile.Read(path, smallfile.DefaultLimit)
	if err != nil {
		return err
	}
	_, err = pemkey.Parse(data)
	return err
}

// evidenceKey reads the shared evidence log's note signing key as the log
// does: mode 0600, a note private key. The key never appears in an error.
func evidenceKey(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("has mode %#o: others can read the log's private key; chmod 600 it", fi.Mode().Perm())
	}
	data, err := smallfile.Read(path, 4096)
	if err != nil {
		return err
	}
	if _, err := note.NewSigner(strings.TrimSpace(string(data))); err != nil {
		return errors.New("is not a note private key (PRIVATE+KEY+name+hash+key); make one with provost evidence new-key")
	}
	return nil
}

// tlsPair is a listener's certificate and key.
type tlsPair struct {
	field, cert, key string
}

func (c *checker) tlsPairs() []tlsPair {
	cfg := c.cfg
	return []tlsPair{
		{"serve.tls", cfg.Serve.TLS.Cert, cfg.Serve.TLS.Key},
		{"grpc.tls", cfg.GRPC.TLS.Cert, cfg.GRPC.TLS.Key},
		{"proxy.tls", cfg.Proxy.TLS.Cert, cfg.Proxy.TLS.Key},
		{"admin.tls", cfg.Admin.TLS.Cert, cfg.Admin.TLS.Key},
	}
}

// checkPair loads a certificate and key as the listeners do and checks the
// leaf is valid now.
func checkPair(cert, key string, now time.Time) error {
	for _, p := range []string{cert, key} {
		if _, err := os.Stat(p); err != nil {
			return errors.New(describe(err))
		}
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return fmt.Errorf("%s, %s: %w", filepath.Base(cert), filepath.Base(key), err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("%s: %w", cert, err)
		}
	}
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("%s expired at %s", cert, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("%s is not valid before %s", cert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}
