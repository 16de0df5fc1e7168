package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/telemetry"
)

// Revoker adds revocations as POST /v1/revocations does. The admin API and
// the dashboard's Revoke button (internal/dashboard) both go through it, so
// a revocation is validated, stored, audited and recorded as evidence alike
// whoever asks.
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

// EvidenceError is a revocation that was stored, and is in force, but
// whose evidence record could not be appended to the evidence log.
type EvidenceError struct {
	// Revocation is the revocation as stored.
	Revocation revocation.Revocation
	Err        error
}

func (e *EvidenceError) Error() string {
	return fmt.Sprintf("revocation %s is in force, but its evidence record was not written: %v", e.Revocation.ID, e.Err)
}

func (e *EvidenceError) Unwrap() error { return e.Err }

// Create turns req into a revocation (fingerprinting a raw credential,
// which it then forgets), stores it, writes the audit line "revocation
// created" naming client, then appends its evidence record
// (evidence.FromRevocation) to the evidence log the engine writes
// decisions to.
//
// The store comes first so that a revocation is never lost: once Add
// returns, the revocation is in force whatever happens next. When the
// evidence record cannot be appended (the log refuses writes after a
// fault), Create returns the stored revocation and an *EvidenceError. A
// request that makes no valid revocation gives an *InvalidError, and
// nothing is stored; any other error is the store's.
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
	if err := v.record(ctx, stored, client); err != nil {
		log.LogAttrs(ctx, slog.LevelError, "revocation in force but not recorded as evidence",
			slog.String("revocation", stored.ID), slog.String("client", client.Name), slog.Any("error", err))
		return stored, &EvidenceError{Revocation: stored, Err: err}
	}
	return stored, nil
}

// record appends the evidence record of the stored revocation, through the
// appender the engine writes decisions with (the data directory's
// integrity check included). The request's context may end once the
// revocation is stored: the record is written regardless.
func (v Revoker) record(ctx context.Context, stored revocation.Revocation, client Client) error {
	rec := evidence.FromRevocation(stored, client.Name, telemetry.RequestIDFrom(ctx))
	data, err := rec.Marshal()
	if err != nil {
		return fmt.Errorf("evidence record: %w", err)
	}
	if _, err := v.App.Stores().Evidence.Append(context.WithoutCancel(ctx), data); err != nil {
		return fmt.Errorf("evidence log: %w", err)
	}
	return nil
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
		// The reason is kept, logged and recorded as evidence: a copy of
		// the credential pasted into it is named by its fingerprint too.
		rev.Reason = strings.ReplaceAll(rev.Reason, req.Credential, rev.Value)
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
