package load

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Round is one measured round of one target.
type Round struct {
	Round    int // 1-based
	Position int // the target's place in this round's order, 1-based
	Result   Result
	// CPU is the CPU time (user and system) the server process spent
	// during the measured window, as it reports it for itself.
	CPU time.Duration
}

// CPUPerRequest is the server's CPU time per request of the round.
func (r Round) CPUPerRequest() time.Duration {
	if r.Result.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Result.Requests)
}

// String is one line for people: the target, its results and the
// server's CPU time per request.
func (r Round) String() string {
	res := r.Result
	return fmt.Sprintf("%-13s c=%-4d %7.0f req/s  p50 %-9s p99 %-9s p99.9 %-9s max %-9s CPU/req %-8s n=%d fail=%d",
		res.Name, res.Concurrency, res.RPS(), round(res.P50), round(res.P99), round(res.P999), round(res.Max),
		round(r.CPUPerRequest()), res.Requests, res.Failures)
}

// TargetReport is one target over every round: the medians over the
// rounds, the totals, and the ratios to its baseline.
type TargetReport struct {
	Target   string
	Baseline string // "" for a baseline
	Rounds   []Round

	RPS           float64
	P50, P99      time.Duration
	P999          time.Duration
	CPUPerRequest time.Duration
	Requests      int64
	Failures      int64
	FirstError    string
	// RPSRatio is the median over rounds of this target's requests/s
	// divided by its baseline's in the same round; CPURatio the same for
	// CPU per request. HasRatio is false when the baseline was not
	// measured.
	RPSRatio, CPURatio float64
	HasRatio           bool
}

// Report is what Bench measured.
type Report struct {
	Rounds        int
	Duration      time.Duration
	Warmup        time.Duration
	Concurrency   int
	Credentials   int
	Origins       int
	AsyncEvidence bool
	Targets       []*TargetReport
}

func newReport(o Options) *Report {
	r := &Report{Rounds: o.Rounds, Duration: o.Duration, Warmup: o.Warmup, Concurrency: o.Concurrency,
		Credentials: o.Credentials, Origins: o.Origins, AsyncEvidence: o.AsyncEvidence}
	for _, t := range o.Targets {
		r.Targets = append(r.Targets, &TargetReport{Target: t, Baseline: Baseline(t)})
	}
	return r
}

func (r *Report) target(name string) *TargetReport {
	for _, t := range r.Targets {
		if t.Target == name {
			return t
		}
	}
	return nil
}

func (r *Report) add(name string, rd Round) {
	t := r.target(name)
	t.Rounds = append(t.Rounds, rd)
	t.Requests += rd.Result.Requests
	t.Failures += rd.Result.Failures
	if t.FirstError == "" {
		t.FirstError = rd.Result.FirstError
	}
}

// last is target's last round.
func (r *Report) last(name string) Round {
	t := r.target(name)
	return t.Rounds[len(t.Rounds)-1]
}

// finish computes the medians and ratios from the rounds.
func (r *Report) finish() *Report {
	for _, t := range r.Targets {
		t.RPS = median(t.Rounds, func(rd Round) float64 { return rd.Result.RPS() })
		t.P50 = time.Duration(median(t.Rounds, func(rd Round) float64 { return float64(rd.Result.P50) }))
		t.P99 = time.Duration(median(t.Rounds, func(rd Round) float64 { return float64(rd.Result.P99) }))
		t.P999 = time.Duration(median(t.Rounds, func(rd Round) float64 { return float64(rd.Result.P999) }))
		t.CPUPerRequest = time.Duration(median(t.Rounds, func(rd Round) float64 { return float64(rd.CPUPerRequest()) }))
	}
	for _, t := range r.Targets {
		b := r.target(t.Baseline)
		if b == nil {
			continue
		}
		var rps, cpu []float64
		for _, rd := range t.Rounds {
			i := slices.IndexFunc(b.Rounds, func(x Round) bool { return x.Round == rd.Round })
			if i < 0 {
				continue
			}
			br := b.Rounds[i]
			if br.Result.RPS() > 0 {
				rps = append(rps, rd.Result.RPS()/br.Result.RPS())
			}
			if br.CPUPerRequest() > 0 {
				cpu = append(cpu, float64(rd.CPUPerRequest())/float64(br.CPUPerRequest()))
			}
		}
		if len(rps) > 0 && len(cpu) > 0 {
			t.RPSRatio, t.CPURatio, t.HasRatio = medianOf(rps), medianOf(cpu), true
		}
	}
	return r
}

func median(rounds []Round, f func(Round) float64) float64 {
	v := make([]float64, len(rounds))
	for i, rd := range rounds {
		v[i] = f(rd)
	}
	return medianOf(v)
}

// medianOf is the median of v (the mean of the middle two for an even
// count); 0 for none.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Evidence names the evidence mode of the Provost targets.
func (r *Report) Evidence() string {
	if r.AsyncEvidence {
		return "async"
	}
	return "durable"
}

// WriteTable writes the report for people: one line per target.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "provost bench: %d round(s) of %s per target (targets interleaved, order rotated each round), %d workers,\n",
		r.Rounds, r.Duration, r.Concurrency)
	fmt.Fprintf(w, "%d bearer credentials from %d origins, %s evidence; medians over the rounds; server CPU is the server process's own\n\n",
		r.Credentials, r.Origins, r.Evidence())
	width := len("target")
	for _, t := range r.Targets {
		width = max(width, len(t.Target))
	}
	// Right-aligned cells, each with two spaces of padding before it; the
	// first column is padded to the left by hand and its padding dropped.
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\treq/s\tp50\tp99\tp99.9\tCPU/req\tbaseline\treq/s vs base\tCPU/req vs base\trequests\tfailures\t\n", width, "target")
	for _, t := range r.Targets {
		base, rps, cpu := "-", "-", "-"
		if t.Baseline != "" {
			base = t.Baseline
		}
		if t.HasRatio {
			rps, cpu = fmt.Sprintf("%.3f×", t.RPSRatio), fmt.Sprintf("%.2f×", t.CPURatio)
		}
		fmt.Fprintf(tw, "%-*s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", width, t.Target, t.RPS, round(t.P50), round(t.P99), round(t.P999),
			round(t.CPUPerRequest), base, rps, cpu, t.Requests, t.Failures)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		io.WriteString(w, strings.TrimPrefix(l, "  "))
	}
	for _, t := range r.Targets {
		if t.Failures > 0 {
			fmt.Fprintf(w, "\n%s: %d failed requests; the first: %s", t.Target, t.Failures, t.FirstError)
		}
	}
	if r.Failures() > 0 {
		fmt.Fprintln(w)
	}
	// Every round, in the order driven, so the spread behind the medians
	// shows.
	var rounds []Round
	for _, t := range r.Targets {
		rounds = append(rounds, t.Rounds...)
	}
	slices.SortFunc(rounds, func(a, b Round) int { return cmp.Or(a.Round-b.Round, a.Position-b.Position) })
	for i, rd := range rounds {
		if i == 0 || rd.Round != rounds[i-1].Round {
			fmt.Fprintf(w, "\nround %d\n", rd.Round)
		}
		fmt.Fprintln(w, rd)
	}
	return nil
}

// Failures is the number of failed requests over every target and round.
func (r *Report) Failures() int64 {
	var n int64
	for _, t := range r.Targets {
		n += t.Failures
	}
	return n
}

// The JSON form of a report. Durations are in microseconds.
type (
	jsonReport struct {
		Rounds      int          `json:"rounds"`
		DurationS   float64      `json:"duration_s"`
		WarmupS     float64      `json:"warmup_s"`
		Concurrency int          `json:"concurrency"`
		Credentials int          `json:"credentials"`
		Origins     int          `json:"origins"`
		Evidence    string       `json:"evidence"`
		Targets     []jsonTarget `json:"targets"`
	}
	jsonTarget struct {
		Target         string      `json:"target"`
		Baseline       string      `json:"baseline,omitempty"`
		RPS            float64     `json:"rps"`
		P50            float64     `json:"p50_us"`
		P99            float64     `json:"p99_us"`
		P999           float64     `json:"p999_us"`
		CPUPerRequest  float64     `json:"cpu_per_request_us"`
		RPSRatio       *float64    `json:"rps_ratio,omitempty"`
		CPURatio       *float64    `json:"cpu_per_request_ratio,omitempty"`
		Requests       int64       `json:"requests"`
		Failures       int64       `json:"failures"`
		FirstError     string      `json:"first_error,omitempty"`
		RoundsMeasured []jsonRound `json:"rounds"`
	}
	jsonRound struct {
		Round         int     `json:"round"`
		Position      int     `json:"position"`
		Requests      int64   `json:"requests"`
		Failures      int64   `json:"failures"`
		ElapsedS      float64 `json:"elapsed_s"`
		RPS           float64 `json:"rps"`
		P50           float64 `json:"p50_us"`
		P99           float64 `json:"p99_us"`
		P999          float64 `json:"p999_us"`
		Max           float64 `json:"max_us"`
		CPUS          float64 `json:"server_cpu_s"`
		CPUPerRequest float64 `json:"cpu_per_request_us"`
	}
)

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// to rounds x to places decimal places, for the JSON.
func to(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	j := jsonReport{Rounds: r.Rounds, DurationS: r.Duration.Seconds(), WarmupS: r.Warmup.Seconds(), Concurrency: r.Concurrency,
		Credentials: r.Credentials, Origins: r.Origins, Evidence: r.Evidence(), Targets: []jsonTarget{}}
	for _, t := range r.Targets {
		jt := jsonTarget{Target: t.Target, Baseline: t.Baseline, RPS: to(t.RPS, 1), P50: us(t.P50), P99: us(t.P99), P999: us(t.P999),
			CPUPerRequest: us(t.CPUPerRequest), Requests: t.Requests, Failures: t.Failures, FirstError: t.FirstError,
			RoundsMeasured: []jsonRound{}}
		if t.HasRatio {
			rps, cpu := to(t.RPSRatio, 4), to(t.CPURatio, 4)
			jt.RPSRatio, jt.CPURatio = &rps, &cpu
		}
		for _, rd := range t.Rounds {
			res := rd.Result
			jt.RoundsMeasured = append(jt.RoundsMeasured, jsonRound{Round: rd.Round, Position: rd.Position, Requests: res.Requests,
				Failures: res.Failures, ElapsedS: to(res.Elapsed.Seconds(), 6), RPS: to(res.RPS(), 1), P50: us(res.P50), P99: us(res.P99),
				P999: us(res.P999), Max: us(res.Max), CPUS: rd.CPU.Seconds(), CPUPerRequest: us(rd.CPUPerRequest())})
		}
		j.Targets = append(j.Targets, jt)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// String is the report as WriteTable writes it.
func (r *Report) String() string {
	var b strings.Builder
	r.WriteTable(&b)
	return b.String()
}
