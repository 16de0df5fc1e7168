package dashboard

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/trail"
	"github.com/provost-dev/provost/reason"
)

// Bounds of a credential page: the records of the credential it reads
// from the index, and the uses its timeline lists (the latest).
const (
	maxCredentialScan = 20_000
	timelineLen       = 200
)

// fingerprintText is what a fingerprint or its prefix may hold.
var fingerprintText = regexp.MustCompile(`^[A-Za-z0-9:_=+/-]{1,128}$`)

// anomalies are the reason codes that mark an origin anomalous, and how
// the graph says each.
var anomalies = map[reason.Code]string{
	reason.CopiedCredential:  "copied",
	reason.SourceDrift:       "drift",
	reason.ConcurrentOrigins: "concurrent",
	reason.DormantRevival:    "dormant revival",
}

// originNode is one origin a credential was used from.
type originNode struct {
	Origin    evidence.Origin
	Kind      string // workload, proxy_chain, posture, network: its most telling part
	Count     int64  // uses
	Allowed   int64
	First     time.Time
	Last      time.Time
	Anomalous bool
	Marks     []string // copied, drift, concurrent, dormant revival
	Lines     []string // its label, line by line
	Title     string
}

// AnomalyCodes are the marks as one attribute value.
func (n originNode) AnomalyCodes() string { return strings.Join(n.Marks, " ") }

// use is one line of a credential's timeline: a decision, or an
// operator's revocation of the credential (Event).
type use struct {
	row
	Origin       string
	RevocationID string // the revocation the decision wrote, or the operator added
	WasRevoked   bool   // refused because the credential was revoked
	NewOrigin    bool
	// Event is "revocation" on an operator's revocation, which is not a
	// use: RevokedBy is the admin client that asked, Reason why.
	Event     string
	RevokedBy string
	Reason    string
}

// credentialData is the credential page's.
type credentialData struct {
	Fingerprint string
	Subject     string
	Issuer      string
	Binding     string
	Mode        string
	Graph       graph
	Timeline    []use // newest first
	Uses        int64 // decisions read from the index
	Truncated   bool  // the credential has more than maxCredentialScan records: the newest were read
	History     origin.History
	HistoryErr  bool
	Revocation  *revocation.Revocation
	Revoked     string // the revocation just made, from ?revoked=
	Index       indexStatus
	Admin       bool
}

func (d *Dashboard) credentialPage(w http.ResponseWriter, r *http.Request, u *user) {
	fp, ok := d.resolve(w, r, u)
	if !ok {
		return
	}
	data, err := d.credential(r.Context(), fp)
	if err != nil {
		d.internal(w, r, u, "reading the credential's records", err)
		return
	}
	data.Admin = u.Admin()
	if id := r.URL.Query().Get("revoked"); len(id) <= 64 {
		data.Revoked = id
	}
	d.render(w, r, http.StatusOK, "credential", "Credential "+short(fp), "", u, data)
}

// resolve finds the credential the path names: its fingerprint, or a
// prefix of one that is unique in the index (redirected to the whole
// fingerprint). An ambiguous prefix answers 400 with the candidates.
func (d *Dashboard) resolve(w http.ResponseWriter, r *http.Request, u *user) (string, bool) {
	p := r.PathValue("fp")
	if !fingerprintText.MatchString(p) {
		d.fail(w, r, u, http.StatusBadRequest, "Not a fingerprint", "A credential is named by its fingerprint (fp1:...) or a prefix of it.")
		return "", false
	}
	d.index.catchUp(r.Context())
	fp, err := d.index.x.Resolve(r.Context(), p)
	var amb *trail.AmbiguousError
	switch {
	case errors.As(err, &amb):
		var links []link
		for _, c := range amb.Candidates {
			links = append(links, link{"/ui/credentials/" + c, c})
		}
		msg := "The prefix " + p + " starts more than one fingerprint; give more of it."
		if amb.More {
			msg += " The first ones are listed."
		}
		d.fail(w, r, u, http.StatusBadRequest, "Ambiguous fingerprint prefix", msg, links...)
		return "", false
	case errors.Is(err, trail.ErrNoFingerprint):
		msg := "No decision in the index names a credential whose fingerprint starts with " + p + "."
		if st := d.index.status(); st.Behind() {
			msg += " The index is still reading the log; try again shortly."
		}
		d.fail(w, r, u, http.StatusNotFound, "Unknown credential", msg)
		return "", false
	case err != nil:
		d.internal(w, r, u, "resolving a fingerprint", err)
		return "", false
	}
	if fp != p {
		target := "/ui/credentials/" + fp
		if strings.HasSuffix(r.URL.Path, "/revoke") {
			target += "/revoke"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return "", false
	}
	return fp, true
}

// credential reads what the page shows of fp: its records in the index
// (origins, anomalies, timeline), its origin history and its revocation.
func (d *Dashboard) credential(ctx context.Context, fp string) (credentialData, error) {
	data := credentialData{Fingerprint: fp, Index: d.index.status()}
	nodes := map[evidence.Origin]*originNode{}
	var (
		latest evidence.Record
		ring   []use
		seen   = map[evidence.Origin]bool{}
	)
	keep := func(u use) {
		if ring = append(ring, u); len(ring) > timelineLen {
			ring = ring[1:]
		}
	}
	newest, truncated, err := d.index.x.ScanNewest(ctx, trail.Filter{Fingerprint: fp}, maxCredentialScan)
	if err != nil {
		return data, err
	}
	data.Truncated = truncated
	for e, err := range newest {
		if err != nil {
			return data, err
		}
		rec := &e.Record
		if !rec.IsDecision() {
			// An operator's revocation: a line of the timeline, not a use.
			keep(use{row: rowOf(e.Index, rec), Event: string(rec.Event), RevocationID: rec.Revocation.ID,
				RevokedBy: rec.Revocation.Client, Reason: rec.Revocation.Reason})
			continue
		}
		data.Uses++
		latest = *rec
		n := nodeOf(nodes, rec.Origin)
		n.Count++
		at := rec.Time.UTC()
		if rec.Decision == "allow" {
			n.Allowed++
		}
		if n.First.IsZero() || at.Before(n.First) {
			n.First = at
		}
		if at.After(n.Last) {
			n.Last = at
		}
		for _, c := range rec.Reasons {
			if m, ok := anomalies[c.Code]; ok && !slices.Contains(n.Marks, m) {
				n.Anomalous, n.Marks = true, append(n.Marks, m)
			}
		}
		u := use{row: rowOf(e.Index, rec), Origin: originText(rec.Origin), RevocationID: rec.RevocationID,
			WasRevoked: rec.Credential.Reason == reason.Revoked, NewOrigin: !seen[rec.Origin]}
		seen[rec.Origin] = true
		keep(u)
	}
	for i := len(ring) - 1; i >= 0; i-- {
		data.Timeline = append(data.Timeline, ring[i])
	}
	data.Subject, data.Issuer = latest.Credential.Issuer.Subject, latest.Credential.Issuer.Issuer
	data.Binding, data.Mode = latest.Binding, string(latest.Mode)
	d.addHistory(ctx, &data, nodes)
	list := make([]originNode, 0, len(nodes))
	for _, n := range nodes {
		finish(n)
		list = append(list, *n)
	}
	slices.SortFunc(list, func(a, b originNode) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), a.First.Compare(b.First), cmp.Compare(a.Title, b.Title))
	})
	data.Graph = layoutGraph(short(fp), list)
	data.Revocation, err = d.revocationOf(ctx, fp, &latest)
	return data, err
}

// addHistory adds the origin store's history of the credential: its
// origins the index did not reach (the scan's bound) and their counts.
func (d *Dashboard) addHistory(ctx context.Context, data *credentialData, nodes map[evidence.Origin]*originNode) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h, err := d.app.Origins.Lookup(ctx, data.Fingerprint)
	if err != nil {
		data.HistoryErr = true
		return
	}
	data.History = h
	for _, s := range h.Origins {
		n := nodeOf(nodes, evidence.Origin(s.Origin))
		if s.Uses > n.Count {
			n.Count, n.Allowed = s.Uses, s.Allowed
		}
		if n.First.IsZero() || (!s.FirstSeen.IsZero() && s.FirstSeen.Before(n.First)) {
			n.First = s.FirstSeen.UTC()
		}
		if s.LastSeen.After(n.Last) {
			n.Last = s.LastSeen.UTC()
		}
	}
}

func nodeOf(nodes map[evidence.Origin]*originNode, o evidence.Origin) *originNode {
	n, ok := nodes[o]
	if !ok {
		n = &originNode{Origin: o}
		nodes[o] = n
	}
	return n
}

// finish names a node's kind and writes its label.
func finish(n *originNode) {
	o := n.Origin
	switch {
	case o.Workload != "":
		n.Kind = "workload"
	case o.ProxyChain != "":
		n.Kind = "proxy_chain"
	case o.Posture != "":
		n.Kind = "posture"
	default:
		n.Kind = "network"
	}
	n.Title = originText(o)
	for _, p := range originParts(o) {
		n.Lines = append(n.Lines, clip(p, 34))
	}
	uses := "1 use"
	if n.Count != 1 {
		uses = strconv.FormatInt(n.Count, 10) + " uses"
	}
	n.Lines = append(n.Lines, uses)
}

// originParts are an origin's parts, for people.
func originParts(o evidence.Origin) []string {
	var parts []string
	if o.Workload != "" {
		parts = append(parts, o.Workload)
	}
	if o.Network != "" {
		parts = append(parts, "network "+o.Network)
	} else {
		parts = append(parts, "network unknown")
	}
	if o.ProxyChain != "" {
		parts = append(parts, "via "+o.ProxyChain)
	}
	if o.Posture != "" {
		parts = append(parts, "posture "+o.Posture)
	}
	return parts
}

func originText(o evidence.Origin) string { return strings.Join(originParts(o), ", ") }

// revocationOf is the revocation in force against the credential, asked
// of the revocation store as a decision would ask it (with the last
// record's issuer, subject, token id and binding), or nil.
func (d *Dashboard) revocationOf(ctx context.Context, fp string, last *evidence.Record) (*revocation.Revocation, error) {
	q := revocation.Query{Fingerprint: fp, Issuer: last.Credential.Issuer.Issuer, Subject: last.Credential.Issuer.Subject,
		JTI: last.Credential.Issuer.JTI, Binding: last.Binding, IssuedAt: last.Credential.Issuer.IssuedAt.Time}
	return d.app.Revocations.Match(ctx, q)
}
