package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
)

// Bounds of the recent decisions: the rows shown, and the records read
// back from the log's end to find them.
const (
	recentRows = 100
	maxScan    = 10_000
	// receiptWait bounds how long a receipt waits for the log to sign a
	// checkpoint that covers its record.
	receiptWait = 8 * time.Second
)

// recent is the latest decisions a filter selects, newest first.
type recent struct {
	Rows    []row
	Scanned int64 // records read back from the end
	Size    int64 // the log's size
	Filter  filter
	// Bounded says the search stopped at maxScan records before the
	// start of the log.
	Bounded bool
	Skipped int64
}

// recentDecisions reads the log backwards from its end until it has want
// rows f selects or has read maxScan records.
func (d *Dashboard) recentDecisions(ctx context.Context, f filter, want int) (recent, error) {
	l := d.app.Evidence
	out := recent{Size: l.Size(), Filter: f}
	end := out.Size
	for end > 0 && len(out.Rows) < want {
		if out.Scanned >= maxScan {
			out.Bounded = true
			break
		}
		start := max(0, end-int64(evidencelog.MaxEntries), end-(maxScan-out.Scanned))
		raw, err := l.Entries(ctx, start, end)
		if err != nil {
			return out, err
		}
		if len(raw) == 0 {
			return out, errNoEntries
		}
		for i := len(raw) - 1; i >= 0 && len(out.Rows) < want; i-- {
			out.Scanned++
			rec, err := evidence.Unmarshal(raw[i])
			if err != nil {
				out.Skipped++
				continue
			}
			if !rec.IsDecision() {
				continue // an operator's revocation: on its credential's page
			}
			if r := rowOf(start+int64(i), &rec); f.match(&r) {
				out.Rows = append(out.Rows, r)
			}
		}
		end = start
	}
	return out, nil
}

// decisionsData is the decisions page's.
type decisionsData struct {
	recent
	Reasons []countRow // for the reason filter's choices
}

func (d *Dashboard) decisionsPage(w http.ResponseWriter, r *http.Request, u *user) {
	f, err := parseFilter(r.URL.Query().Get)
	if err != nil {
		d.fail(w, r, u, http.StatusBadRequest, "Bad filter", err.Error())
		return
	}
	rec, err := d.recentDecisions(r.Context(), f, recentRows)
	if err != nil {
		d.internal(w, r, u, "reading the evidence log", err)
		return
	}
	d.render(w, r, http.StatusOK, "decisions", "Live decisions", "decisions", u, decisionsData{recent: rec, Reasons: d.feed.topReasons()})
}

// apiDecisions answers the recent decisions as JSON.
func (d *Dashboard) apiDecisions(w http.ResponseWriter, r *http.Request, _ *user) {
	f, err := parseFilter(r.URL.Query().Get)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	rec, err := d.recentDecisions(r.Context(), f, recentRows)
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: reading the evidence log", "error", err)
		writeProblem(w, http.StatusInternalServerError, "Provost failed while reading the evidence log; see its log")
		return
	}
	if rec.Rows == nil {
		rec.Rows = []row{}
	}
	writeJSON(w, struct {
		Decisions []row `json:"decisions"`
		Scanned   int64 `json:"scanned"`
		LogSize   int64 `json:"log_size"`
		Bounded   bool  `json:"bounded"`
	}{rec.Rows, rec.Scanned, rec.Size, rec.Bounded})
}

// decisionData is one record's page: a decision's, or an operator's
// revocation's (Record.Event).
type decisionData struct {
	Row         row
	Record      evidence.Record
	JSON        string // the record, indented
	VerifierKey string
	LogName     string
}

// record reads record index of the log; ok is false when it has none.
func (d *Dashboard) record(ctx context.Context, p string) (int64, evidence.Record, bool, error) {
	idx, err := strconv.ParseInt(p, 10, 64)
	if err != nil || idx < 0 || idx >= d.app.Evidence.Size() {
		return 0, evidence.Record{}, false, nil
	}
	raw, err := d.app.Evidence.Entries(ctx, idx, idx+1)
	if err != nil {
		return 0, evidence.Record{}, false, err
	}
	if len(raw) != 1 {
		return 0, evidence.Record{}, false, nil
	}
	rec, err := evidence.Unmarshal(raw[0])
	if err != nil {
		return idx, rec, false, nil
	}
	return idx, rec, true, nil
}

func (d *Dashboard) decisionPage(w http.ResponseWriter, r *http.Request, u *user) {
	idx, rec, ok, err := d.record(r.Context(), r.PathValue("index"))
	if err != nil {
		d.internal(w, r, u, "reading the evidence log", err)
		return
	}
	if !ok {
		d.fail(w, r, u, http.StatusNotFound, "No such decision", "The evidence log holds no decision record at "+clip(r.PathValue("index"), 24)+".",
			link{"/ui/decisions", "Recent decisions"})
		return
	}
	js, _ := json.MarshalIndent(rec, "", "  ")
	l := d.app.Evidence
	data := decisionData{Row: rowOf(idx, &rec), Record: rec, JSON: string(js), VerifierKey: l.VerifierKey(), LogName: l.Name()}
	title := "Decision "
	if !rec.IsDecision() {
		title = "Revocation record "
	}
	d.render(w, r, http.StatusOK, "decision", title+strconv.FormatInt(idx, 10), "decisions", u, data)
}

// apiReceipt answers the receipt of record index, as a download: the
// format `provost receipt verify` checks offline.
func (d *Dashboard) apiReceipt(w http.ResponseWriter, r *http.Request, _ *user) {
	idx, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || idx < 0 || idx >= d.app.Evidence.Size() {
		writeProblem(w, http.StatusNotFound, "the evidence log holds no record at that index")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), receiptWait)
	defer cancel()
	extendWrite(w, receiptWait+5*time.Second)
	rc, err := d.app.Evidence.Receipt(ctx, idx)
	if errors.Is(err, context.DeadlineExceeded) {
		w.Header().Set("Retry-After", "5")
		writeProblem(w, http.StatusServiceUnavailable, "the log has not yet signed a checkpoint that covers this record; retry in a few seconds")
		return
	}
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: making a receipt", "index", idx, "error", err)
		writeProblem(w, http.StatusInternalServerError, "Provost failed while making the receipt; see its log")
		return
	}
	body, err := json.Marshal(rc)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "the receipt could not be encoded")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="receipt-`+strconv.FormatInt(idx, 10)+`.json"`)
	w.Write(append(body, '\n'))
}

// extendWrite moves the connection's write deadline to d from now, for an
// answer that may take longer than the listener's write timeout.
func extendWrite(w http.ResponseWriter, d time.Duration) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}
