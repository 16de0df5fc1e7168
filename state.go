package provost

import (
	"fmt"

	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/dpop"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/posture"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/internal/target"
)

// state is one policy put in force: the policy and the verifiers built from
// it, the engine's stores and its clock. Immutable once built, swapped whole.
type state struct {
	*Policy
	verifier *credential.Verifier
	dpop     *dpop.Verifier
	detect   origin.Config
	signals  *signal.Builder
	// redact names the query parameters whose values are never kept.
	redact target.Redactor
}

// buildState makes every verifier of one policy. It has no side effects,
// so a failure leaves nothing behind.
func (e *Engine) buildState(p *Policy) (*state, error) {
	cfg := p.cfg
	st := &state{Policy: p, redact: target.NewRedactor(cfg.Evidence.RedactQueryParams)}
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
		if st.dpop, err = dpop.New(dc, e.stores.Replay, e.now); err != nil {
			return nil, fmt.Errorf("provost: %s: dpop: %w", cfg.File, err)
		}
	}
	keys := make([]credential.APIKey, 0, len(cfg.APIKeys))
	for _, k := range cfg.APIKeys {
		keys = append(keys, credential.APIKey{Name: k.Name, Fingerprint: k.Fingerprint, Subject: k.Subject})
	}
	v, err := credential.New(credential.Config{
		Issuers:       p.issuers,
		APIKeys:       keys,
		MaxTokenBytes: cfg.Tokens.MaxBytes,
		Leeway:        cfg.Tokens.Leeway.D(),
		MaxActDepth:   cfg.Tokens.MaxActDepth,
		Fingerprints:  e.fp,
		DPoP:          st.dpop,
		Revocations:   e.stores.Revocations,
		Now:           e.now,
	})
	if err != nil {
		return nil, fmt.Errorf("provost: %s: %w", cfg.File, err)
	}
	st.verifier = v
	anchors, err := p.trust.WithBundleSource(e.spiffe)
	if err != nil {
		return nil, fmt.Errorf("provost: %s: %w", cfg.File, err)
	}
	st.signals = &signal.Builder{Anchors: anchors, Networks: p.bindings.Networks(),
		Hops:    &hop.Verifier{Keys: p.trust.HopKeys, MaxAge: p.trust.HopMaxAge, Now: e.now},
		Posture: &posture.Verifier{Attestors: p.trust.Attestors, Now: e.now}}
	st.detect = origin.Config{
		ConcurrentWindow: p.bindings.Detectors.ConcurrentWindow,
		Dormancy:         p.bindings.Detectors.Dormancy,
	}
	return st, nil
}
