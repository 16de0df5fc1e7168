package trail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxBuckets bounds the bars of the decisions-over-time chart.
const maxBuckets = 400

// Finding is one framework reference the records in a report carried.
type Finding struct {
	Framework   string    `json:"framework"`
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Count       int64     `json:"records"`     // records tagged with it
	Denied      int64     `json:"denied"`      // of which denied or stepped up
	Credentials int64     `json:"credentials"` // distinct credentials
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
}

// Bucket is one bar of the decisions-over-time chart: the decisions made in
// [Start, Start+width).
type Bucket struct {
	Start  time.Time `json:"start"`
	Allow  int64     `json:"allow"`
	StepUp int64     `json:"step_up"`
	Deny   int64     `json:"deny"`
}

// Empty reports whether no decision fell in the bucket.
func (k Bucket) Empty() bool { return k.Allow+k.StepUp+k.Deny == 0 }

// Summary is what a report shows.
type Summary struct {
	From, To            time.Time // the records' range: [From, To)
	Total               int64
	Allow, StepUp, Deny int64
	Findings            []Finding     // by framework (OWASP NHI, NIST CSF 2.0, SP 800-207), then id
	Width               time.Duration // a bucket's width: an hour, a day or a week
	Buckets             []Bucket
}

// MarshalJSON writes the summary for --json: the bucket width by name and
// only the buckets that hold a decision.
func (s Summary) MarshalJSON() ([]byte, error) {
	type bucketsJSON struct {
		Width   string   `json:"width"`
		Buckets []Bucket `json:"buckets"`
	}
	out := struct {
		From     time.Time    `json:"from"`
		To       time.Time    `json:"to"`
		Total    int64        `json:"total"`
		Allow    int64        `json:"allow"`
		StepUp   int64        `json:"step_up"`
		Deny     int64        `json:"deny"`
		Findings []Finding    `json:"findings"`
		Over     *bucketsJSON `json:"decisions_over_time,omitempty"`
	}{From: s.From.UTC(), To: s.To.UTC(), Total: s.Total, Allow: s.Allow, StepUp: s.StepUp, Deny: s.Deny, Findings: s.Findings}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	if len(s.Buckets) > 0 {
		out.Over = &bucketsJSON{Width: widthName(s.Width), Buckets: []Bucket{}}
		for _, k := range s.Buckets {
			if !k.Empty() {
				out.Over.Buckets = append(out.Over.Buckets, k)
			}
		}
	}
	return json.Marshal(out)
}

// Summarize gathers the report of the records in [from, to); a zero bound
// is the first or last record's time.
func (x *Index) Summarize(ctx context.Context, from, to time.Time) (Summary, error) {
	conds, args := timeRange(nil, nil, from, to)
	// Decisions only: an operator's revocation is no decision.
	where := " WHERE " + strings.Join(append(conds, decisionsOnly), " AND ")
	var (
		s        Summary
		min, max int64
	)
	err := x.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(decision = 'allow'), 0), coalesce(sum(decision = 'step_up'), 0),
		coalesce(sum(decision = 'deny'), 0), coalesce(min(time), 0), coalesce(max(time), 0) FROM trail_record`+where, args...).
		Scan(&s.Total, &s.Allow, &s.StepUp, &s.Deny, &min, &max)
	if err != nil {
		return s, fmt.Errorf("trail: report: %w", err)
	}
	s.From, s.To = from, to
	if s.From.IsZero() {
		s.From = time.Unix(0, min).UTC()
	}
	if s.To.IsZero() {
		s.To = time.Unix(0, max+1).UTC()
	}
	if s.Total == 0 {
		return s, nil
	}
	if s.Findings, err = x.findings(ctx, where, args); err != nil {
		return s, err
	}
	s.Width = bucketWidth(s.To.Sub(s.From))
	s.Buckets, err = x.buckets(ctx, where, args, s.From, s.To, s.Width)
	return s, err
}

// bucketWidth is an hour for up to three days, a day for up to maxBuckets
// days, a week beyond.
func bucketWidth(span time.Duration) time.Duration {
	const day = 24 * time.Hour
	switch {
	case span <= 3*day:
		return time.Hour
	case span/day < maxBuckets:
		return day
	}
	return 7 * day
}

func (x *Index) findings(ctx context.Context, where string, args []any) ([]Finding, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT t.framework, t.tag, max(t.name), count(*), sum(r.decision != 'allow'),
		count(DISTINCT r.fingerprint), min(r.time), max(r.time)
		FROM trail_tag t JOIN trail_record r ON r.idx = t.idx`+strings.ReplaceAll(where, "time", "r.time")+`
		GROUP BY t.framework, t.tag
		ORDER BY CASE t.framework WHEN 'OWASP Non-Human Identity Top 10 (2025)' THEN 0 WHEN 'NIST CSF 2.0' THEN 1 ELSE 2 END, t.framework, t.tag`, args...)
	if err != nil {
		return nil, fmt.Errorf("trail: report: %w", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var (
			f           Finding
			first, last int64
		)
		if err := rows.Scan(&f.Framework, &f.ID, &f.Name, &f.Count, &f.Denied, &f.Credentials, &first, &last); err != nil {
			return nil, fmt.Errorf("trail: report: %w", err)
		}
		f.First, f.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, f)
	}
	return out, rowsErr(rows, "report")
}

func (x *Index) buckets(ctx context.Context, where string, args []any, from, to time.Time, w time.Duration) ([]Bucket, error) {
	start := from.Truncate(w)
	n := int((to.Sub(start) + w - 1) / w)
	n = min(max(n, 1), maxBuckets)
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = start.Add(time.Duration(i) * w).UTC()
	}
	rows, err := x.db.QueryContext(ctx, `SELECT (time - ?) / ?, decision, count(*) FROM trail_record`+where+` GROUP BY 1, 2`,
		append([]any{start.UnixNano(), int64(w)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("trail: report: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i, c int64
			d    string
		)
		if err := rows.Scan(&i, &d, &c); err != nil {
			return nil, fmt.Errorf("trail: report: %w", err)
		}
		if i < 0 || i >= int64(n) {
			continue // past the chart's bound
		}
		switch d {
		case "allow":
			out[i].Allow += c
		case "step_up":
			out[i].StepUp += c
		case "deny":
			out[i].Deny += c
		}
	}
	return out, rowsErr(rows, "report")
}

// Report writes the report of the records in [from, to) (a zero bound is
// open) as "markdown", "html" or "json" (the Summary). The HTML is one
// self-contained page: an inline SVG chart, no script, no external
// resource.
func (x *Index) Report(ctx context.Context, w io.Writer, format string, from, to time.Time) error {
	if format != "markdown" && format != "html" && format != "json" {
		return fmt.Errorf("trail: report format %q: want markdown, html or json", format)
	}
	s, err := x.Summarize(ctx, from, to)
	if err != nil {
		return err
	}
	switch format {
	case "html":
		return writeHTML(w, s)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return writeMarkdown(w, s)
}
