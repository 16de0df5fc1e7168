package binding

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
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
	rule          *rule
	checks        int // how many checks the requirements give
	// The requirements fewer bindings have, apart, so that a binding
	// without them is smaller (a set may hold a million); nil when it has
	// none of them.
	*moreRequirements
}

// moreRequirements are proxy_chain, posture, ci and time.
type moreRequirements struct {
	proxyChain  []string
	proxyText   string
	posture     []fieldGlob
	postureText string
	ci          []fieldGlob
	ciText      string
	windows     []window
	windowsText string
	maxTokenAge time.Duration // 0: not required
	maxIdle     time.Duration // 0: not required
}

// more returns q's moreRequirements, created on first use.
func (q *requirements) more() *moreRequirements {
	if q.moreRequirements == nil {
		q.moreRequirements = &moreRequirements{}
	}
	return q.moreRequirements
}

// fieldGlob is one required key (a posture claim, a CI field) and its pattern.
type fieldGlob struct {
	key string
	g   glob
}

// compiler holds what compiling one file shares between bindings.
type compiler struct {
	set   *Set
	rules *ruleEnv         // created on the first rule
	cache map[string]*rule // compiled rules by source: a rule shared by many bindings is compiled once
	names map[string]struct{}
	docs  []bindingDoc // the last batch's documents, reused
}

// compile compiles a whole decoded file.
func compile(doc *fileDoc) (*Set, error) {
	c, err := newCompiler(doc)
	if err != nil {
		return nil, err
	}
	for i := range doc.Bindings {
		if err := c.add(i, &doc.Bindings[i]); err != nil {
			return nil, err
		}
	}
	return c.finish(), nil
}

// newCompiler compiles everything but the bindings: version, mode,
// detectors and networks.
func newCompiler(doc *fileDoc) (*compiler, error) {
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
	return &compiler{set: s, names: map[string]struct{}{}}, nil
}

// add compiles bindings[i], the next binding of the file, and keeps it.
func (c *compiler) add(i int, d *bindingDoc) error {
	b := new(Binding)
	if err := c.fillAt(b, i, d); err != nil {
		return err
	}
	return c.keep(i, b)
}

// keep appends b, bindings[i], to the set, unless its name is taken.
func (c *compiler) keep(i int, b *Binding) error {
	if _, ok := c.names[b.Name]; ok {
		return bad(bindingPath(i)+".name", "binding %q is defined twice", b.Name)
	}
	c.names[b.Name] = struct{}{}
	c.set.Bindings = append(c.set.Bindings, b)
	return nil
}

func bindingPath(i int) string { return "bindings[" + strconv.Itoa(i) + "]" }

// worker returns a compiler for compiling bindings beside c, on another
// goroutine: it shares c's set, read only, and has its own CEL rules.
func (c *compiler) worker() *compiler { return &compiler{set: c.set} }

// finish indexes the bindings and returns the Set.
func (c *compiler) finish() *Set {
	s := c.set
	c.names = nil
	s.Bindings = slices.Clip(s.Bindings)
	s.idx = buildIndex(s.Bindings)
	return s
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

// fillAt compiles d, bindings[i], into b. It compiles it with an empty
// field path first, which costs no string building, and only when that
// fails again with the binding's path, for the error.
func (c *compiler) fillAt(b *Binding, i int, d *bindingDoc) error {
	if c.fill(b, "", d) == nil {
		return nil
	}
	return c.fill(b, bindingPath(i), d)
}

// fill compiles d, the binding at field path p, into b.
func (c *compiler) fill(b *Binding, p string, d *bindingDoc) error {
	if !validName(d.Name) {
		if d.Name == "" {
			return bad(p+".name", "is required")
		}
		return bad(p+".name", "%q is not a valid name: use a-z, 0-9, '-', '_' and '.' (at most %d)", d.Name, maxNameBytes)
	}
	*b = Binding{
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
		return bad(p+".mode", "%q is not a mode: use enforce, monitor or learn", d.Mode)
	}
	switch b.OnViolation {
	case "":
		b.OnViolation = ActionDeny
	case ActionDeny, ActionStepUp, ActionRevoke, ActionAlert:
	default:
		return bad(p+".on_violation", "%q is not an action: use deny, step_up, revoke or alert", d.OnViolation)
	}
	var err error
	if b.matcher, err = compileMatch(p+".match", &d.Match); err != nil {
		return err
	}
	if b.req, err = c.require(p+".require", b.Name, &d.Require); err != nil {
		return err
	}
	for i, e := range d.RequireEvidence {
		n := signal.Name(e)
		ep := fmt.Sprintf("%s.require_evidence[%d]", p, i)
		if !slices.Contains(signal.Names, n) {
			return bad(ep, "%q is not a signal: use one of %s", e, signalList())
		}
		if slices.Contains(b.RequireEvidence, n) {
			return bad(ep, "%q is listed twice", e)
		}
		b.RequireEvidence = append(b.RequireEvidence, n)
	}
	return nil
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
		mt.fingerprints = make([]string, 0, len(m.Fingerprints))
		for i, fp := range m.Fingerprints {
			if !fingerprint.Valid(fp) {
				// Never echo the value: it may be a raw credential pasted by mistake.
				return mt, bad(fmt.Sprintf("%s.fingerprints[%d]", p, i), "is not a fingerprint: write the fp1:... value `provost fingerprint` prints, never the raw credential")
			}
			mt.fingerprints = append(mt.fingerprints, fp)
		}
		slices.Sort(mt.fingerprints)
		mt.fingerprints = slices.Compact(mt.fingerprints)
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
		m := q.more()
		m.proxyChain = slices.Clone(r.ProxyChain)
		m.proxyText = strings.Join(m.proxyChain, ">")
		q.checks++
	}
	if r.Posture != nil {
		fg, err := compileFields(p+".posture", r.Posture)
		if err != nil {
			return q, err
		}
		q.more().posture, q.more().postureText = fg, fieldsText(fg)
		q.checks++
	}
	if r.CI != nil {
		fg, err := compileCI(p+".ci", r.CI)
		if err != nil {
			return q, err
		}
		q.more().ci, q.more().ciText = fg, fieldsText(fg)
		q.checks++
	}
	if r.Time != nil {
		if err := q.compileTime(p+".time", r.Time); err != nil {
			return q, err
		}
	}
	if r.Rule != "" {
		ru, err := c.rule(p, name, r.Rule)
		if err != nil {
			return q, err
		}
		q.rule = ru
		q.checks++
	}
	return q, nil
}

// rule compiles src, once per file: a compiled rule is immutable and safe
// for concurrent use, so bindings with the same rule share it.
func (c *compiler) rule(p, name, src string) (*rule, error) {
	if ru, ok := c.cache[src]; ok {
		return ru, nil
	}
	if c.rules == nil {
		env, err := newRuleEnv()
		if err != nil {
			return nil, fmt.Errorf("binding %q: %w", name, err)
		}
		c.rules = env
	}
	ru, err := c.rules.compile(src)
	if err != nil {
		return nil, bad(p+".rule", "binding %q: %v", name, err)
	}
	if c.cache == nil {
		c.cache = map[string]*rule{}
	}
	c.cache[src] = ru
	return ru, nil
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
	m := q.more()
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
			m.windows = append(m.windows, cw)
			texts[i] = cw.text
		}
		m.windowsText = strings.Join(texts, "; ")
		q.checks++
	}
	var err error
	if m.maxTokenAge, err = positive(p+".max_token_age", t.MaxTokenAge); err != nil {
		return err
	}
	if m.maxIdle, err = positive(p+".max_idle", t.MaxIdle); err != nil {
		return err
	}
	if m.maxTokenAge > 0 {
		q.checks++
	}
	if m.maxIdle > 0 {
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
