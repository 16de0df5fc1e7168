package verdict

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/provost-dev/provost/reason"
)

// SignalName names a signal in checks, in require_evidence and in evidence.
type SignalName string

// The signals.
const (
	SignalWorkload   SignalName = "workload"
	SignalNetwork    SignalName = "network"
	SignalProxyChain SignalName = "proxy_chain"
	SignalPosture    SignalName = "posture"
	SignalIssuer     SignalName = "issuer"
	SignalCI         SignalName = "ci"
	SignalTime       SignalName = "time"
	SignalPossession SignalName = "possession"
	SignalRule       SignalName = "rule" // a binding's CEL rule, over all signals
)

// SignalNames lists every signal name, for config validation.
var SignalNames = []SignalName{SignalWorkload, SignalNetwork, SignalProxyChain, SignalPosture, SignalIssuer, SignalCI, SignalTime, SignalPossession}

// Signals is everything observed about one request.
type Signals struct {
	Now time.Time `json:"now"`
	// Method and Target are the request line in its canonical form
	// (docs/bindings.md): Target is Path and the query, with credential
	// query parameters redacted. Path is the normalised path rules
	// compare; RawTarget the target as received (credential parameters
	// redacted), for rules that must see it.
	Method     string         `json:"method"`
	Target     string         `json:"target"`
	Path       string         `json:"path"`
	RawTarget  string         `json:"raw_target"`
	Credential Credential     `json:"-"` // reported beside the signals
	Workload   WorkloadSignal `json:"workload"`
	Network    NetworkSignal  `json:"network"`
	Proxy      ProxySignal    `json:"proxy_chain"`
	Posture    PostureSignal  `json:"posture"`
	CI         CISignal       `json:"ci"`
	Time       TimeSignal     `json:"time"`
}

// Problem is why a presented signal is invalid; zero when it is valid.
type Problem struct {
	Code    reason.Code `json:"code,omitempty"`
	Message string      `json:"message,omitempty"`
}

// Invalid reports whether there is a problem.
func (p Problem) Invalid() bool { return p.Code != "" }

// WorkloadSignal is the verified workload identity (SPIFFE ID).
type WorkloadSignal struct {
	Present  bool      `json:"present"`
	ID       string    `json:"id,omitempty"`
	Source   string    `json:"source,omitempty"` // mtls, xfcc, client-cert, jwt-svid
	NotAfter time.Time `json:"not_after,omitzero"`
	Problem  Problem   `json:"problem,omitzero"`
}

// NetworkSignal is the network path.
type NetworkSignal struct {
	Peer       netip.Addr `json:"peer"`
	Client     netip.Addr `json:"client"`
	FromHeader bool       `json:"from_header,omitempty"`
	// Origin is the client's /24 or /64, "" when unknown.
	Origin string `json:"origin,omitempty"`
	// Sets names the configured CIDR sets that contain Client.
	Sets    []string `json:"sets,omitempty"`
	Problem Problem  `json:"problem,omitzero"`
}

// Known reports whether the client address is known.
func (n *NetworkSignal) Known() bool { return n.Client.IsValid() }

// ProxySignal is the proxy chain proven by signed hop attestations.
type ProxySignal struct {
	Present bool     `json:"present"`
	Hops    []string `json:"hops,omitempty"` // hop names, first (nearest the client) first
	Problem Problem  `json:"problem,omitzero"`
}

// Chain is the hop names joined with ">", the form origin history keeps.
func (p *ProxySignal) Chain() string { return strings.Join(p.Hops, ">") }

// PostureSignal is a verified posture attestation.
type PostureSignal struct {
	Present     bool           `json:"present"`
	Attestor    string         `json:"attestor,omitempty"`
	HostID      string         `json:"host_id,omitempty"`
	ImageDigest string         `json:"image_digest,omitempty"`
	RunnerType  string         `json:"runner_type,omitempty"`
	OS          string         `json:"os,omitempty"`
	Class       string         `json:"class,omitempty"`
	IssuedAt    time.Time      `json:"iat,omitzero"`
	Claims      map[string]any `json:"claims,omitempty"`
	Problem     Problem        `json:"problem,omitzero"`
}

// CISignal is CI/CD provenance taken from the credential's claims (GitHub
// Actions and GitLab CI OIDC tokens name them so).
type CISignal struct {
	Present           bool   `json:"present"`
	Repository        string `json:"repository,omitempty"`
	RepositoryID      string `json:"repository_id,omitempty"`
	WorkflowRef       string `json:"workflow_ref,omitempty"`
	RunnerEnvironment string `json:"runner_environment,omitempty"`
	Environment       string `json:"environment,omitempty"`
	Event             string `json:"event,omitempty"`
}

// TimeSignal is the time of use.
type TimeSignal struct {
	// TokenAge is now - iat, when the credential has an iat.
	TokenAge    time.Duration `json:"token_age,omitempty"`
	HasTokenAge bool          `json:"has_token_age,omitempty"`
	// LastSeen is when this credential was last used before this request,
	// zero on first use; filled from origin history.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// SinceLastSeen is how long the credential was unused before this request
// (0 on first use).
func (t *TimeSignal) SinceLastSeen(now time.Time) time.Duration {
	if t.LastSeen.IsZero() {
		return 0
	}
	return now.Sub(t.LastSeen)
}

// FromClaims fills the CI signal from token claims. It reads GitHub Actions
// names (repository, repository_id, workflow_ref, runner_environment,
// environment, event_name) and the GitLab equivalents (project_path,
// project_id, ci_config_ref_uri, runner_environment, environment,
// pipeline_source).
func (c *CISignal) FromClaims(claims map[string]any) {
	get := func(names ...string) string {
		for _, n := range names {
			switch v := claims[n].(type) {
			case string:
				return v
			case float64:
				return strings.TrimSuffix(strings.TrimRight(formatFloat(v), "0"), ".")
			}
		}
		return ""
	}
	c.Repository = get("repository", "project_path")
	c.RepositoryID = get("repository_id", "project_id")
	c.WorkflowRef = get("workflow_ref", "job_workflow_ref", "ci_config_ref_uri")
	c.RunnerEnvironment = get("runner_environment")
	c.Environment = get("environment")
	c.Event = get("event_name", "pipeline_source")
	c.Present = c.Repository != "" || c.WorkflowRef != "" || c.RepositoryID != ""
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
