package binding

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/signal"
	"github.com/provost-dev/provost/internal/workload"
)

// maxNameBytes bounds binding and network names.
const maxNameBytes = 128

// requirements is a binding's compiled require section.
type requirements struct {
	possession    string
	workloads     []workload.Pattern
	workloadsText string
	networks      []*network.CIDRSet
	networksText  string
	proxyChain    []string
	proxyText     string
	posture       []fieldGlob
	postureText   string
	ci            []fieldGlob
	ciText        string
	windows       []window
	windowsText   string
	maxTokenAge   time.Duration // 0: not required
	maxIdle       time.Duration // 0: not required
	rule          *rule
	checks        int // how many checks the requirements give
}

// fieldGlob is one required key (a posture claim, a CI field) and its pattern.
type fieldGlob struct {
	key string
	g   glob
}

// compiler holds what compiling one file shares between bindings.
type compiler struct {
	set   *Set
	rules *ruleEnv // created on the first rule
}

func compile(doc *fileDoc) (*Set, error) {
	if doc.Version != Version {
		return nil, bad("version", "must be %d (got %d)", Version, doc.Version)
	}
	s := &Set{Version: doc.Version, Mode: doc.Mode, networks: network.Sets{}}
	if s.Mode == "" {
		s.Mode = ModeEnforce
	}
	if !validMode(s.Mode) {
		return nil, bad("mode", "%q is not a mode: use enforce, monitor or learn", s.Mode)
	}
	var err error
	if s.Detectors.ConcurrentWindow, err = duration("detectors.concurrent_window", doc.Detectors.ConcurrentWindow, DefaultConcurrentWindow); err != nil {
		return nil, err
	}
	if s.Detectors.Dormancy, err = duration("detectors.dormancy", doc.Detectors.Dormancy, DefaultDormancy); err != nil {
		return nil, err
	}
	if err := s.compileNetworks(doc.Networks); err != nil {
		return nil, err
	}
	c := &compiler{set: s}
	names := map[string]bool{}
	for i := range doc.Bindings {
		p := fmt.Sprintf("bindings[%d]", i)
		b, err := c.binding(p, &doc.Bindings[i])
		if err != nil {
			return nil, err
		}
		if names[b.Name] {
			return nil, bad(p+".name", "binding %q is defined twice", b.Name)
		}
		names[b.Name] = true
		s.Bindings = append(s.Bindings, b)
	}
	return s, nil
}

func validMode(m Mode) bool {
	return m == ModeEnforce || m == ModeMonitor || m == ModeLearn
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// duration reads a Go duration; empty or zero gives def.
func duration(path, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, bad(path, "%q is not a duration such as 90s, 5m or 720h", s)
	}
	if d < 0 {
		return 0, bad(path, "%q is negative", s)
	}
	if d == 0 {
		return def, nil
	}
	return d, nil
}

// positive reads a required, positive Go duration; empty gives 0 (unset).
func positive(path, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, bad(path, "%q is not a duration such as 90s, 5m or 720h", s)
	}
	if d <= 0 {
		return 0, bad(path, "%q must be more than zero", s)
	}
	return d, nil
}

func (s *Set) compileNetworks(nets map[string][]string) error {
	for _, name := range sortedKeys(nets) {
		p := "networks." + name
		if !validName(name) {
			return bad(p, "%q is not a valid name: use a-z, 0-9, '-', '_' and '.'", name)
		}
		entries := nets[name]
		if len(entries) == 0 {
			return bad(p, "needs at least one CIDR prefix or address")
		}
		for i, e := range entries {
			if _, err := network.ParseCIDRSet(name, []string{e}); err != nil {
				return bad(fmt.Sprintf("%s[%d]", p, i), "%q is not a CIDR prefix or address: %v", e, cidrCause(err))
			}
		}
		set, err := network.ParseCIDRSet(name, entries)
		if err != nil {
			return bad(p, "%v", err)
		}
		s.networks[name] = set
	}
	return nil
}

// cidrCause drops ParseCIDRSet's "cidr set ...: entry ..." prefix, which
// the field path already says.
func cidrCause(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

func (c *compiler) binding(p string, d *bindingDoc) (*Binding, error) {
	if !validName(d.Name) {
		if d.Name == "" {
			return nil, bad(p+".name", "is required")
		}
		return nil, bad(p+".name", "%q is not a valid name: use a-z, 0-9, '-', '_' and '.' (at most %d)", d.Name, maxNameBytes)
	}
	b := &Binding{
		Name:        d.Name,
		Mode:        d.Mode,
		OnViolation: d.OnViolation,
		Honeytoken:  d.Honeytoken,
		Match:       d.Match,
		Require:     d.Require,
		set:         c.set,
	}
	if b.Mode == "" {
		b.Mode = c.set.Mode
	}
	if !validMode(b.Mode) {
		return nil, bad(p+".mode", "%q is not a mode: use enforce, monitor or learn", d.Mode)
	}
	switch b.OnViolation {
	case "":
		b.OnViolation = ActionDeny
	case ActionDeny, ActionStepUp, ActionRevoke, ActionAlert:
	default:
		return nil, bad(p+".on_violation", "%q is not an action: use deny, step_up, revoke or alert", d.OnViolation)
	}
	var err error
	if b.matcher, err = compileMatch(p+".match", &d.Match); err != nil {
		return nil, err
	}
	if b.req, err = c.require(p+".require", b.Name, &d.Require); err != nil {
		return nil, err
	}
	for i, e := range d.RequireEvidence {
		n := signal.Name(e)
		ep := fmt.Sprintf("%s.require_evidence[%d]", p, i)
		if !slices.Contains(signal.Names, n) {
			return nil, bad(ep, "%q is not a signal: use one of %s", e, signalList())
		}
		if slices.Contains(b.RequireEvidence, n) {
			return nil, bad(ep, "%q is listed twice", e)
		}
		b.RequireEvidence = append(b.RequireEvidence, n)
	}
	return b, nil
}

func signalList() string {
	names := make([]string, len(signal.Names))
	for i, n := range signal.Names {
		names[i] = string(n)
	}
	return strings.Join(names, ", ")
}

func compileMatch(p string, m *MatchSpec) (matcher, error) {
	var mt matcher
	criteria := 0
	if m.Fingerprints != nil {
		if len(m.Fingerprints) == 0 {
			return mt, bad(p+".fingerprints", "needs at least one fingerprint")
		}
		mt.fingerprints = make(map[string]struct{}, len(m.Fingerprints))
		for i, fp := range m.Fingerprints {
			if !fingerprint.Valid(fp) {
				// Never echo the value: it may be a raw credential pasted by mistake.
				return mt, bad(fmt.Sprintf("%s.fingerprints[%d]", p, i), "is not a fingerprint: write the fp1:... value `provost fingerprint` prints, never the raw credential")
			}
			mt.fingerprints[fp] = struct{}{}
		}
		criteria++
	}
	if m.Issuer != "" {
		mt.issuer = m.Issuer
		criteria++
	}
	if m.Subject != "" {
		g, err := compileGlob(m.Subject)
		if err != nil {
			return mt, bad(p+".subject", "%q %v", m.Subject, err)
		}
		mt.subject = &g
		criteria++
	}
	if m.Claims != nil {
		fg, err := compileFields(p+".claims", m.Claims)
		if err != nil {
			return mt, err
		}
		mt.claims = fg
		criteria++
	}
	if m.APIKey != "" {
		mt.apiKey = m.APIKey
		criteria++
	}
	if criteria == 0 {
		return mt, bad(p, "needs at least one of fingerprints, issuer, subject, claims and api_key")
	}
	return mt, nil
}

// compileFields compiles a map of key: glob, in key order.
func compileFields(p string, m map[string]string) ([]fieldGlob, error) {
	if len(m) == 0 {
		return nil, bad(p, "needs at least one entry")
	}
	out := make([]fieldGlob, 0, len(m))
	for _, k := range sortedKeys(m) {
		if k == "" {
			return nil, bad(p, "has an empty key")
		}
		g, err := compileGlob(m[k])
		if err != nil {
			return nil, bad(p+"."+k, "%q %v", m[k], err)
		}
		out = append(out, fieldGlob{key: k, g: g})
	}
	return out, nil
}

func fieldsText(fg []fieldGlob) string {
	parts := make([]string, len(fg))
	for i, f := range fg {
		parts[i] = f.key + "=" + f.g.raw
	}
	return strings.Join(parts, " ")
}

func (c *compiler) require(p, name string, r *RequireSpec) (requirements, error) {
	var q requirements
	switch r.Possession {
	case "", "dpop", "mtls":
		q.possession = r.Possession
	default:
		return q, bad(p+".possession", "%q is not a proof of possession: use dpop or mtls (or leave it out)", r.Possession)
	}
	if q.possession != "" {
		q.checks++
	}
	if err := q.compileWorkloads(p+".workloads", r.Workloads); err != nil {
		return q, err
	}
	if err := q.compileNetworks(p+".networks", r.Networks, c.set.networks); err != nil {
		return q, err
	}
	if r.ProxyChain != nil {
		if len(r.ProxyChain) == 0 {
			return q, bad(p+".proxy_chain", "needs at least one hop")
		}
		for i, h := range r.ProxyChain {
			if h == "" || strings.ContainsAny(h, "> \t") {
				return q, bad(fmt.Sprintf("%s.proxy_chain[%d]", p, i), "%q is not a hop name", h)
			}
		}
		q.proxyChain = slices.Clone(r.ProxyChain)
		q.proxyText = strings.Join(q.proxyChain, ">")
		q.checks++
	}
	if r.Posture != nil {
		fg, err := compileFields(p+".posture", r.Posture)
		if err != nil {
			return q, err
		}
		q.posture, q.postureText = fg, fieldsText(fg)
		q.checks++
	}
	if r.CI != nil {
		fg, err := compileCI(p+".ci", r.CI)
		if err != nil {
			return q, err
		}
		q.ci, q.ciText = fg, fieldsText(fg)
		q.checks++
	}
	if r.Time != nil {
		if err := q.compileTime(p+".time", r.Time); err != nil {
			return q, err
		}
	}
	if r.Rule != "" {
		if c.rules == nil {
			env, err := newRuleEnv()
			if err != nil {
				return q, fmt.Errorf("binding %q: %w", name, err)
			}
			c.rules = env
		}
		ru, err := c.rules.compile(r.Rule)
		if err != nil {
			return q, bad(p+".rule", "binding %q: %v", name, err)
		}
		q.rule = ru
		q.checks++
	}
	return q, nil
}

func (q *requirements) compileWorkloads(p string, ws []string) error {
	if ws == nil {
		return nil
	}
	if len(ws) == 0 {
		return bad(p, "needs at least one SPIFFE ID pattern")
	}
	for i, w := range ws {
		pat, err := workload.ParsePattern(w)
		if err != nil {
			return bad(fmt.Sprintf("%s[%d]", p, i), "%q is not a SPIFFE ID pattern (spiffe://trust-domain/path or .../*): %v", w, err)
		}
		q.workloads = append(q.workloads, pat)
	}
	q.workloadsText = strings.Join(ws, ", ")
	q.checks++
	return nil
}

func (q *requirements) compileNetworks(p string, entries []string, named network.Sets) error {
	if entries == nil {
		return nil
	}
	if len(entries) == 0 {
		return bad(p, "needs at least one network name or CIDR")
	}
	var inline []string
	for i, e := range entries {
		ep := fmt.Sprintf("%s[%d]", p, i)
		if looksLikeAddress(e) {
			if _, err := network.ParseCIDRSet("inline", []string{e}); err != nil {
				return bad(ep, "%q is not a CIDR prefix or address: %v", e, cidrCause(err))
			}
			inline = append(inline, e)
			continue
		}
		set, ok := named[e]
		if !ok {
			return bad(ep, "unknown network %q: define it under networks, or write a CIDR prefix", e)
		}
		q.networks = append(q.networks, set)
	}
	if len(inline) > 0 {
		set, err := network.ParseCIDRSet("inline", inline)
		if err != nil {
			return bad(p, "%v", err)
		}
		q.networks = append(q.networks, set)
	}
	q.networksText = strings.Join(entries, ", ")
	q.checks++
	return nil
}

// looksLikeAddress tells an inline CIDR or address from a network name.
func looksLikeAddress(e string) bool {
	if strings.ContainsAny(e, "/:") {
		return true
	}
	_, err := netip.ParseAddr(e)
	return err == nil
}

func (q *requirements) compileTime(p string, t *TimeSpec) error {
	if t.Windows == nil && t.MaxTokenAge == "" && t.MaxIdle == "" {
		return bad(p, "needs windows, max_token_age or max_idle")
	}
	if t.Windows != nil {
		if len(t.Windows) == 0 {
			return bad(p+".windows", "needs at least one window")
		}
		texts := make([]string, len(t.Windows))
		for i, w := range t.Windows {
			cw, err := compileWindow(fmt.Sprintf("%s.windows[%d]", p, i), w)
			if err != nil {
				return err
			}
			q.windows = append(q.windows, cw)
			texts[i] = cw.text
		}
		q.windowsText = strings.Join(texts, "; ")
		q.checks++
	}
	var err error
	if q.maxTokenAge, err = positive(p+".max_token_age", t.MaxTokenAge); err != nil {
		return err
	}
	if q.maxIdle, err = positive(p+".max_idle", t.MaxIdle); err != nil {
		return err
	}
	if q.maxTokenAge > 0 {
		q.checks++
	}
	if q.maxIdle > 0 {
		q.checks++
	}
	return nil
}

// compileCI compiles the CI fields given, in the order CISignal lists them.
func compileCI(p string, c *CISpec) ([]fieldGlob, error) {
	var out []fieldGlob
	for _, f := range []struct{ k, v string }{
		{"repository", c.Repository}, {"repository_id", c.RepositoryID},
		{"workflow_ref", c.WorkflowRef}, {"runner_environment", c.RunnerEnvironment},
		{"environment", c.Environment}, {"event", c.Event},
	} {
		if f.v == "" {
			continue
		}
		g, err := compileGlob(f.v)
		if err != nil {
			return nil, bad(p+"."+f.k, "%q %v", f.v, err)
		}
		out = append(out, fieldGlob{key: f.k, g: g})
	}
	if len(out) == 0 {
		return nil, bad(p, "needs at least one field")
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
