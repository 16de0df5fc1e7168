package provost

import (
	"context"
	"fmt"
	"time"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/dpop"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/posture"
	"github.com/provost-dev/provost/internal/target"
	"github.com/provost-dev/provost/internal/workload"
)

// state is one loaded configuration: immutable once built, swapped whole.
type state struct {
	cfg      *config.Config
	verifier *credential.Verifier
	dpop     *dpop.Verifier
	bindings *binding.Set
	detect   origin.Config
	// remotes are the issuers' remote key sources, for their counters.
	remotes map[string]*issuer.Remote

	trusted   *network.CIDRSet
	fwdHeader network.Header
	bundles   *workload.Bundles // nil: no SPIFFE trust configured
	svidAud   string
	hops      *hop.Verifier
	posture   *posture.Verifier
	// redact names the query parameters whose values are never kept.
	redact target.Redactor
}

// buildState makes every verifier of one configuration. It has no side
// effects, so a failed reload leaves nothing behind.
func (e *Engine) buildState(ctx context.Context, cfg *config.Config) (*state, error) {
	st := &state{cfg: cfg, redact: target.NewRedactor(cfg.Evidence.RedactQueryParams)}
	if len(cfg.ExternalOrigins) > 0 {
		dc := dpop.Config{
			Algorithms: cfg.DPoP.Algorithms,
			Origins:    cfg.ExternalOrigins,
			MaxAge:     cfg.DPoP.MaxAge.D(),
			Leeway:     cfg.DPoP.Leeway.D(),
		}
		if cfg.DPoP.Nonces {
			dc.NonceKey = deriveKey(e.secret, "dpop-nonce")
		}
		var err error
		if st.dpop, err = dpop.New(dc, e.replay, e.now); err != nil {
			return nil, fmt.Errorf("provost: %s: dpop: %w", cfg.File, err)
		}
	}
	if err := e.buildVerifier(ctx, cfg, st); err != nil {
		return nil, err
	}
	if err := buildTrust(cfg, st, e.now); err != nil {
		return nil, fmt.Errorf("provost: %s: %w", cfg.File, err)
	}
	if cfg.Bindings != "" {
		var err error
		if st.bindings, err = binding.Load(cfg.Resolve(cfg.Bindings)); err != nil {
			return nil, fmt.Errorf("provost: %w", err)
		}
	} else {
		// No bindings file: every accepted credential is shadow automation,
		// denied in enforce mode (fail closed).
		st.bindings, _ = binding.Parse("(no bindings file)", []byte("version: 1\n"))
	}
	st.detect = origin.Config{
		ConcurrentWindow: st.bindings.Detectors.ConcurrentWindow,
		Dormancy:         st.bindings.Detectors.Dormancy,
	}
	return st, nil
}

func (e *Engine) buildVerifier(ctx context.Context, cfg *config.Config, st *state) error {
	issuers := make([]credential.Issuer, 0, len(cfg.Issuers))
	for i, ic := range cfg.Issuers {
		src, err := keySource(ctx, cfg, ic, e.now)
		if err != nil {
			return fmt.Errorf("provost: %s: issuers[%d] (%s): %w", cfg.File, i, ic.Issuer, err)
		}
		if r, ok := src.(*issuer.Remote); ok {
			if st.remotes == nil {
				st.remotes = map[string]*issuer.Remote{}
			}
			st.remotes[ic.Issuer] = r
		}
		issuers = append(issuers, credential.Issuer{
			Issuer: ic.Issuer, Audiences: ic.Audiences, Algorithms: ic.Algorithms,
			Keys: src, TokenTypes: ic.TokenTypes,
		})
	}
	keys := make([]credential.APIKey, 0, len(cfg.APIKeys))
	for _, k := range cfg.APIKeys {
		keys = append(keys, credential.APIKey{Name: k.Name, Fingerprint: k.Fingerprint, Subject: k.Subject})
	}
	v, err := credential.New(credential.Config{
		Issuers:       issuers,
		APIKeys:       keys,
		MaxTokenBytes: cfg.Tokens.MaxBytes,
		Leeway:        cfg.Tokens.Leeway.D(),
		MaxActDepth:   cfg.Tokens.MaxActDepth,
		Fingerprints:  e.fp,
		DPoP:          st.dpop,
		Revocations:   e.revoked,
		Now:           e.now,
	})
	if err != nil {
		return fmt.Errorf("provost: %s: %w", cfg.File, err)
	}
	st.verifier = v
	return nil
}

func keySource(ctx context.Context, cfg *config.Config, ic config.Issuer, now func() time.Time) (issuer.Source, error) {
	rc := issuer.RemoteConfig{
		URL:                ic.JWKSURL,
		MinRefreshInterval: ic.Refresh.MinInterval.D(),
		TTL:                ic.Refresh.TTL.D(),
		MaxStale:           ic.Refresh.MaxStale.D(),
		Now:                now,
	}
	switch {
	case ic.JWKSFile != "":
		return issuer.LoadFile(cfg.Resolve(ic.JWKSFile))
	case ic.JWKSURL != "":
		return issuer.NewRemote(rc)
	default:
		return issuer.NewDiscovery(ctx, ic.Issuer, rc)
	}
}
