package trail

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/reason"
)

// Query bounds.
const (
	DefaultLimit = 1000   // rows a query returns when its Limit is 0
	MaxLimit     = 100000 // rows a query returns at most
)

// Filter selects records. Zero fields do not filter; the rest must all hold.
type Filter struct {
	Fingerprint string
	Workload    string
	// Network is a CIDR prefix or one address, matched against the
	// request's client (or its peer when the client is unknown).
	Network  string
	Binding  string
	Decision string
	Reason   string
	// From is inclusive, To exclusive.
	From, To time.Time
	// Limit bounds the result: DefaultLimit when 0, at most MaxLimit.
	Limit int
}

// decisionsOnly is the condition that leaves event records (an operator's
// revocation, indexed with an empty decision) out of what counts uses.
const decisionsOnly = "decision != ''"

// Entry is one indexed record and its index in the log.
type Entry struct {
	Index  int64           `json:"index"`
	Record evidence.Record `json:"record"`
}

func limit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

// Validate reports a filter that cannot be run, such as a malformed
// network.
func (f Filter) Validate() error {
	_, _, err := f.where()
	return err
}

// where builds the WHERE clause and its arguments for f.
func (f Filter) where() (string, []any, error) {
	var (
		conds []string
		args  []any
	)
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	eq("fingerprint", f.Fingerprint)
	eq("workload", f.Workload)
	eq("binding", f.Binding)
	eq("decision", f.Decision)
	if f.Reason != "" {
		// Driven by the reason's rows when nothing more selective is
		// given, else checked per row (a point lookup), so the planner
		// starts from the fingerprint's, workload's or network's index.
		if f.Fingerprint == "" && f.Workload == "" && f.Network == "" {
			conds = append(conds, "idx IN (SELECT idx FROM trail_reason WHERE code = ?)")
		} else {
			conds = append(conds, "EXISTS (SELECT 1 FROM trail_reason WHERE code = ? AND trail_reason.idx = trail_record.idx)")
		}
		args = append(args, f.Reason)
	}
	if f.Network != "" {
		lo, hi, err := addrRange(f.Network)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, "client_bin BETWEEN ? AND ?")
		args = append(args, lo, hi)
	}
	conds, args = timeRange(conds, args, f.From, f.To)
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

func timeRange(conds []string, args []any, from, to time.Time) ([]string, []any) {
	if !from.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, from.UnixNano())
	}
	if !to.IsZero() {
		conds = append(conds, "time < ?")
		args = append(args, to.UnixNano())
	}
	return conds, args
}

// addrRange is the first and last 16-byte address (IPv4 mapped into IPv6)
// of a CIDR prefix or of one address.
func addrRange(s string) ([]byte, []byte, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return nil, nil, fmt.Errorf("trail: network %q is not a CIDR prefix or an address", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, nil, fmt.Errorf("trail: network %q is not a CIDR prefix or an address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	lo := p.Addr().As16()
	hi := lo
	for i := bits; i < 128; i++ {
		hi[i/8] |= 0x80 >> (i % 8)
	}
	return lo[:], hi[:], nil
}

// Show returns the records f selects, in log order, at most f.Limit
// (DefaultLimit when 0, MaxLimit at most).
func (x *Index) Show(ctx context.Context, f Filter) ([]Entry, error) {
	var out []Entry
	for e, err := range x.scan(ctx, f, limit(f.Limit)) {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Scan yields every record f selects, in log order, without a limit
// (f.Limit is ignored), reading BatchSize rows per query; it stops at the
// first error, which it yields.
func (x *Index) Scan(ctx context.Context, f Filter) iter.Seq2[Entry, error] {
	return x.scan(ctx, f, -1)
}

// ScanNewest yields the newest n records f selects, in log order (f.Limit
// is ignored), and whether older ones were left out.
func (x *Index) ScanNewest(ctx context.Context, f Filter, n int) (iter.Seq2[Entry, error], bool, error) {
	where, args, err := f.where()
	if err != nil {
		return nil, false, err
	}
	// The index of the n-th newest record: reading from it yields n.
	var start int64
	err = x.db.QueryRowContext(ctx, `SELECT idx FROM trail_record`+where+` ORDER BY idx DESC LIMIT 1 OFFSET ?`,
		append(args, n)...).Scan(&start)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return x.scanFrom(ctx, f, 0, -1), false, nil
	case err != nil:
		return nil, false, fmt.Errorf("trail: show: %w", err)
	}
	return x.scanFrom(ctx, f, start+1, n), true, nil
}

// scan yields at most n records (all when n < 0).
func (x *Index) scan(ctx context.Context, f Filter, n int) iter.Seq2[Entry, error] {
	return x.scanFrom(ctx, f, 0, n)
}

// scanFrom yields at most n records (all when n < 0) from log index start.
func (x *Index) scanFrom(ctx context.Context, f Filter, start int64, n int) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		where, args, err := f.where()
		if err != nil {
			yield(Entry{}, err)
			return
		}
		if where == "" {
			where = " WHERE idx >= ?"
		} else {
			where += " AND idx >= ?"
		}
		q := `SELECT idx, record FROM trail_record` + where + ` ORDER BY idx LIMIT ?`
		for from := start; n != 0; {
			want := BatchSize
			if n > 0 {
				want = min(n, BatchSize)
			}
			page, err := x.page(ctx, q, append(args, from, want))
			if err != nil {
				yield(Entry{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if n > 0 {
				n -= len(page)
			}
			if len(page) < want {
				return
			}
			from = page[len(page)-1].Index + 1
		}
	}
}

func (x *Index) page(ctx context.Context, q string, args []any) ([]Entry, error) {
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("trail: show: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var (
			e   Entry
			raw []byte
		)
		if err := rows.Scan(&e.Index, &raw); err != nil {
			return nil, fmt.Errorf("trail: show: %w", err)
		}
		// Add indexed only records evidence.Unmarshal accepted; a plain
		// decode spares re-encoding each one to check its form again.
		if err := json.Unmarshal(raw, &e.Record); err != nil {
			return nil, fmt.Errorf("trail: show: record %d: %w", e.Index, err)
		}
		out = append(out, e)
	}
	return out, rowsErr(rows, "show")
}

// Use is one use of a credential, for a timeline.
type Use struct {
	Index      int64     `json:"index"`
	Time       time.Time `json:"time"`
	Decision   string    `json:"decision"`
	Provenance string    `json:"provenance"`
	Binding    string    `json:"binding,omitempty"`
	Workload   string    `json:"workload,omitempty"`
	Client     string    `json:"client,omitempty"`
	Network    string    `json:"network,omitempty"` // the client's /24 or /64
	Method     string    `json:"method,omitempty"`
	Path       string    `json:"path,omitempty"`
	Reasons    []string  `json:"reasons,omitempty"`
	Actions    []string  `json:"actions,omitempty"` // alert, revoke
	// NewOrigin marks the first use of the credential from this
	// (workload, network) origin, in the whole index.
	NewOrigin bool `json:"new_origin"`
	// Revoked marks the decision that revoked the credential (its actions
	// hold revoke); RevocationID names the revocation it wrote.
	Revoked      bool   `json:"revoked"`
	RevocationID string `json:"revocation_id,omitempty"`
	// StepUp marks a decision that forced re-authentication.
	StepUp bool `json:"step_up"`
	// WasRevoked marks a use refused because the credential had been
	// revoked before it.
	WasRevoked bool `json:"was_revoked"`
	// Event is "revocation" on the line of an operator's revocation of
	// the credential, which is not a use (Decision is empty):
	// RevocationID names it, RevokedBy the admin client that asked and
	// RevocationReason why.
	Event            string `json:"event,omitempty"`
	RevokedBy        string `json:"revoked_by,omitempty"`
	RevocationReason string `json:"revocation_reason,omitempty"`
}

// useRecord is the part of a record a timeline reads beyond the indexed
// columns.
type useRecord struct {
	Actions      []string `json:"actions"`
	RevocationID string   `json:"revocation_id"`
	Credential   struct {
		Reason string `json:"reason"`
	} `json:"credential"`
	Event      string `json:"event"`
	Revocation struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
		Client string `json:"client"`
	} `json:"revocation"`
}

// Timeline returns the uses of the credential f.Fingerprint that the rest
// of f selects, in time order, at most f.Limit of them (DefaultLimit when
// 0), each marked when it is the first use of the credential from its
// origin (also when earlier uses fall outside f). An operator's revocation
// of the credential is a line of its own (Use.Event), where its time falls.
func (x *Index) Timeline(ctx context.Context, f Filter) ([]Use, error) {
	if f.Fingerprint == "" {
		return nil, errors.New("trail: timeline: name a credential")
	}
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	rows, err := x.db.QueryContext(ctx, `SELECT idx, time, decision, provenance, binding, workload, client, origin, method, path, reasons, record
		FROM trail_record`+where+` ORDER BY time, idx LIMIT ?`, append(args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("trail: timeline: %w", err)
	}
	defer rows.Close()
	var out []Use
	for rows.Next() {
		u, err := scanUse(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if err := rowsErr(rows, "timeline"); err != nil {
		return nil, err
	}
	return out, x.markNewOrigins(ctx, f, out)
}

func scanUse(rows *sql.Rows) (Use, error) {
	var (
		u       Use
		ns      int64
		reasons string
		raw     []byte
		rec     useRecord
	)
	if err := rows.Scan(&u.Index, &ns, &u.Decision, &u.Provenance, &u.Binding, &u.Workload, &u.Client, &u.Network, &u.Method, &u.Path, &reasons, &raw); err != nil {
		return u, fmt.Errorf("trail: timeline: %w", err)
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return u, fmt.Errorf("trail: timeline: record %d: %w", u.Index, err)
	}
	u.Time = time.Unix(0, ns).UTC()
	if reasons != "" {
		u.Reasons = strings.Split(reasons, ",")
	}
	if rec.Event != "" {
		u.Event, u.RevocationID = rec.Event, rec.Revocation.ID
		u.RevokedBy, u.RevocationReason = rec.Revocation.Client, rec.Revocation.Reason
		return u, nil
	}
	u.Actions, u.RevocationID = rec.Actions, rec.RevocationID
	u.Revoked = slices.Contains(rec.Actions, string(decision.Revoke))
	u.StepUp = u.Decision == string(decision.StepUp)
	u.WasRevoked = rec.Credential.Reason == string(reason.Revoked)
	return u, nil
}

// markNewOrigins sets NewOrigin on the first use of each origin in uses,
// unless f leaves out records that may hold an earlier use from it; then
// the index is asked.
func (x *Index) markNewOrigins(ctx context.Context, f Filter, uses []Use) error {
	seen := map[[2]string]bool{}
	whole := f == Filter{Fingerprint: f.Fingerprint, Limit: f.Limit}
	for i := range uses {
		u := &uses[i]
		if u.Event != "" {
			continue // not a use: it came from no origin
		}
		key := [2]string{u.Workload, u.Network}
		if seen[key] {
			continue
		}
		seen[key] = true
		if whole {
			u.NewOrigin = true
			continue
		}
		var earlier bool
		err := x.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM trail_record WHERE fingerprint = ? AND workload = ? AND origin = ?
			AND `+decisionsOnly+` AND (time < ? OR (time = ? AND idx < ?)))`, f.Fingerprint, u.Workload, u.Network, u.Time.UnixNano(), u.Time.UnixNano(), u.Index).Scan(&earlier)
		if err != nil {
			return fmt.Errorf("trail: timeline: %w", err)
		}
		u.NewOrigin = !earlier
	}
	return nil
}

// maxClients bounds the addresses listed for one origin.
const maxClients = 16

// Origin is one origin a credential was used from: a workload and a
// network (the client's /24 or /64), as origin history keys it.
type Origin struct {
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject,omitempty"`
	Workload    string    `json:"workload,omitempty"`
	Network     string    `json:"network,omitempty"` // the client's /24 or /64
	Clients     []string  `json:"clients,omitempty"` // the addresses seen in it, at most maxClients
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	Count       int64     `json:"count"`
	Allowed     int64     `json:"allowed"` // uses that were allowed
	Denied      int64     `json:"denied"`  // uses denied or stepped up
}

// Origins returns the distinct origins (workload, network) of the
// credential f.Fingerprint, or of every credential when it is "", in the
// records the rest of f selects, with first and last seen and counts,
// ordered by credential and first use; at most f.Limit rows.
func (x *Index) Origins(ctx context.Context, f Filter) ([]Origin, error) {
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	if f.Fingerprint == "" {
		where = andWhere(where, "fingerprint != ''")
	}
	where = andWhere(where, decisionsOnly)
	rows, err := x.db.QueryContext(ctx, `SELECT fingerprint, max(subject), workload, origin, group_concat(DISTINCT client), min(time), max(time), count(*),
		sum(decision = 'allow'), sum(decision != 'allow')
		FROM trail_record`+where+` GROUP BY fingerprint, workload, origin ORDER BY fingerprint, min(time) LIMIT ?`, append(args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("trail: origins: %w", err)
	}
	defer rows.Close()
	var out []Origin
	for rows.Next() {
		var (
			o           Origin
			first, last int64
			clients     sql.NullString
		)
		if err := rows.Scan(&o.Fingerprint, &o.Subject, &o.Workload, &o.Network, &clients, &first, &last, &o.Count, &o.Allowed, &o.Denied); err != nil {
			return nil, fmt.Errorf("trail: origins: %w", err)
		}
		for c := range strings.SplitSeq(clients.String, ",") {
			if c != "" && len(o.Clients) < maxClients {
				o.Clients = append(o.Clients, c)
			}
		}
		o.First, o.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, o)
	}
	return out, rowsErr(rows, "origins")
}

// andWhere adds cond to a WHERE clause built by Filter.where.
func andWhere(where, cond string) string {
	if where == "" {
		return " WHERE " + cond
	}
	return where + " AND " + cond
}

// Target is one method and path a credential or workload reached.
type Target struct {
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Count       int64     `json:"count"`
	Allowed     int64     `json:"allowed"`
	SteppedUp   int64     `json:"stepped_up"`
	Denied      int64     `json:"denied"`
	Credentials int64     `json:"credentials"` // distinct credentials used
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
}

// BlastRadius returns the targets (method and path) that the credential
// f.Fingerprint or the workload f.Workload (exactly one) touched in the
// records the rest of f selects, with counts per decision, most used
// first; at most f.Limit rows.
func (x *Index) BlastRadius(ctx context.Context, f Filter) ([]Target, error) {
	if (f.Fingerprint == "") == (f.Workload == "") {
		return nil, errors.New("trail: blast radius: name a credential or a workload")
	}
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	where = andWhere(where, decisionsOnly)
	rows, err := x.db.QueryContext(ctx, `SELECT method, path, count(*), sum(decision = 'allow'), sum(decision = 'step_up'), sum(decision = 'deny'),
		count(DISTINCT fingerprint), min(time), max(time)
		FROM trail_record`+where+` GROUP BY method, path ORDER BY count(*) DESC, method, path LIMIT ?`, append(args, limit(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("trail: blast radius: %w", err)
	}
	defer rows.Close()
	var out []Target
	for rows.Next() {
		var (
			t           Target
			first, last int64
		)
		if err := rows.Scan(&t.Method, &t.Path, &t.Count, &t.Allowed, &t.SteppedUp, &t.Denied, &t.Credentials, &first, &last); err != nil {
			return nil, fmt.Errorf("trail: blast radius: %w", err)
		}
		t.First, t.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out = append(out, t)
	}
	return out, rowsErr(rows, "blast radius")
}

func rowsErr(rows *sql.Rows, what string) error {
	if err := rows.Err(); err != nil {
		return fmt.Errorf("trail: %s: %w", what, err)
	}
	return nil
}
