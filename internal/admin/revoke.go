package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/telemetry"
)

// Revoker adds revocations as POST /v1/revocations does. The admin API and
// the dashboard's Revoke button (internal/dashboard) both go through it, so
// a revocation is validated, stored and audited alike whoever asks.
type Revoker struct {
	App *app.App
	// Log receives the audit line of each revocation created.
	Log *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// InvalidError is a revocation request that makes no valid revocation.
// Its message never repeats a credential.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// Create turns req into a revocation (fingerprinting a raw credential,
// which it then forgets), stores it and writes the audit line "revocation
// created" naming client. A request that makes no valid revocation gives
// an *InvalidError; any other error is the store's.
func (v Revoker) Create(ctx context.Context, req *CreateRequest, client Client) (revocation.Revocation, error) {
	rev, why := v.toRevocation(req)
	req.Credential = "" // forgotten from here on
	if why != "" {
		return revocation.Revocation{}, &InvalidError{Msg: why}
	}
	stored, err := v.App.Revocations.Add(ctx, rev)
	if errors.Is(err, revocation.ErrInvalid) {
		// Validate's messages never repeat the value.
		return revocation.Revocation{}, &InvalidError{Msg: err.Error()}
	}
	if err != nil {
		return revocation.Revocation{}, err
	}
	log := v.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.LogAttrs(ctx, slog.LevelWarn, "revocation created",
		slog.String("revocation", stored.ID), slog.String("kind", string(stored.Kind)), slog.String("value", stored.Value),
		slog.String("issuer", stored.Issuer), slog.String("reason", stored.Reason), slog.String("client", client.Name))
	return stored, nil
}

// toRevocation turns a request into a revocation, fingerprinting a raw
// credential; the returned reason never repeats the credential.
func (v Revoker) toRevocation(req *CreateRequest) (revocation.Revocation, string) {
	rev := revocation.Revocation{Kind: revocation.Kind(req.Kind), Value: req.Value, Issuer: req.Issuer, Reason: req.Reason}
	if req.Credential != "" {
		switch {
		case req.Value != "":
			return rev, "give either value or credential, not both"
		case rev.Kind != "" && rev.Kind != revocation.KindFingerprint:
			return rev, "credential applies only to kind fingerprint"
		}
		rev.Kind, rev.Value = revocation.KindFingerprint, v.App.Fingerprint(req.Credential)
	}
	var why string
	if rev.IssuedBefore, why = parseTime("issued_before", req.IssuedBefore); why != "" {
		return rev, why
	}
	if rev.ExpiresAt, why = parseTime("expires_at", req.ExpiresAt); why != "" {
		return rev, why
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if !rev.ExpiresAt.IsZero() && !rev.ExpiresAt.After(now()) {
		return rev, "expires_at is not in the future"
	}
	return rev, ""
}

// UIPath is the path under which Options.UI is served on the admin
// listener (the path itself and everything below it).
const UIPath = "/ui"

// withUI serves ui at UIPath and below, before the admin API's own
// authentication (the dashboard authenticates its users itself, with the
// same admin credentials), and next everywhere else.
func (s *Server) withUI(ui, next http.Handler) http.Handler {
	logged := telemetry.RequestIDMiddleware(s.observe(nil, ui))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == UIPath || strings.HasPrefix(p, UIPath+"/") {
			logged.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
