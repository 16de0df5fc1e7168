package dashboard

import (
	"cmp"
	"slices"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/reason"
)

// Bounds of the aggregate: it keeps at most this many hours of the chart,
// reason codes, credentials, bindings and honeytoken hits; past them it
// counts what it left out.
const (
	maxHours       = 90 * 24
	maxReasonCodes = 512
	maxCredentials = 100_000
	maxBindings    = 10_000
	maxHoneyHits   = 50
)

// outcome slots of a chart hour.
const (
	slotAllow = iota
	slotStepUp
	slotDeny
)

// aggregate is what the overview shows, counted as the feed reads the log.
type aggregate struct {
	total     int64
	outcomes  [3]int64
	hours     map[int64]*[3]int64 // hour (Unix seconds / 3600) → decisions by outcome
	reasons   map[string]int64
	otherCode int64 // reasons past maxReasonCodes distinct codes
	creds     map[string]*credStat
	untracked int64 // decisions of credentials past maxCredentials
	bindings  map[string]*bindingStat
	honey     []row // the latest honeytoken hits, newest last
	honeyN    int64
}

// credStat is what the overview knows of one credential.
type credStat struct {
	Fingerprint     string
	Subject, Issuer string
	Binding         string
	First, Last     time.Time
	Uses            int64
	Shadow          int64 // decisions flagged shadow automation
	Revived         int64 // decisions flagged dormant revival
	LastRevived     time.Time
}

// bindingStat is one binding in monitor or learn mode.
type bindingStat struct {
	Name, Mode     string
	Decisions      int64
	WouldDeny      int64
	WouldStepUp    int64
	Last           time.Time
	LearnedOrigins int // from the origin store, for learn mode (set when shown)
	LearnedKnown   bool
}

func newAggregate() *aggregate {
	return &aggregate{hours: map[int64]*[3]int64{}, reasons: map[string]int64{}, creds: map[string]*credStat{},
		bindings: map[string]*bindingStat{}}
}

func slot(outcome string) (int, bool) {
	switch outcome {
	case "allow":
		return slotAllow, true
	case "step_up":
		return slotStepUp, true
	case "deny":
		return slotDeny, true
	}
	return 0, false
}

func (a *aggregate) add(idx int64, r *evidence.Record) {
	if !r.IsDecision() {
		return // an operator's revocation: no decision to count
	}
	a.total++
	at := r.Time.UTC()
	if s, ok := slot(string(r.Decision)); ok {
		a.outcomes[s]++
		a.hour(at.Unix() / 3600)[s]++
	}
	codes := make(map[reason.Code]bool, len(r.Reasons))
	for _, c := range r.Reasons {
		codes[c.Code] = true
		if _, ok := a.reasons[string(c.Code)]; ok || len(a.reasons) < maxReasonCodes {
			a.reasons[string(c.Code)]++
		} else {
			a.otherCode++
		}
	}
	if fp := r.Credential.Fingerprint; fp != "" {
		a.credential(fp, r, at, codes)
	}
	if r.Binding != "" && (r.Mode == "monitor" || r.Mode == "learn") {
		a.binding(r, at, codes)
	}
	if codes[reason.Honeytoken] {
		a.honeyN++
		a.honey = append(a.honey, rowOf(idx, r))
		if len(a.honey) > maxHoneyHits {
			a.honey = slices.Delete(a.honey, 0, len(a.honey)-maxHoneyHits)
		}
	}
}

// hour returns the counters of hour h, dropping the oldest hour when
// maxHours are kept.
func (a *aggregate) hour(h int64) *[3]int64 {
	if c, ok := a.hours[h]; ok {
		return c
	}
	if len(a.hours) >= maxHours {
		oldest := h
		for k := range a.hours {
			oldest = min(oldest, k)
		}
		if oldest == h {
			return new([3]int64) // older than everything kept: not charted
		}
		delete(a.hours, oldest)
	}
	c := new([3]int64)
	a.hours[h] = c
	return c
}

func (a *aggregate) credential(fp string, r *evidence.Record, at time.Time, codes map[reason.Code]bool) {
	c, ok := a.creds[fp]
	if !ok {
		if len(a.creds) >= maxCredentials {
			a.untracked++
			return
		}
		c = &credStat{Fingerprint: fp, First: at}
		a.creds[fp] = c
	}
	c.Uses++
	if at.After(c.Last) {
		c.Last = at
	}
	if at.Before(c.First) {
		c.First = at
	}
	if s := r.Credential.Issuer.Subject; s != "" && c.Subject != s {
		c.Subject = s
	}
	if s := r.Credential.Issuer.Issuer; s != "" && c.Issuer != s {
		c.Issuer = s
	}
	if r.Binding != "" && c.Binding != r.Binding {
		c.Binding = r.Binding
	}
	if codes[reason.ShadowAutomation] {
		c.Shadow++
	}
	if codes[reason.DormantRevival] {
		c.Revived++
		c.LastRevived = at
	}
}

func (a *aggregate) binding(r *evidence.Record, at time.Time, codes map[reason.Code]bool) {
	b, ok := a.bindings[r.Binding]
	if !ok {
		if len(a.bindings) >= maxBindings {
			return
		}
		b = &bindingStat{Name: r.Binding}
		a.bindings[r.Binding] = b
	}
	b.Mode = string(r.Mode)
	b.Decisions++
	if codes[reason.MonitorWouldDeny] {
		b.WouldDeny++
	}
	if codes[reason.MonitorWouldStepUp] {
		b.WouldStepUp++
	}
	if at.After(b.Last) {
		b.Last = at
	}
}

// countRow is one line of a top list.
type countRow struct {
	Name  string
	Count int64
}

// Rows of the overview's lists.
const (
	topReasons = 15
	topCreds   = 50
)

// overview is a snapshot of the aggregate, for the overview page.
type overview struct {
	Total               int64
	Allow, StepUp, Deny int64
	Hours               map[int64][3]int64
	Reasons             []countRow
	OtherReasons        int64
	Shadow              []credStat
	ShadowCount         int
	Revived             []credStat
	RevivedCount        int
	Idle                []credStat
	IdleCount           int
	Dormancy            time.Duration
	Untracked           int64
	Honey               []row // newest first
	HoneyCount          int64
	Monitor             []bindingStat
}

// snapshot copies what the overview shows. Credentials idle for at least
// dormancy at now are listed as dormant.
func (a *aggregate) snapshot(now time.Time, dormancy time.Duration) overview {
	o := overview{Total: a.total, Allow: a.outcomes[slotAllow], StepUp: a.outcomes[slotStepUp], Deny: a.outcomes[slotDeny],
		Hours: make(map[int64][3]int64, len(a.hours)), OtherReasons: a.otherCode, Untracked: a.untracked,
		HoneyCount: a.honeyN, Dormancy: dormancy}
	for h, c := range a.hours {
		o.Hours[h] = *c
	}
	for code, n := range a.reasons {
		o.Reasons = append(o.Reasons, countRow{code, n})
	}
	slices.SortFunc(o.Reasons, func(x, y countRow) int { return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Name, y.Name)) })
	o.Reasons = o.Reasons[:min(len(o.Reasons), topReasons)]
	for _, c := range a.creds {
		if c.Shadow > 0 {
			o.Shadow = append(o.Shadow, *c)
		}
		if c.Revived > 0 {
			o.Revived = append(o.Revived, *c)
		}
		if now.Sub(c.Last) >= dormancy {
			o.Idle = append(o.Idle, *c)
		}
	}
	latest := func(x, y credStat) int {
		return cmp.Or(y.Last.Compare(x.Last), cmp.Compare(x.Fingerprint, y.Fingerprint))
	}
	o.ShadowCount, o.RevivedCount, o.IdleCount = len(o.Shadow), len(o.Revived), len(o.Idle)
	slices.SortFunc(o.Shadow, latest)
	slices.SortFunc(o.Revived, latest)
	slices.SortFunc(o.Idle, func(x, y credStat) int {
		return cmp.Or(x.Last.Compare(y.Last), cmp.Compare(x.Fingerprint, y.Fingerprint))
	})
	o.Shadow, o.Revived, o.Idle = o.Shadow[:min(len(o.Shadow), topCreds)], o.Revived[:min(len(o.Revived), topCreds)], o.Idle[:min(len(o.Idle), topCreds)]
	for i := len(a.honey) - 1; i >= 0; i-- {
		o.Honey = append(o.Honey, a.honey[i])
	}
	for _, b := range a.bindings {
		o.Monitor = append(o.Monitor, *b)
	}
	slices.SortFunc(o.Monitor, func(x, y bindingStat) int { return cmp.Compare(x.Name, y.Name) })
	return o
}
