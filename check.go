package provost

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/evidence"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/internal/target"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// Request is one request to judge, as a transport observed it. Every
// transport fills the same value. Header values are passed as received;
// Provost decides which to believe.
type Request struct {
	// Method and Target (path and query as received) of the request. A
	// method that is not an upper-case RFC 9110 token, and a target that
	// is not in origin form or could be read two ways (dot-segments, "//",
	// encoded slashes, backslashes, control characters), are refused
	// before any rule runs (request_method_invalid,
	// request_target_invalid); rules see the normalised form.
	Method string
	Target string
	// Authorization is the Authorization header value, and DPoP the DPoP
	// proof header value. A field sent more than once is given with its
	// lines joined by commas (JoinLines), and is then refused
	// (authorization_repeated, dpop_proof_repeated).
	Authorization string
	DPoP          string
	// Peer is the address of the immediate TCP peer.
	Peer netip.Addr
	// XForwardedFor and Forwarded are every line of those headers, in order.
	XForwardedFor []string
	Forwarded     []string
	// ClientCerts is the verified TLS client certificate chain, leaf first.
	ClientCerts []*x509.Certificate
	// XFCC is Envoy's x-forwarded-client-cert; ClientCertHeader and
	// ClientCertChainHeader are RFC 9440's Client-Cert and
	// Client-Cert-Chain. They are read only when Peer is a trusted proxy.
	XFCC                  string
	ClientCertHeader      string
	ClientCertChainHeader string
	// JWTSVID is a JWT-SVID presented in the Provost-Workload-JWT header.
	JWTSVID string
	// Hops are the Provost-Hop header lines (signed hop attestations).
	Hops []string
	// Posture is the Provost-Posture header: a posture attestation.
	Posture string
	// ID names the request in logs and evidence; the engine makes one when
	// it is empty.
	ID string
}

// Decision is the Engine's answer for one request. Its fields and the
// types they hold are in package verdict; the reason codes in package
// reason.
type Decision = verdict.Decision

// Check judges one request. It never returns a nil Decision. The error is
// non-nil only when one of Provost's own parts failed; the Decision is then
// a denial (fail closed) and is still complete.
func (e *Engine) Check(ctx context.Context, r *Request) (*Decision, error) {
	f := CheckFunc(e.decide)
	if w := e.wrapped.Load(); w != nil {
		f = *w
	}
	return e.obs.check(ctx, f, r) // Judge, inside the span provost.check (telemetry.go)
}

// Judge calls c and holds it to Checker's promise, in the one place every
// transport relies on: whatever c returns, an error or a missing decision
// is answered with one fail-closed denial (internal_error), never with an
// allow.
func Judge(ctx context.Context, c Checker, r *Request) (*Decision, error) {
	d, err := c.Check(ctx, r)
	if d == nil && err == nil {
		err = errors.New("provost: the checker returned no decision")
	}
	if err != nil && (d == nil || d.Outcome != verdict.Deny || d.Credential.Verdict != verdict.Rejected) {
		// No transport can allow on an error.
		if d == nil {
			d = &Decision{RequestID: r.ID}
		}
		d.Outcome = verdict.Deny
		d.Credential.Verdict = verdict.Rejected
		d.Credential.Reason = reason.InternalError
		d.Reasons = append(d.Reasons, verdict.Reason{Code: reason.InternalError, Message: "Provost failed while deciding, so it denies (fail closed)"})
	}
	return d, err
}

// decide is the decision itself, under whatever Use wrapped around it.
func (e *Engine) decide(ctx context.Context, r *Request) (*Decision, error) {
	if r.ID == "" {
		named := *r // name the request once, without changing the caller's value
		named.ID = newRequestID()
		r = &named
	}
	st := e.state.Load()
	now := e.now()
	line, err := target.Parse(r.Method, r.Target, st.redact)
	if err != nil {
		return e.refuse(ctx, st, r, now, err)
	}
	obs := r.observed()
	client := st.signals.ClientCert(&obs)
	cred, verr := st.verifier.Verify(ctx, credential.Presented{
		Authorization: r.Authorization, DPoP: r.DPoP, Method: r.Method, Target: line.Path,
		ClientCert: client.Leaf(),
	})
	if verr != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "credential check failed closed",
			slog.String("fingerprint", cred.Fingerprint), slog.String("reason", string(cred.Reason)), slog.Any("error", verr))
		verr = fmt.Errorf("credential check failed closed: %w", verr)
	}
	sig := st.signals.Signals(&obs, line, cred, client, now)
	in := decision.Input{Credential: cred, Mode: st.bindings.Mode}
	var hist origin.History
	if cred.Accepted() {
		if in.Binding = st.bindings.Match(&cred); in.Binding != nil {
			in.Mode = in.Binding.Mode
			if err := e.bindingRevoked(ctx, in.Binding.Name, &in.Credential); err != nil {
				return e.failClosed(ctx, st, r, now, in, sig, err)
			}
			sig.Credential = in.Credential
		}
		if hist, err = e.stores.Origins.Lookup(ctx, cred.Fingerprint); err != nil {
			return e.failClosed(ctx, st, r, now, in, sig, fmt.Errorf("origin history: %w", err))
		}
		sig.Time.LastSeen = hist.LastSeen
	}
	cur := origin.FromSignals(&sig)
	if in.Credential.Accepted() {
		if in.Binding != nil {
			in.Checks = in.Binding.Evaluate(&sig)
		}
		if in.Mode != binding.ModeLearn {
			in.Findings = origin.Detect(st.detect, hist, cur, now)
		}
		if sig.Workload.ID != "" && !st.bindings.NamesWorkload(sig.Workload.ID) {
			in.Findings = append(in.Findings, origin.Finding{Code: reason.ShadowAutomation,
				Message: fmt.Sprintf("the workload %s is named by no binding", sig.Workload.ID)})
		}
	}
	d := decided(in, sig, cur, r.ID)
	if err := e.act(ctx, d, in, now); err != nil {
		return e.failClosed(ctx, st, r, now, in, sig, err)
	}
	if err := e.record(ctx, d, st, now); err != nil {
		return e.failClosed(ctx, st, r, now, in, sig, err)
	}
	return d, verr
}

// record appends the decision's evidence record. By default it returns
// only once the record is durably written: a decision that cannot be
// recorded is not answered (it fails closed).
func (e *Engine) record(ctx context.Context, d *Decision, st *state, now time.Time) error {
	rec := evidence.FromDecision(*d, d.Signals, d.Origin, evidence.Meta{
		RequestID: d.RequestID, BindingsDigest: st.bindings.Digest, RevocationID: d.RevocationID, Time: now})
	data, err := rec.Marshal()
	if err != nil {
		return fmt.Errorf("evidence record: %w", err)
	}
	ref, err := e.stores.Evidence.Append(ctx, data)
	if err != nil {
		return fmt.Errorf("evidence log: %w", err)
	}
	d.Evidence = &ref
	return nil
}

// newRequestID names a request no transport named.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// bindingRevoked rejects the credential when its binding is revoked.
func (e *Engine) bindingRevoked(ctx context.Context, name string, cred *credential.Result) error {
	rev, err := e.stores.Revocations.Match(ctx, revocation.Query{Binding: name})
	if err != nil {
		return fmt.Errorf("revocations: %w", err)
	}
	if rev != nil {
		cred.Verdict, cred.Reason, cred.RevocationID = credential.Rejected, reason.Revoked, rev.ID
		cred.Message = fmt.Sprintf("every credential of binding %q is revoked (%s)", name, rev.ID)
	}
	return nil
}

// act records the use in origin history and writes the revocation the
// decision asks for.
func (e *Engine) act(ctx context.Context, d *Decision, in decision.Input, now time.Time) error {
	cred := &d.Credential
	if cred.Accepted() {
		use := origin.Use{Fingerprint: cred.Fingerprint, Origin: d.Origin, At: now,
			Allowed: d.Outcome == decision.Allow, Learn: in.Mode == binding.ModeLearn}
		if in.Binding != nil {
			use.Binding = in.Binding.Name
		}
		if err := e.stores.Origins.Record(ctx, use); err != nil {
			return fmt.Errorf("origin history: %w", err)
		}
	}
	if !slices.Contains(d.Actions, decision.Revoke) || cred.Fingerprint == "" {
		return nil
	}
	codes := make([]string, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		codes = append(codes, string(r.Code))
	}
	rev, err := e.stores.Revocations.Add(ctx, revocation.Revocation{
		Kind: revocation.KindFingerprint, Value: cred.Fingerprint,
		Reason: "revoked by binding " + d.Binding + ": " + strings.Join(codes, ", "),
	})
	if err != nil {
		return fmt.Errorf("writing the revocation: %w", err)
	}
	d.RevocationID = rev.ID
	e.log.LogAttrs(ctx, slog.LevelWarn, "credential revoked", slog.String("fingerprint", cred.Fingerprint),
		slog.String("binding", d.Binding), slog.String("revocation", rev.ID))
	return nil
}

// failClosed denies when one of Provost's own parts failed. The denial is
// recorded in the evidence log too, unless the log is what failed.
func (e *Engine) failClosed(ctx context.Context, st *state, r *Request, now time.Time, in decision.Input, sig signal.Signals, err error) (*Decision, error) {
	e.log.LogAttrs(ctx, slog.LevelError, "decision failed closed", slog.String("fingerprint", in.Credential.Fingerprint), slog.Any("error", err))
	in.Credential.Verdict, in.Credential.Reason = credential.Rejected, reason.InternalError
	in.Credential.Message = "Provost could not reach one of its stores, so it denies (fail closed)"
	in.Binding, in.Checks, in.Findings = nil, nil, nil
	sig.Credential = in.Credential
	d := decided(in, sig, origin.FromSignals(&sig), r.ID)
	if rerr := e.record(ctx, d, st, now); rerr != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "the fail-closed denial could not be recorded either", slog.Any("error", rerr))
	}
	return d, err
}

// refuse denies a request whose method or target Parse refused: no rule
// could judge it unambiguously, so none is asked. The refusal is recorded,
// with what can safely be kept of the request line.
func (e *Engine) refuse(ctx context.Context, st *state, r *Request, now time.Time, err error) (*Decision, error) {
	cred := credential.Result{Verdict: credential.Rejected, Reason: reason.Of(err), Message: reason.MessageOf(err)}
	in := decision.Input{Credential: cred, Mode: st.bindings.Mode}
	sig := signal.Signals{Now: now, Credential: cred,
		Method:    target.Printable(r.Method, target.MaxMethodBytes, st.redact),
		RawTarget: target.Printable(r.Target, target.MaxBytes, st.redact)}
	d := decided(in, sig, origin.FromSignals(&sig), r.ID)
	if rerr := e.record(ctx, d, st, now); rerr != nil {
		return e.failClosed(ctx, st, r, now, in, sig, rerr)
	}
	return d, nil
}

// decided is Decide's decision with what the engine observed.
func decided(in decision.Input, sig signal.Signals, o origin.Origin, requestID string) *Decision {
	d := decision.Decide(in)
	d.Signals, d.Origin, d.RequestID = sig, o, requestID
	return &d
}

// observed is r as the signals stage reads it.
func (r *Request) observed() signal.Observed {
	return signal.Observed{Method: r.Method, Target: r.Target, Authorization: r.Authorization, DPoP: r.DPoP,
		Peer: r.Peer, XForwardedFor: r.XForwardedFor, Forwarded: r.Forwarded, ClientCerts: r.ClientCerts,
		XFCC: r.XFCC, ClientCertHeader: r.ClientCertHeader, ClientCertChainHeader: r.ClientCertChainHeader,
		JWTSVID: r.JWTSVID, Hops: r.Hops, Posture: r.Posture}
}
