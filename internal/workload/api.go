package workload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults of APIConfig.
const (
	// DefaultAPIStartTimeout bounds the wait for the first bundles.
	DefaultAPIStartTimeout = 10 * time.Second
	// DefaultAPIMaxStale is how long the last bundles are used while the
	// Workload API is unreachable.
	DefaultAPIMaxStale = time.Hour
)

// Errors of an APISource; callers branch on them with errors.Is.
var (
	// ErrAPIUnavailable: the Workload API gave no bundles for every trust
	// domain within the start timeout.
	ErrAPIUnavailable = errors.New("workload API: no trust bundles")
	// ErrAPIStale: the Workload API has been unreachable for longer than
	// MaxStale, so the bundles last received are no longer used.
	ErrAPIStale = errors.New("workload API: trust bundles are stale")
)

// APIConfig says where the SPIFFE Workload API is, which trust domains
// must have bundles, and how long to wait for it and to trust what it last
// said.
type APIConfig struct {
	// Address is unix:///path/to/agent.sock or tcp://IP:PORT.
	Address string
	// TrustDomains must each have an X.509 or a JWT bundle before
	// StartAPI returns.
	TrustDomains []string
	// StartTimeout bounds StartAPI (default DefaultAPIStartTimeout).
	StartTimeout time.Duration
	// MaxStale is how long the bundles last received stay in use after
	// the Workload API became unreachable (default DefaultAPIMaxStale).
	MaxStale time.Duration
	// Logger receives the connection's losses and recoveries and every
	// update (trust domains and authority counts, never key material);
	// nil discards them.
	Logger *slog.Logger
	// Now is the clock of staleness; nil means time.Now.
	Now func() time.Time
}

// APISource follows the X.509 and JWT bundles the Workload API serves, over
// two watches that reconnect by themselves. It implements BundleSource; a
// bundle keeps its object until the Workload API changes it. It is safe for
// concurrent use.
type APISource struct {
	cfg     APIConfig
	domains []spiffeid.TrustDomain
	client  *workloadapi.Client
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	// started is closed once both watches updated and every configured
	// trust domain has a bundle.
	started chan struct{}

	mu      sync.RWMutex
	x509    map[spiffeid.TrustDomain]*x509bundle.Bundle
	jwt     map[spiffeid.TrustDomain]*jwtbundle.Bundle
	x5, jw  watchState
	isLive  bool   // started was closed
	lastErr string // the last watch error, for the start error
}

// watchState is one watch's health.
type watchState struct {
	updated bool      // an update arrived at least once
	down    time.Time // when the watch failed, zero while it works
	refused []string  // trust domains the last update's bundles were refused for, and why
}

// StartAPI connects to the Workload API and waits, at most StartTimeout,
// until it has served bundles for every trust domain of cfg. On timeout the
// error wraps ErrAPIUnavailable and names the address, the trust domains
// missing and the last error seen. Close releases the connection.
func StartAPI(ctx context.Context, cfg APIConfig) (*APISource, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultAPIStartTimeout
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = DefaultAPIMaxStale
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := workloadapi.ValidateAddress(cfg.Address); err != nil {
		return nil, fmt.Errorf("workload API address %q: %w", cfg.Address, err)
	}
	s := &APISource{cfg: cfg, started: make(chan struct{}),
		x509: map[spiffeid.TrustDomain]*x509bundle.Bundle{}, jwt: map[spiffeid.TrustDomain]*jwtbundle.Bundle{}}
	for _, d := range cfg.TrustDomains {
		td, err := spiffeid.TrustDomainFromString(d)
		if err != nil {
			return nil, fmt.Errorf("workload API: trust domain %q: %w", d, err)
		}
		s.domains = append(s.domains, td)
	}
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(cfg.Address), workloadapi.WithBackoffStrategy(apiBackoff{}))
	if err != nil {
		return nil, fmt.Errorf("workload API at %s: %w", cfg.Address, err)
	}
	s.client = client
	watchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = client.WatchX509Bundles(watchCtx, x509Watcher{s}) }()
	go func() { defer s.wg.Done(); _ = client.WatchJWTBundles(watchCtx, jwtWatcher{s}) }()

	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-s.started:
		return s, nil
	case <-timer.C:
		err = s.startError()
	case <-ctx.Done():
		err = fmt.Errorf("workload API at %s: %w", cfg.Address, ctx.Err())
	}
	s.Close()
	return nil, err
}

// startError says why the start timed out.
func (s *APISource) startError() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var what []string
	if !s.x5.updated {
		what = append(what, "no X.509 bundles")
	}
	if !s.jw.updated {
		what = append(what, "no JWT bundles")
	}
	if missing := s.missingLocked(); len(missing) > 0 {
		what = append(what, "no bundle for trust domain "+strings.Join(missing, ", "))
	}
	for _, r := range append(s.x5.refused, s.jw.refused...) {
		what = append(what, "bundle refused: "+r)
	}
	msg := fmt.Sprintf("%v from %s within %s: %s", ErrAPIUnavailable, s.cfg.Address, s.cfg.StartTimeout, strings.Join(what, "; "))
	if s.lastErr != "" {
		msg += "; last error: " + s.lastErr
	}
	return &apiError{msg: msg, kind: ErrAPIUnavailable}
}

// apiError is an error message that wraps a sentinel.
type apiError struct {
	msg  string
	kind error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

// missingLocked names the configured trust domains without any bundle.
func (s *APISource) missingLocked() []string {
	var out []string
	for _, td := range s.domains {
		_, x := s.x509[td]
		_, j := s.jwt[td]
		if !x && !j {
			out = append(out, td.Name())
		}
	}
	return out
}

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (s *APISource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.staleLocked(s.x5); err != nil {
		return nil, err
	}
	b, ok := s.x509[td]
	if !ok {
		return nil, fmt.Errorf("the Workload API serves no X.509 bundle for trust domain %q", td.Name())
	}
	return b, nil
}

// GetJWTBundleForTrustDomain implements jwtbundle.Source.
func (s *APISource) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.staleLocked(s.jw); err != nil {
		return nil, err
	}
	b, ok := s.jwt[td]
	if !ok {
		return nil, fmt.Errorf("the Workload API serves no JWT bundle for trust domain %q", td.Name())
	}
	return b, nil
}

// Ready is nil while the bundles are current: both watches work, or
// failed less than MaxStale ago. Otherwise it wraps ErrAPIStale.
func (s *APISource) Ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.staleLocked(s.x5); err != nil {
		return err
	}
	return s.staleLocked(s.jw)
}

func (s *APISource) staleLocked(w watchState) error {
	if w.down.IsZero() {
		return nil
	}
	if since := s.cfg.Now().Sub(w.down); since > s.cfg.MaxStale {
		return &apiError{kind: ErrAPIStale, msg: fmt.Sprintf("%v: the Workload API has been unreachable for %s, longer than max_stale (%s)",
			ErrAPIStale, since.Round(time.Second), s.cfg.MaxStale)}
	}
	return nil
}

// Close stops the watches and closes the connection.
func (s *APISource) Close() error {
	s.cancel()
	err := s.client.Close()
	s.wg.Wait()
	return err
}

// update puts a watch's new bundles in force and logs what changed.
func (s *APISource) update(kind string, w *watchState, apply func() changes) {
	s.mu.Lock()
	now := s.cfg.Now()
	wasDown := w.down
	w.updated, w.down = true, time.Time{}
	changed := apply()
	w.refused = changed.refused
	if !s.isLive && s.x5.updated && s.jw.updated && len(s.missingLocked()) == 0 {
		s.isLive = true
		close(s.started)
	}
	s.mu.Unlock()
	log := s.cfg.Logger
	if !wasDown.IsZero() {
		log.Info("workload API: reachable again", slog.String("bundles", kind), slog.String("address", s.cfg.Address),
			slog.Duration("unreachable_for", now.Sub(wasDown)))
	}
	changed.log(log, kind)
}

// failed records a watch's error: the bundles held stay in use until
// MaxStale has passed.
func (s *APISource) failed(kind string, w *watchState, err error) {
	if errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled {
		return
	}
	s.mu.Lock()
	now := s.cfg.Now()
	first := w.down.IsZero() && w.updated
	if w.down.IsZero() {
		w.down = now
	}
	s.lastErr = err.Error()
	s.mu.Unlock()
	if first {
		s.cfg.Logger.Warn("workload API: unreachable; keeping the trust bundles last received until max_stale",
			slog.String("bundles", kind), slog.String("address", s.cfg.Address),
			slog.Duration("max_stale", s.cfg.MaxStale), slog.String("error", err.Error()))
	}
}
