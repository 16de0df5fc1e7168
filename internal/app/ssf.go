package app

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/pemkey"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/smallfile"
	"github.com/provost-dev/provost/internal/ssf"
)

// SSFDrainTimeout bounds how long Close waits for the SSF transmitter to
// deliver the SETs still queued; those left are dead letters.
const SSFDrainTimeout = 5 * time.Second

// PathSSFJWKS is where the server publishes the transmitter's keys; the
// SSF configuration document names it under the transmitter's issuer.
const PathSSFJWKS = "/v1/ssf/jwks"

// SSF is what the ssf section built: nil fields are not configured.
type SSF struct {
	// Transmitter pushes the revocations made here.
	Transmitter *ssf.Transmitter
	// JWKS is the transmitter's public key set; Configuration its
	// /.well-known/ssf-configuration document.
	JWKS, Configuration []byte
	// Receiver is the RFC 8935 push endpoint (POST /v1/ssf/events).
	Receiver *ssf.Receiver
}

// openSSF builds the transmitter and the receiver the ssf section names.
// local is the undecorated revocation store: received revocations are
// added to it, so they are never sent on (two Provosts streaming to each
// other would otherwise pass a revocation back and forth forever). It
// returns the store the rest of Provost writes to: local, or local wrapped
// so that each revocation added is also notified.
func openSSF(c *config.Config, local revocation.Store, replay ssf.ReplayCache, log *slog.Logger) (SSF, revocation.Store, error) {
	var out SSF
	store := local
	if t := c.SSF.Transmitter; t != nil {
		tr, err := newTransmitter(c, t, log)
		if err != nil {
			return SSF{}, nil, err
		}
		out.Transmitter = tr
		out.JWKS = tr.JWKS()
		out.Configuration = tr.Configuration(jwksURI(t.Issuer))
		store = notifyingStore{Store: local, t: tr, log: log}
	}
	if r := c.SSF.Receiver; r != nil {
		rc, err := newReceiver(c, r, local, replay, log)
		if err != nil {
			if out.Transmitter != nil {
				out.Transmitter.Close(context.Background())
			}
			return SSF{}, nil, err
		}
		out.Receiver = rc
	}
	return out, store, nil
}

// jwksURI is where the JWKS is published when the issuer is an http(s)
// URL (the SSF issuer is the base of its well-known configuration).
func jwksURI(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	return strings.TrimSuffix(issuer, "/") + PathSSFJWKS
}

func newTransmitter(c *config.Config, t *config.SSFTransmitter, log *slog.Logger) (*ssf.Transmitter, error) {
	key, err := readSigningKey(c.Resolve(t.KeyFile))
	if err != nil {
		return nil, fmt.Errorf("provost: ssf.transmitter.key_file: %w", err)
	}
	cfg := ssf.TransmitterConfig{
		Issuer: t.Issuer, Key: key, KeyID: t.KeyID,
		QueueSize: t.QueueSize, MaxAttempts: t.MaxAttempts,
		InitialBackoff: t.InitialBackoff.D(), MaxBackoff: t.MaxBackoff.D(),
		Observe: func(o ssf.Outcome) {
			if o.Dead == nil {
				log.LogAttrs(context.Background(), slog.LevelDebug, "ssf: SET delivered",
					slog.String("stream", o.Stream), slog.String("jti", o.JTI), slog.Int("attempts", o.Attempts))
				return
			}
			log.LogAttrs(context.Background(), slog.LevelWarn, "ssf: SET not delivered",
				slog.String("stream", o.Stream), slog.String("jti", o.JTI), slog.String("why", o.Dead.Why),
				slog.Int("attempts", o.Dead.Attempts), slog.Int("last_status", o.Dead.LastStatus),
				slog.String("last_error", o.Dead.LastError), slog.String("revocation_id", o.Dead.RevocationID))
		},
	}
	if t.DeadLetterFile != "" {
		cfg.DeadLetters = ssf.NewFileDeadLetters(c.Resolve(t.DeadLetterFile))
	}
	for i, s := range t.Streams {
		auth, err := readHeaderFile(c.Resolve(s.AuthorizationFile))
		if err != nil {
			return nil, fmt.Errorf("provost: ssf.transmitter.streams[%d].authorization_file: %w", i, err)
		}
		st := ssf.Stream{ID: s.ID, EndpointURL: s.Endpoint, Audience: s.Audience, AuthorizationHeader: auth, SendReason: s.SendReason}
		for _, e := range s.EventsDelivered {
			st.EventsDelivered = append(st.EventsDelivered, config.SSFEvents[e])
		}
		cfg.Streams = append(cfg.Streams, st)
	}
	tr, err := ssf.NewTransmitter(cfg)
	if err != nil {
		return nil, fmt.Errorf("provost: %w", err)
	}
	return tr, nil
}

func newReceiver(c *config.Config, r *config.SSFReceiver, local revocation.Store, replay ssf.ReplayCache, log *slog.Logger) (*ssf.Receiver, error) {
	cfg := ssf.ReceiverConfig{
		Replay: replay,
		OnRevocation: func(ctx context.Context, rev revocation.Revocation) error {
			stored, err := local.Add(ctx, rev)
			if err != nil {
				return err
			}
			log.LogAttrs(ctx, slog.LevelInfo, "ssf: revocation received", slog.String("revocation_id", stored.ID),
				slog.String("kind", string(stored.Kind)))
			return nil
		},
		Observe: func(rc ssf.Received) {
			if rc.Err == "" {
				return
			}
			log.LogAttrs(context.Background(), slog.LevelWarn, "ssf: SET refused", slog.String("issuer", rc.Issuer),
				slog.String("jti", rc.JTI), slog.Int("status", rc.Status), slog.String("err", rc.Err), slog.String("description", rc.Description))
		},
	}
	for i, t := range r.Transmitters {
		p := fmt.Sprintf("provost: ssf.receiver.transmitters[%d]", i)
		jwks, err := smallfile.Read(c.Resolve(t.JWKSFile), smallfile.DefaultLimit)
		if err != nil {
			return nil, fmt.Errorf("%s.jwks_file: %w", p, err)
		}
		auth, err := readHeaderFile(c.Resolve(t.AuthorizationFile))
		if err != nil {
			return nil, fmt.Errorf("%s.authorization_file: %w", p, err)
		}
		tt := ssf.TrustedTransmitter{Issuer: t.Issuer, Audience: t.Audience, JWKS: jwks, Algorithms: t.Algorithms,
			AuthorizationHeader: auth, TokenIssuers: t.TokenIssuers}
		for _, k := range t.AcceptKinds {
			tt.AcceptKinds = append(tt.AcceptKinds, revocation.Kind(k))
		}
		cfg.Transmitters = append(cfg.Transmitters, tt)
	}
	rc, err := ssf.NewReceiver(cfg)
	if err != nil {
		return nil, fmt.Errorf("provost: %w", err)
	}
	return rc, nil
}

// readSigningKey reads a PKCS#8 PEM private key: ECDSA P-256 or Ed25519
// (pemkey.Parse).
func readSigningKey(path string) (crypto.Signer, error) {
	b, err := smallfile.Read(path, smallfile.DefaultLimit)
	if err != nil {
		return nil, err
	}
	return pemkey.Parse(b)
}

// readHeaderFile reads an Authorization header value: the file's one line,
// without its line end. The value is a secret: errors never repeat it.
func readHeaderFile(path string) (string, error) {
	b, err := smallfile.Read(path, 8<<10)
	if err != nil {
		return "", err
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" || strings.ContainsAny(v, "\r\n") {
		return "", errors.New("must hold one non-empty line (the Authorization header value, e.g. \"Bearer ...\")")
	}
	return v, nil
}

// notifyingStore is a revocation store whose Add also sends the revocation
// to the SSF streams. A failed Notify is logged and never fails the
// revocation, which is in force here either way.
type notifyingStore struct {
	revocation.Store
	t   *ssf.Transmitter
	log *slog.Logger
}

func (s notifyingStore) Add(ctx context.Context, r revocation.Revocation) (revocation.Revocation, error) {
	stored, err := s.Store.Add(ctx, r)
	if err != nil {
		return stored, err
	}
	if err := s.t.Notify(ctx, stored); err != nil {
		level := slog.LevelWarn
		if errors.Is(err, ssf.ErrNotShared) {
			level = slog.LevelDebug
		}
		s.log.LogAttrs(ctx, level, "ssf: revocation not sent", slog.String("revocation_id", stored.ID), slog.String("error", err.Error()))
	}
	return stored, nil
}

// Handler returns the receiver as an http.Handler, nil when none is
// configured.
func (s SSF) Handler() http.Handler {
	if s.Receiver == nil {
		return nil
	}
	return s.Receiver
}
