package provost

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
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

// EvidenceRef names a decision's record in the evidence log.
type EvidenceRef struct {
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"` // base64, RFC 6962 leaf hash of the record
}

// Decision is the Engine's answer for one request.
type Decision struct {
	decision.Decision
	// Signals is everything observed about the request.
	Signals signal.Signals `json:"signals"`
	// Origin is where the request came from, as origin history keeps it.
	Origin origin.Origin `json:"origin"`
	// RevocationID names the revocation written because of this decision.
	RevocationID string `json:"revocation_id,omitempty"`
	// RequestID names the request; Evidence its record in the evidence log.
	RequestID string       `json:"request_id"`
	Evidence  *EvidenceRef `json:"evidence,omitempty"`
}

// Outcomes and verdicts, re-exported for callers that embed the Engine.
const (
	Allow  = decision.Allow
	StepUp = decision.StepUp
	Deny   = decision.Deny

	Accepted = credential.Accepted
	Rejected = credential.Rejected

	Verified     = decision.Verified
	Violated     = decision.Violated
	Insufficient = decision.Insufficient
)

// Check judges one request. The error is non-nil only when one of
// Provost's own parts failed; the Decision is then a denial (fail closed)
// and is still complete.
func (e *Engine) Check(ctx context.Context, r *Request) (*Decision, error) {
	f := e.decide
	if w := e.wrapped.Load(); w != nil {
		f = *w
	}
	d, err := f(ctx, r)
	if err != nil && (d == nil || d.Decision.Decision != decision.Deny) {
		// Whatever a wrapper did, a failure is never answered with anything
		// but a denial: no transport can allow on an error.
		d = deniedOnError(d)
	}
	return d, err
}

// deniedOnError turns d (or nothing) into a fail-closed denial.
func deniedOnError(d *Decision) *Decision {
	if d == nil {
		d = &Decision{}
	}
	d.Decision.Decision = decision.Deny
	d.Credential.Verdict = credential.Rejected
	d.Credential.Reason = reason.InternalError
	d.Reasons = append(d.Reasons, decision.Reason{Code: reason.InternalError, Message: "Provost failed while deciding, so it denies (fail closed)"})
	return d
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
	client := st.clientCert(r)
	cred, verr := st.verifier.Verify(ctx, credential.Presented{
		Authorization: r.Authorization, DPoP: r.DPoP, Method: r.Method, Target: r.Target,
		ClientCert: leaf(client.chain),
	})
	if verr != nil {
		e.log.LogAttrs(ctx, slog.LevelError, "credential check failed closed",
			slog.String("fingerprint", cred.Fingerprint), slog.String("reason", string(cred.Reason)), slog.Any("error", verr))
		verr = fmt.Errorf("credential check failed closed: %w", verr)
	}
	sig := st.signals(r, line, cred, client, now)
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
		if hist, err = e.history.Lookup(ctx, cred.Fingerprint); err != nil {
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
	d := &Decision{Decision: decision.Decide(in), Signals: sig, Origin: cur, RequestID: r.ID}
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
	rec := evidence.FromDecision(d.Decision, d.Signals, d.Origin, evidence.Meta{
		RequestID: d.RequestID, BindingsDigest: st.bindings.Digest, RevocationID: d.RevocationID, Time: now})
	data, err := rec.Marshal()
	if err != nil {
		return fmt.Errorf("evidence record: %w", err)
	}
	ent, err := e.evidence.Append(ctx, data)
	if err != nil {
		return fmt.Errorf("evidence log: %w", err)
	}
	d.Evidence = &EvidenceRef{Index: ent.Index, LeafHash: base64.StdEncoding.EncodeToString(ent.LeafHash[:])}
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
	rev, err := e.revoked.Match(ctx, revocation.Query{Binding: name})
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
			Allowed: d.Decision.Decision == decision.Allow, Learn: in.Mode == binding.ModeLearn}
		if in.Binding != nil {
			use.Binding = in.Binding.Name
		}
		if err := e.history.Record(ctx, use); err != nil {
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
	rev, err := e.revoked.Add(ctx, revocation.Revocation{
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
	d := &Decision{Decision: decision.Decide(in), Signals: sig, Origin: origin.FromSignals(&sig), RequestID: r.ID}
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
	d := &Decision{Decision: decision.Decide(in), Signals: sig, Origin: origin.FromSignals(&sig), RequestID: r.ID}
	if rerr := e.record(ctx, d, st, now); rerr != nil {
		return e.failClosed(ctx, st, r, now, in, sig, rerr)
	}
	return d, nil
}

func leaf(chain []*x509.Certificate) *x509.Certificate {
	if len(chain) == 0 {
		return nil
	}
	return chain[0]
}
