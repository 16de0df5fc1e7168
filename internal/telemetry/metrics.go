package telemetry

import (
	"context"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/buildinfo"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// Sources are the gauges and counters read at scrape time. A nil field is
// not exported.
type Sources struct {
	// ReplayEntries is the replay cache's size (negative: unknown).
	ReplayEntries func() int
	// Revocations counts the revocations in force.
	Revocations func(ctx context.Context) (int, error)
	// JWKS gives each remote issuer key source's counters.
	JWKS func() []JWKSStats
	// OriginCache counts origin-history lookups answered from the cache
	// (hits) and from the store (misses).
	OriginCache func() (hits, misses uint64)
	// EvidenceDurable reports whether decisions wait for their evidence
	// record to be on disk (false: evidence.mode async).
	EvidenceDurable func() bool
	// Backends reports whether each shared backend (postgresql, redis)
	// answers.
	Backends func(ctx context.Context) map[string]bool
	// Ready reports whether the stores a decision needs answer, as
	// /readyz checks them (nil: ready).
	Ready func(ctx context.Context) error
	// EvidenceQueue counts the evidence records appended and not yet
	// committed (negative: unknown).
	EvidenceQueue func() int64
	// EvidenceAppends, when set, is called once by NewMetrics with the
	// function that records one evidence append: how long it took and
	// its error.
	EvidenceAppends func(observe func(took time.Duration, err error))
	// Build describes the binary for provost_build_info; the zero Info
	// means what Go recorded in it (buildinfo.Read with no stamped
	// version).
	Build buildinfo.Info
}

// JWKSStats are one issuer's remote key source counters.
type JWKSStats struct {
	Issuer string
	Stats  issuer.Stats
}

// AppSources reads the sources of a running Provost: its stores, and its
// policy's remote key sources.
func AppSources(a *app.App) Sources {
	return Sources{ReplayEntries: a.ReplayEntries, Revocations: a.RevocationCount, OriginCache: a.OriginCacheStats, EvidenceDurable: a.Evidence.Durable, Backends: a.Backends,
		Ready: a.Ready, EvidenceQueue: a.EvidenceQueueDepth, EvidenceAppends: a.ObserveEvidenceAppends, JWKS: func() []JWKSStats {
			var out []JWKSStats
			for _, s := range a.Policy().Summary().RemoteKeys {
				out = append(out, JWKSStats{Issuer: s.Issuer, Stats: issuer.Stats{Fetches: s.Fetches, Failures: s.Failures,
					LastSuccess: s.LastSuccess, KeysDropped: s.KeysDropped, PrivateKeysDropped: s.PrivateKeysDropped}})
			}
			return out
		}}
}

// Wrap is the Engine.Use wrapper that counts and traces every decision,
// whichever transport asked: eng.Use(telemetry.Wrap(m, nil)).
func Wrap(m *Metrics, tp trace.TracerProvider) func(provost.CheckFunc) provost.CheckFunc {
	return func(next provost.CheckFunc) provost.CheckFunc {
		return Instrument(next, m, tp).Check
	}
}

// scrapeTimeout bounds the store reads made during one scrape.
const scrapeTimeout = 2 * time.Second

// Metrics are Provost's Prometheus metrics, on a registry of their own.
type Metrics struct {
	reg          *prometheus.Registry
	decisions    *prometheus.CounterVec
	reasons      *prometheus.CounterVec
	duration     prometheus.Histogram
	verdicts     *prometheus.CounterVec
	failures     prometheus.Counter
	appendTook   prometheus.Histogram
	appendErrors prometheus.Counter
	handler      http.Handler
}

// NewMetrics makes the metrics and a registry holding them, the Go runtime
// and process collectors, and src.
func NewMetrics(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provost_decisions_total",
			Help: "Decisions, each counted once, by outcome (allow, step_up, deny) and the transport that asked (check_api, forward_auth, ext_authz, proxy, other).",
		}, []string{"outcome", "transport"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provost_decision_reasons_total",
			Help: "Decisions carrying each reason code, by code and outcome; a decision with several codes counts once for each, so these do not sum to the decisions.",
		}, []string{"reason", "outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "provost_decision_duration_seconds",
			Help:    "Time taken by one decision, from request value to decision.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provost_credential_verdicts_total",
			Help: "Credential verdicts: accepted or rejected.",
		}, []string{"verdict"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "provost_check_failures_total",
			Help: "Decisions where one of Provost's own parts failed and it denied (fail closed).",
		}),
		appendTook: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "provost_evidence_append_duration_seconds",
			Help:    "Time one evidence append took: until the record was on disk (durable mode) or queued (async mode); failed appends included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "provost_evidence_append_errors_total",
			Help: "Evidence appends that failed; a decision whose record could not be appended was denied (fail closed).",
		}),
	}
	for _, t := range transport.All() {
		for _, o := range []verdict.Outcome{verdict.Allow, verdict.StepUp, verdict.Deny} {
			m.decisions.WithLabelValues(string(o), string(t)) // present at zero, so rate() sees the first decision
		}
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "provost_build_info",
		Help: "Always 1; its labels say which Provost runs: version, revision (the commit, empty when unknown) and goversion.",
	}, []string{"version", "revision", "goversion"})
	b := src.Build
	if b == (buildinfo.Info{}) {
		b = buildinfo.Read("", debug.ReadBuildInfo)
	}
	build.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	m.reg.MustRegister(m.decisions, m.reasons, m.duration, m.verdicts, m.failures, m.appendTook, m.appendErrors, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newSourceCollector(src))
	if src.EvidenceAppends != nil {
		src.EvidenceAppends(m.observeAppend)
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	return m
}

// Registry returns the registry, for other packages' metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Observe counts one decision that took took, asked through the transport
// ctx names (transport.From), as the transport answers it: when err is
// not nil or d is nil, provost.Judge answers a denial (internal_error),
// and so is it counted.
func (m *Metrics) Observe(ctx context.Context, d *provost.Decision, took time.Duration, err error) {
	m.duration.Observe(took.Seconds())
	if err != nil || d == nil {
		m.failures.Inc()
	}
	outcome, verd, codes := answered(d, err)
	m.decisions.WithLabelValues(outcome, transportLabel(transport.From(ctx))).Inc()
	for _, c := range codes {
		m.reasons.WithLabelValues(c, outcome).Inc()
	}
	m.verdicts.WithLabelValues(verd).Inc()
}

// observeAppend records one evidence append.
func (m *Metrics) observeAppend(took time.Duration, err error) {
	m.appendTook.Observe(took.Seconds())
	if err != nil {
		m.appendErrors.Inc()
	}
}

// answered is the outcome, credential verdict and distinct reason codes
// (as label values) of the decision a transport answers for d and err:
// provost.Judge turns an error, or a missing decision, into a denial that
// carries internal_error unless d already is a rejected denial.
func answered(d *provost.Decision, err error) (outcome, verd string, codes []string) {
	if d == nil {
		return string(verdict.Deny), string(verdict.Rejected), []string{string(reason.InternalError)}
	}
	outcome, verd = outcomeLabel(d.Outcome), string(d.Credential.Verdict)
	codes = make([]string, 0, len(d.Reasons)+1)
	add := func(c reason.Code) {
		l := reasonLabel(c)
		if !slices.Contains(codes, l) {
			codes = append(codes, l)
		}
	}
	for _, r := range d.Reasons {
		add(r.Code)
	}
	if err != nil && (d.Outcome != verdict.Deny || d.Credential.Verdict != verdict.Rejected) {
		outcome, verd = string(verdict.Deny), string(verdict.Rejected)
		add(reason.InternalError)
	}
	return outcome, verd, codes
}

// outcomeLabel is o as a label value; anything but allow, step_up and
// deny (which the engine never answers) is "other".
func outcomeLabel(o verdict.Outcome) string {
	switch o {
	case verdict.Allow, verdict.StepUp, verdict.Deny:
		return string(o)
	}
	return "other"
}

// transportLabel is n as a label value: one of transport.All.
func transportLabel(n transport.Name) string {
	if slices.Contains(transport.All(), n) {
		return string(n)
	}
	return string(transport.Other)
}

// sourceCollector reads Sources at scrape time.
type sourceCollector struct {
	src         Sources
	replay      *prometheus.Desc
	revocations *prometheus.Desc
	fetches     *prometheus.Desc
	dropped     *prometheus.Desc
	privDropped *prometheus.Desc
	lastSuccess *prometheus.Desc
	cache       *prometheus.Desc
	durable     *prometheus.Desc
	backendUp   *prometheus.Desc
	ready       *prometheus.Desc
	queue       *prometheus.Desc
}

func newSourceCollector(src Sources) *sourceCollector {
	return &sourceCollector{
		src:         src,
		replay:      prometheus.NewDesc("provost_replay_cache_entries", "Entries in the replay cache (DPoP proof jti values).", nil, nil),
		revocations: prometheus.NewDesc("provost_revocations", "Revocations in force.", nil, nil),
		fetches:     prometheus.NewDesc("provost_jwks_fetches_total", "JWKS fetch attempts by issuer and result (success or failure), since the last reload.", []string{"issuer", "result"}, nil),
		dropped:     prometheus.NewDesc("provost_jwks_keys_dropped_total", "Keys left out of fetched key sets, by issuer.", []string{"issuer"}, nil),
		privDropped: prometheus.NewDesc("provost_jwks_private_keys_dropped_total", "Dropped keys that carried private or symmetric material, by issuer.", []string{"issuer"}, nil),
		lastSuccess: prometheus.NewDesc("provost_jwks_last_success_timestamp_seconds", "Start of the last good JWKS fetch, by issuer.", []string{"issuer"}, nil),
		durable:     prometheus.NewDesc("provost_evidence_durable", "1 when a decision is answered only after its evidence record is on disk; 0 in async mode, where a crash can lose answered decisions.", nil, nil),
		cache:       prometheus.NewDesc("provost_cache_lookups_total", "Cache lookups by cache and result (hit or miss); the hit rate is hit / (hit + miss).", []string{"cache", "result"}, nil),
		backendUp:   prometheus.NewDesc("provost_backend_up", "1 when the shared backend answers, 0 when it does not (decisions that need it are denied); absent with the embedded stores.", []string{"backend"}, nil),
		ready:       prometheus.NewDesc("provost_ready", "1 when the stores a decision needs answer (what /readyz checks), 0 when not (decisions that need them are denied).", nil, nil),
		queue:       prometheus.NewDesc("provost_evidence_queue_depth", "Evidence records appended and not yet committed: SQLite, not yet written and fsynced; PostgreSQL, queued in this replica.", nil, nil),
	}
}

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.replay, c.revocations, c.fetches, c.dropped, c.privDropped, c.lastSuccess, c.cache, c.durable, c.backendUp, c.ready, c.queue} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	if f := c.src.Ready; f != nil {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		v := 0.0
		if f(ctx) == nil {
			v = 1
		}
		cancel()
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, v)
	}
	if f := c.src.EvidenceQueue; f != nil {
		if n := f(); n >= 0 {
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(n))
		}
	}
	if f := c.src.Backends; f != nil {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		for name, up := range f(ctx) {
			v := 0.0
			if up {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.backendUp, prometheus.GaugeValue, v, name)
		}
		cancel()
	}
	if f := c.src.EvidenceDurable; f != nil {
		v := 0.0
		if f() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.durable, prometheus.GaugeValue, v)
	}
	if f := c.src.OriginCache; f != nil {
		hits, misses := f()
		ch <- prometheus.MustNewConstMetric(c.cache, prometheus.CounterValue, float64(hits), "origin_history", "hit")
		ch <- prometheus.MustNewConstMetric(c.cache, prometheus.CounterValue, float64(misses), "origin_history", "miss")
	}
	if f := c.src.ReplayEntries; f != nil {
		if n := f(); n >= 0 {
			ch <- prometheus.MustNewConstMetric(c.replay, prometheus.GaugeValue, float64(n))
		}
	}
	if f := c.src.Revocations; f != nil {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		n, err := f(ctx)
		cancel()
		if err == nil { // an unreadable store leaves the gauge out rather than failing the scrape
			ch <- prometheus.MustNewConstMetric(c.revocations, prometheus.GaugeValue, float64(n))
		}
	}
	if f := c.src.JWKS; f != nil {
		for _, s := range f() {
			ch <- prometheus.MustNewConstMetric(c.fetches, prometheus.CounterValue, float64(s.Stats.Fetches-s.Stats.Failures), s.Issuer, "success")
			ch <- prometheus.MustNewConstMetric(c.fetches, prometheus.CounterValue, float64(s.Stats.Failures), s.Issuer, "failure")
			ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.Stats.KeysDropped), s.Issuer)
			ch <- prometheus.MustNewConstMetric(c.privDropped, prometheus.CounterValue, float64(s.Stats.PrivateKeysDropped), s.Issuer)
			if !s.Stats.LastSuccess.IsZero() {
				ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(s.Stats.LastSuccess.UnixNano())/1e9, s.Issuer)
			}
		}
	}
}
