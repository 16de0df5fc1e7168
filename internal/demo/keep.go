package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/devworld"
	"github.com/provost-dev/provost/internal/provosttest"
)

// KeptOrigin is the external origin of the protected API in a kept world:
// DPoP proofs and posture attestations name it, wherever `provost serve`
// listens (a forward-auth or check API caller names the original request).
const KeptOrigin = provosttest.Audience

// Names in a kept world.
const (
	jwtSVIDKeyID    = "demo-jwt-1"
	jwtSVIDAudience = "provost" // trust.jwt_svid_audience's default
	jwtBundleFile   = "spiffe-jwt-bundle.json"
)

// keepHeader starts a kept world's provost.yaml.
const keepHeader = `# A Provost DEMO world, kept by 'provost demo --keep'. Its private keys are in
# demo-keys/ (DEMO ONLY: never use them, or this world, in production).
#   provost serve --config provost.yaml        # check API and forward-auth on 127.0.0.1:8080
#   provost dev token --config provost.yaml --sub svc:reports
# data_dir holds the demo's own decisions (its clock ran weeks ahead) and yours.
`

// keepDir prepares the folder a kept world is written to: dir ("" makes a
// new temporary one) must not exist or be empty. It returns the absolute path.
func keepDir(dir string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "provost-demo-")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return abs, os.MkdirAll(abs, 0o700)
	case err != nil:
		return "", fmt.Errorf("--keep %s: %w", dir, err)
	case len(entries) > 0:
		return "", fmt.Errorf("--keep %s: the folder is not empty; name a new or empty one", dir)
	}
	return abs, nil
}

// keep turns the demo's deployment in dir into a world that outlives the
// run: the configuration names KeptOrigin and a JWT-SVID bundle, and the
// private keys (the world's, a JWT-SVID key and a client DPoP key) go to
// dir/demo-keys, marked demo-only. runOrigin is the origin the run used.
func keep(ctx context.Context, dir string, w *provosttest.World, runOrigin string) error {
	jwtKey, err1 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dpopKey, err2 := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	bundle, err := devworld.JWTBundle(jwtKey, jwtSVIDKeyID)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, jwtBundleFile), bundle, 0o600); err != nil {
		return err
	}
	if err := rewriteConfig(w.ConfigFile(), runOrigin); err != nil {
		return err
	}
	if _, err := provost.LoadPolicy(ctx, w.ConfigFile()); err != nil {
		return fmt.Errorf("the kept configuration does not load: %w", err)
	}
	k := w.Keys()
	m := devworld.Manifest{Issuer: k.IssuerName, IssuerKeyID: provosttest.IssuerKeyID, Audience: k.Audience, Origin: KeptOrigin,
		TrustDomain: k.TrustDomain, JWTSVIDKeyID: jwtSVIDKeyID, JWTSVIDAudience: jwtSVIDAudience,
		AttestorIssuer: k.AttestorIss, AttestorKeyID: provosttest.AttestorKeyID}
	return devworld.Write(dir, m, devworld.Secrets{Issuer: k.Issuer, Attestor: k.Attestor, CA: k.CAKey, JWTSVID: jwtKey, DPoP: dpopKey, Hops: k.Hops})
}

// rewriteConfig makes the run's provost.yaml the kept world's: each
// replacement must apply exactly once, or the generated file changed shape.
func rewriteConfig(path, runOrigin string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(data)
	for _, r := range [][2]string{
		{"external_origins: [" + runOrigin + "]\n", "external_origins: [" + KeptOrigin + "]\n"},
		{"x509_bundle: ca.pem}", "x509_bundle: ca.pem, jwt_bundle: " + jwtBundleFile + "}"},
	} {
		if n := strings.Count(s, r[0]); n != 1 {
			return fmt.Errorf("keeping %s: %q appears %d times, not once", path, r[0], n)
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	return os.WriteFile(path, []byte(keepHeader+s), 0o600)
}
