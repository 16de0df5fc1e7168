package binding

import (
	"time"

	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/verdict"
)

// Version is the only bindings file version this Provost reads.
const Version = 1

// MaxFileBytes bounds a bindings file by default (about 10,000 bindings);
// bindings_max_bytes in the configuration raises it, up to
// MaxFileBytesLimit.
const MaxFileBytes = 1 << 20

// MaxFileBytesLimit is the largest bound a bindings file may be given
// (about 10 million bindings).
const MaxFileBytesLimit = 1 << 30

// RuleCostLimit bounds the CEL cost of one evaluation of a binding's rule.
const RuleCostLimit = 10000

// Mode is defined in the public package verdict.
type Mode = verdict.Mode

// The modes.
const (
	ModeEnforce = verdict.ModeEnforce
	ModeMonitor = verdict.ModeMonitor
	ModeLearn   = verdict.ModeLearn
)

// Action is what a violation of a binding leads to.
type Action string

// The actions.
const (
	ActionDeny   Action = "deny"
	ActionStepUp Action = "step_up"
	ActionRevoke Action = "revoke"
	ActionAlert  Action = "alert"
)

// Status and Check are defined in the public package verdict, so that
// embedders can name what a Decision carries.
type (
	Status = verdict.CheckStatus
	Check  = verdict.Check
)

// The check outcomes.
const (
	StatusPass   = verdict.StatusPass
	StatusFail   = verdict.StatusFail
	StatusAbsent = verdict.StatusAbsent
)

// Detector defaults.
const (
	DefaultConcurrentWindow = 5 * time.Minute
	DefaultDormancy         = 720 * time.Hour
)

// Detectors tunes the detectors over origin history.
type Detectors struct {
	ConcurrentWindow time.Duration
	Dormancy         time.Duration
}

// Set is a loaded bindings file. It is immutable and safe for concurrent use.
type Set struct {
	Version   int
	Mode      Mode // the global mode
	Detectors Detectors
	File      string // the path it was read from
	Digest    string // "sha256:<hex>" of the file's bytes
	Bindings  []*Binding

	networks network.Sets
	idx      *index // built once, by compile
}

// Networks returns the file's named CIDR sets (the map is a copy; the sets
// are immutable), so the engine can name them in NetworkSignal.Sets.
func (s *Set) Networks() network.Sets {
	out := make(network.Sets, len(s.networks))
	for k, v := range s.networks {
		out[k] = v
	}
	return out
}

// Binding is one approved context. Match and Require are the binding as
// written, for display and for proposing bindings; changing them changes
// nothing: the compiled form is kept apart.
type Binding struct {
	Name            string
	Mode            Mode // its own mode, or the file's
	OnViolation     Action
	Honeytoken      bool
	RequireEvidence []signal.Name
	Match           MatchSpec
	Require         RequireSpec

	set     *Set
	matcher matcher
	req     requirements
}

// MatchSpec says which credentials a binding is for. Every criterion given
// must hold.
type MatchSpec struct {
	Fingerprints []string          `yaml:"fingerprints,omitempty" json:"fingerprints,omitempty"`
	Issuer       string            `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	Subject      string            `yaml:"subject,omitempty" json:"subject,omitempty"`
	Claims       map[string]string `yaml:"claims,omitempty" json:"claims,omitempty"`
	APIKey       string            `yaml:"api_key,omitempty" json:"api_key,omitempty"`
}

// RequireSpec says what must hold for a request under the binding.
type RequireSpec struct {
	Workloads  []string          `yaml:"workloads,omitempty" json:"workloads,omitempty"`
	Networks   []string          `yaml:"networks,omitempty" json:"networks,omitempty"`
	ProxyChain []string          `yaml:"proxy_chain,omitempty" json:"proxy_chain,omitempty"`
	Posture    map[string]string `yaml:"posture,omitempty" json:"posture,omitempty"`
	CI         *CISpec           `yaml:"ci,omitempty" json:"ci,omitempty"`
	Time       *TimeSpec         `yaml:"time,omitempty" json:"time,omitempty"`
	Possession string            `yaml:"possession,omitempty" json:"possession,omitempty"`
	Rule       string            `yaml:"rule,omitempty" json:"rule,omitempty"`
}

// CISpec is the required CI provenance; each field is exact or a glob.
type CISpec struct {
	Repository        string `yaml:"repository,omitempty" json:"repository,omitempty"`
	RepositoryID      string `yaml:"repository_id,omitempty" json:"repository_id,omitempty"`
	WorkflowRef       string `yaml:"workflow_ref,omitempty" json:"workflow_ref,omitempty"`
	RunnerEnvironment string `yaml:"runner_environment,omitempty" json:"runner_environment,omitempty"`
	Environment       string `yaml:"environment,omitempty" json:"environment,omitempty"`
	Event             string `yaml:"event,omitempty" json:"event,omitempty"`
}

// TimeSpec is the required time of use. Durations are Go durations ("1h").
type TimeSpec struct {
	Windows     []WindowSpec `yaml:"windows,omitempty" json:"windows,omitempty"`
	MaxTokenAge string       `yaml:"max_token_age,omitempty" json:"max_token_age,omitempty"`
	MaxIdle     string       `yaml:"max_idle,omitempty" json:"max_idle,omitempty"`
}

// WindowSpec is one allowed window of the week.
type WindowSpec struct {
	Days  []string `yaml:"days,omitempty" json:"days,omitempty"`   // mon..sun; all when empty
	Hours string   `yaml:"hours,omitempty" json:"hours,omitempty"` // "HH:MM-HH:MM"; all day when empty
	TZ    string   `yaml:"tz,omitempty" json:"tz,omitempty"`       // IANA zone; UTC when empty
}

// fileDoc is the file as decoded.
type fileDoc struct {
	Version   int                 `yaml:"version"`
	Mode      Mode                `yaml:"mode"`
	Networks  map[string][]string `yaml:"networks"`
	Detectors detectorsDoc        `yaml:"detectors"`
	Bindings  []bindingDoc        `yaml:"bindings"`
}

type detectorsDoc struct {
	ConcurrentWindow string `yaml:"concurrent_window"`
	Dormancy         string `yaml:"dormancy"`
}

type bindingDoc struct {
	Name            string      `yaml:"name"`
	Mode            Mode        `yaml:"mode"`
	Match           MatchSpec   `yaml:"match"`
	Require         RequireSpec `yaml:"require"`
	RequireEvidence []string    `yaml:"require_evidence"`
	OnViolation     Action      `yaml:"on_violation"`
	Honeytoken      bool        `yaml:"honeytoken"`
}
