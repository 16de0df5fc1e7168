package evidence

import (
	"cmp"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/reason"
)

// The record format versions this package writes and reads. A decision
// record is version 1. Version 2 adds the fields Event and Revocation, and
// is the version of an event record: a record of something other than a
// decision (an operator's revocation, EventRevocation). Each record is
// written at the lowest version that holds it, so a decision record is
// byte for byte what a Provost that knew version 1 only wrote and reads.
const (
	Version      = 1
	EventVersion = 2
)

// Event names what a record other than a decision records.
type Event string

// EventRevocation is the record of a revocation an operator added through
// the admin API or the dashboard (the Revocation field).
const EventRevocation Event = "revocation"

// Bounds of the request fields, which the caller controls; a longer value
// is cut at a rune boundary.
const (
	MaxMethodBytes = 64
	MaxPathBytes   = 4096
)

// Record is the evidence of one decision, or, when Event is set, of one
// event (an operator's revocation: Revocation). It never holds a raw
// credential: a credential is named by its fingerprint. Field order is the
// order of the canonical encoding; every field is omitted from it when it
// holds its zero value (see Marshal). An event record holds Version
// (EventVersion), Time, RequestID, Event and its event's field only.
type Record struct {
	Version        int                 `json:"v"`
	Time           Instant             `json:"time,omitzero"`
	RequestID      string              `json:"request_id,omitempty"`
	Request        Request             `json:"request,omitzero"`
	Decision       decision.Outcome    `json:"decision,omitempty"`
	Provenance     decision.Provenance `json:"provenance,omitempty"`
	Mode           binding.Mode        `json:"mode,omitempty"`
	Binding        string              `json:"binding,omitempty"`
	BindingsDigest string              `json:"bindings_digest,omitempty"`
	Credential     Credential          `json:"credential,omitzero"`
	Signals        Signals             `json:"signals,omitzero"`
	Checks         []Check             `json:"checks,omitempty"`
	Reasons        []Reason            `json:"reasons,omitempty"`
	Actions        []decision.Action   `json:"actions,omitempty"`
	Tags           []Tag               `json:"tags,omitempty"`
	Origin         Origin              `json:"origin,omitzero"`
	RevocationID   string              `json:"revocation_id,omitempty"`
	// Event is empty for a decision (version 1); version 2 only.
	Event Event `json:"event,omitempty"`
	// Revocation is the revocation an EventRevocation record records.
	Revocation Revocation `json:"revocation,omitzero"`
}

// IsDecision reports whether r records a decision (not an event).
func (r *Record) IsDecision() bool { return r.Event == "" }

// Fingerprint is the credential r is about, by fingerprint: the decision's
// credential, or the value of a revocation by fingerprint; "" when r names
// no single credential.
func (r *Record) Fingerprint() string {
	if r.Event == EventRevocation {
		if r.Revocation.Kind == string(revocation.KindFingerprint) {
			return r.Revocation.Value
		}
		return ""
	}
	return r.Credential.Fingerprint
}

// Revocation is a revocation an operator added, as the revocation store
// holds it (never a raw credential: a credential is revoked by its
// fingerprint), and who asked.
type Revocation struct {
	ID           string  `json:"id,omitempty"`
	Kind         string  `json:"kind,omitempty"`  // fingerprint, jti, subject, issuer or binding
	Value        string  `json:"value,omitempty"` // what Kind names
	Issuer       string  `json:"issuer,omitempty"`
	IssuedBefore Instant `json:"issued_before,omitzero"`
	Reason       string  `json:"reason,omitempty"`
	ExpiresAt    Instant `json:"expires_at,omitzero"`
	// Client is the admin client that asked: its certificate's identity,
	// "token", or "dashboard: <user>".
	Client string `json:"client,omitempty"`
}

// FromRevocation builds the record of a revocation an operator added: rev
// as the store returned it (its CreatedAt is the record's time), the
// admin client that asked and the request's id.
func FromRevocation(rev revocation.Revocation, client, requestID string) Record {
	return Record{
		Version: EventVersion, Time: At(rev.CreatedAt), RequestID: requestID, Event: EventRevocation,
		Revocation: Revocation{ID: rev.ID, Kind: string(rev.Kind), Value: rev.Value, Issuer: rev.Issuer,
			IssuedBefore: At(rev.IssuedBefore), Reason: rev.Reason, ExpiresAt: At(rev.ExpiresAt), Client: client},
	}
}

// Request is what was asked: the method and the target's path, without
// its query (a query may carry secrets).
type Request struct {
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
}

// Credential is the credential verdict and what was read from the
// credential, named by fingerprint.
type Credential struct {
	Verdict     credential.Verdict `json:"verdict,omitempty"`
	Reason      reason.Code        `json:"reason,omitempty"`
	Message     string             `json:"message,omitempty"`
	Kind        credential.Kind    `json:"kind,omitempty"`
	Fingerprint string             `json:"fingerprint,omitempty"`
	Issuer      Issuer             `json:"issuer,omitzero"`
	Possession  Possession         `json:"possession,omitzero"`
	// RevocationID names the revocation that matched, when Reason is revoked.
	RevocationID string `json:"revocation_id,omitempty"`
}

// Issuer is the issuer metadata signal, without the claims map: records
// stay bounded and free of arbitrary data.
type Issuer struct {
	Issuer     string       `json:"iss,omitempty"`
	Subject    string       `json:"sub,omitempty"`
	Audience   []string     `json:"aud,omitempty"` // sorted
	KeyID      string       `json:"kid,omitempty"`
	Algorithm  string       `json:"alg,omitempty"`
	Type       string       `json:"typ,omitempty"`
	JTI        string       `json:"jti,omitempty"`
	IssuedAt   Instant      `json:"iat,omitzero"`
	ExpiresAt  Instant      `json:"exp,omitzero"`
	AgeSeconds int64        `json:"age_seconds,omitempty"`
	AZP        string       `json:"azp,omitempty"`
	ClientID   string       `json:"client_id,omitempty"`
	Act        []Actor      `json:"act,omitempty"` // outermost (current actor) first
	Cnf        Confirmation `json:"cnf,omitzero"`
	APIKey     string       `json:"api_key,omitempty"` // the configured name, never the key
}

// Actor is one link of an RFC 8693 act chain.
type Actor struct {
	Subject  string `json:"sub,omitempty"`
	Issuer   string `json:"iss,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// Confirmation is the cnf claim: the key the token is bound to.
type Confirmation struct {
	JKT     string `json:"jkt,omitempty"`
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// Possession is the proof of possession that was checked.
type Possession struct {
	Method  string `json:"method,omitempty"`
	JKT     string `json:"jkt,omitempty"`
	X5TS256 string `json:"x5t_s256,omitempty"`
}

// Signals is every signal observed about the request.
type Signals struct {
	Workload Workload  `json:"workload,omitzero"`
	Network  Network   `json:"network,omitzero"`
	Proxy    Proxy     `json:"proxy_chain,omitzero"`
	Posture  Posture   `json:"posture,omitzero"`
	CI       CI        `json:"ci,omitzero"`
	Time     TimeOfUse `json:"time,omitzero"`
}

// Problem is why a presented signal is invalid.
type Problem struct {
	Code    reason.Code `json:"code,omitempty"`
	Message string      `json:"message,omitempty"`
}

// Workload is the workload identity signal.
type Workload struct {
	Present  bool    `json:"present,omitempty"`
	ID       string  `json:"id,omitempty"`
	Source   string  `json:"source,omitempty"`
	NotAfter Instant `json:"not_after,omitzero"`
	Problem  Problem `json:"problem,omitzero"`
}

// Network is the network path. Addresses are in netip.Addr's text form.
type Network struct {
	Peer       string   `json:"peer,omitempty"`
	Client     string   `json:"client,omitempty"`
	FromHeader bool     `json:"from_header,omitempty"`
	Origin     string   `json:"origin,omitempty"`
	Sets       []string `json:"sets,omitempty"` // sorted
	Problem    Problem  `json:"problem,omitzero"`
}

// Proxy is the proxy chain proven by signed hop attestations.
type Proxy struct {
	Present bool     `json:"present,omitempty"`
	Hops    []string `json:"hops,omitempty"` // nearest the client first
	Problem Problem  `json:"problem,omitzero"`
}

// Posture is the posture attestation, without its claims map.
type Posture struct {
	Present     bool    `json:"present,omitempty"`
	Attestor    string  `json:"attestor,omitempty"`
	HostID      string  `json:"host_id,omitempty"`
	ImageDigest string  `json:"image_digest,omitempty"`
	RunnerType  string  `json:"runner_type,omitempty"`
	OS          string  `json:"os,omitempty"`
	Class       string  `json:"class,omitempty"`
	IssuedAt    Instant `json:"iat,omitzero"`
	Problem     Problem `json:"problem,omitzero"`
}

// CI is CI/CD provenance read from the credential's claims.
type CI struct {
	Present           bool   `json:"present,omitempty"`
	Repository        string `json:"repository,omitempty"`
	RepositoryID      string `json:"repository_id,omitempty"`
	WorkflowRef       string `json:"workflow_ref,omitempty"`
	RunnerEnvironment string `json:"runner_environment,omitempty"`
	Environment       string `json:"environment,omitempty"`
	Event             string `json:"event,omitempty"`
}

// TimeOfUse is the time-of-use signal.
type TimeOfUse struct {
	TokenAgeNanos int64   `json:"token_age_ns,omitempty"`
	HasTokenAge   bool    `json:"has_token_age,omitempty"`
	LastSeen      Instant `json:"last_seen,omitzero"`
}

// Check is one signal compared against the binding, in the engine's order.
type Check struct {
	Signal   signal.Name    `json:"signal,omitempty"`
	Status   binding.Status `json:"status,omitempty"`
	Observed string         `json:"observed,omitempty"`
	Expected string         `json:"expected,omitempty"`
	Reason   reason.Code    `json:"reason,omitempty"`
	Message  string         `json:"message,omitempty"`
	Evidence bool           `json:"evidence,omitempty"`
}

// Reason is one reason code with its sentence, in the engine's order.
type Reason struct {
	Code    reason.Code `json:"code,omitempty"`
	Message string      `json:"message,omitempty"`
}

// Tag is a framework reference, in the engine's order.
type Tag struct {
	Framework string `json:"framework,omitempty"`
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
}

// Origin is where the request came from, as origin history keeps it.
type Origin struct {
	Workload   string `json:"workload,omitempty"`
	Network    string `json:"network,omitempty"`
	ProxyChain string `json:"proxy_chain,omitempty"`
	Posture    string `json:"posture,omitempty"`
}

// Meta is what the engine knows about a decision beyond the decision itself.
type Meta struct {
	RequestID      string
	BindingsDigest string // the loaded bindings file's digest: the config version
	RevocationID   string // the revocation this decision wrote, if any
	Time           time.Time
}

// FromDecision builds the record of one decision. The time is meta.Time, or
// sig.Now when meta.Time is zero.
//
// It converts the engine's types field for field (Check(c), CI(s.CI), ...):
// a field added to one of them stops the build here, on purpose, since the
// record format (and its version) must decide whether to carry it.
func FromDecision(d decision.Decision, sig signal.Signals, o origin.Origin, meta Meta) Record {
	at := meta.Time
	if at.IsZero() {
		at = sig.Now
	}
	r := Record{
		Version:        Version,
		Time:           At(at),
		RequestID:      meta.RequestID,
		Request:        Request{Method: truncate(sig.Method, MaxMethodBytes), Path: targetPath(cmp.Or(sig.Target, sig.RawTarget))},
		Decision:       d.Outcome,
		Provenance:     d.Provenance,
		Mode:           d.Mode,
		Binding:        d.Binding,
		BindingsDigest: meta.BindingsDigest,
		Credential:     fromCredential(&d.Credential),
		Signals:        fromSignals(&sig),
		Actions:        nilIfEmpty(d.Actions),
		Origin:         Origin(o),
		RevocationID:   meta.RevocationID,
	}
	for _, c := range d.Checks {
		r.Checks = append(r.Checks, Check(c))
	}
	for _, x := range d.Reasons {
		r.Reasons = append(r.Reasons, Reason(x))
	}
	for _, t := range d.Tags {
		r.Tags = append(r.Tags, Tag(t))
	}
	// Its set-like lists are sorted; strings are made valid UTF-8 by
	// Marshal, only when one is not.
	return r.sorted()
}

func fromCredential(c *credential.Result) Credential {
	m := &c.Metadata
	out := Credential{
		Verdict: c.Verdict, Reason: c.Reason, Message: c.Message, Kind: c.Kind,
		Fingerprint: c.Fingerprint, RevocationID: c.RevocationID,
		Issuer: Issuer{
			Issuer: m.Issuer, Subject: m.Subject, Audience: nilIfEmpty(m.Audience),
			KeyID: m.KeyID, Algorithm: m.Algorithm, Type: m.Type, JTI: m.JTI,
			IssuedAt: At(m.IssuedAt), ExpiresAt: At(m.ExpiresAt), AgeSeconds: m.AgeSeconds,
			AZP: m.AZP, ClientID: m.ClientID, APIKey: m.APIKey,
		},
		Possession: Possession(c.Possession),
	}
	for _, a := range m.Act {
		out.Issuer.Act = append(out.Issuer.Act, Actor(a))
	}
	if m.Cnf != nil {
		out.Issuer.Cnf = Confirmation(*m.Cnf)
	}
	return out
}

func fromSignals(s *signal.Signals) Signals {
	p := &s.Posture
	return Signals{
		Workload: Workload{Present: s.Workload.Present, ID: s.Workload.ID, Source: s.Workload.Source,
			NotAfter: At(s.Workload.NotAfter), Problem: Problem(s.Workload.Problem)},
		Network: Network{Peer: addr(s.Network.Peer), Client: addr(s.Network.Client),
			FromHeader: s.Network.FromHeader, Origin: s.Network.Origin,
			Sets: nilIfEmpty(s.Network.Sets), Problem: Problem(s.Network.Problem)},
		Proxy: Proxy{Present: s.Proxy.Present, Hops: nilIfEmpty(s.Proxy.Hops), Problem: Problem(s.Proxy.Problem)},
		Posture: Posture{Present: p.Present, Attestor: p.Attestor, HostID: p.HostID, ImageDigest: p.ImageDigest,
			RunnerType: p.RunnerType, OS: p.OS, Class: p.Class, IssuedAt: At(p.IssuedAt), Problem: Problem(p.Problem)},
		CI: CI(s.CI),
		Time: TimeOfUse{TokenAgeNanos: int64(s.Time.TokenAge), HasTokenAge: s.Time.HasTokenAge,
			LastSeen: At(s.Time.LastSeen)},
	}
}

// targetPath is the path of a request target: the query and fragment are
// dropped, and so is the scheme and authority of an absolute-form target
// (which may carry user:password@).
func targetPath(t string) string {
	if i := strings.IndexAny(t, "?#"); i >= 0 {
		t = t[:i]
	}
	if i := strings.Index(t, "://"); i >= 0 && !strings.HasPrefix(t, "/") {
		rest := t[i+3:]
		t = "/"
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			t = rest[j:]
		}
	}
	return truncate(t, MaxPathBytes)
}

// truncate cuts s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}
