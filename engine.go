package provost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/workload"
)

// Options tune an Engine.
type Options struct {
	// Secret is the server secret: fingerprints are keyed with it, and the
	// DPoP nonce key is derived from it. Required; at least 32 bytes.
	// Keep it as you keep the evidence: a new secret renames every
	// credential.
	Secret []byte
	// Now is the clock of decisions (token times, DPoP, origin history,
	// evidence); nil means time.Now. Tests and offline checks pin it. The
	// refresh of an issuer's remote JWKS belongs to the Policy and keeps
	// wall-clock time.
	Now func() time.Time
	// Logger receives operational logs (never a raw credential); nil
	// discards them.
	Logger *slog.Logger
	// TracerProvider gives the tracer of the span "provost.check" that
	// Check starts around each decision, with the decision's outcome,
	// reason codes, binding and credential fingerprint as attributes
	// (never the credential). nil means otel.GetTracerProvider(), which
	// records nothing until the program sets one.
	TracerProvider trace.TracerProvider
	// MeterProvider gives the meter of the decision instruments:
	// provost.decisions (by outcome and transport, once per decision),
	// provost.decision.reasons (by outcome and reason code),
	// provost.decision.duration (seconds) and provost.check.failures. nil
	// means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// SPIFFEBundles gives, at each verification, the X.509 and JWT trust
	// bundles of the trust domains a policy lists in trust.workload_api:
	// go-spiffe's *workloadapi.BundleSource, or what `provost serve`
	// starts from that section. A policy that lists such trust domains is
	// refused without it; other trust domains never consult it.
	SPIFFEBundles interface {
		x509bundle.Source
		jwtbundle.Source
	}
}

// Engine decides requests. It is safe for concurrent use. Its policy is
// swapped atomically by SetPolicy; its stores belong to whoever opened
// them.
type Engine struct {
	now    func() time.Time
	log    *slog.Logger
	obs    *observer
	secret []byte
	fp     *fingerprint.Fingerprinter
	stores Stores
	// spiffe is Options.SPIFFEBundles.
	spiffe workload.BundleSource

	state atomic.Pointer[state]
	setMu sync.Mutex

	// wrapped is the decision function with the wrappers Use added.
	wrapped atomic.Pointer[CheckFunc]
	wrapMu  sync.Mutex
}

// New returns an Engine that enforces p with the stores s.
func New(ctx context.Context, p *Policy, s Stores, o Options) (*Engine, error) {
	switch {
	case p == nil:
		return nil, errors.New("provost: New needs a Policy (LoadPolicy or ParsePolicy)")
	case s.Revocations == nil || s.Origins == nil || s.Replay == nil || s.Evidence == nil:
		return nil, errors.New("provost: New needs every store: Revocations, Origins, Replay and Evidence")
	}
	fp, err := fingerprint.New(o.Secret)
	if err != nil {
		return nil, fmt.Errorf("provost: Options.Secret: %w", err)
	}
	e := &Engine{now: o.Now, log: o.Logger, secret: o.Secret, fp: fp, stores: s, spiffe: o.SPIFFEBundles}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.obs, err = newObserver(o.TracerProvider, o.MeterProvider); err != nil {
		return nil, err
	}
	if err := e.SetPolicy(ctx, p); err != nil {
		return nil, err
	}
	return e, nil
}

// SetPolicy swaps p in for every later Check. When p cannot be put in force
// the Engine keeps the policy it has and SetPolicy says why.
func (e *Engine) SetPolicy(ctx context.Context, p *Policy) error {
	e.setMu.Lock()
	defer e.setMu.Unlock()
	st, err := e.buildState(p)
	if err != nil {
		return err
	}
	e.state.Store(st)
	return nil
}

// Policy is the policy in force.
func (e *Engine) Policy() *Policy { return e.state.Load().Policy }

// DPoPNonce returns a fresh DPoP server nonce, or "" when nonces are off.
func (e *Engine) DPoPNonce() string {
	if d := e.state.Load().dpop; d != nil {
		return d.Nonce()
	}
	return ""
}
