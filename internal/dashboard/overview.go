package dashboard

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/provost-dev/provost/internal/origin"
)

// maxMonitorShown bounds the monitor and learn-mode bindings the overview
// lists.
const maxMonitorShown = 100

// learnedSince is how far back the overview counts the origins a
// learn-mode binding learned (as `provost bindings propose` does).
const learnedSince = 720 * time.Hour

// overviewData is the overview page's.
type overviewData struct {
	Feed    feedStatus
	Summary overview
	Chart   chart
	// MonitorMore counts the monitor and learn-mode bindings not listed.
	MonitorMore int
	Mode        string
}

// snapshot copies the aggregate for the overview.
func (f *feed) overview(now time.Time, dormancy time.Duration) (overview, feedStatus) {
	st := f.status()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.agg.snapshot(now, dormancy), st
}

// topReasons are the most frequent reason codes, for the decisions
// page's filter.
func (f *feed) topReasons() []countRow {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]countRow, 0, len(f.agg.reasons))
	for code, n := range f.agg.reasons {
		out = append(out, countRow{code, n})
	}
	slices.SortFunc(out, func(x, y countRow) int { return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Name, y.Name)) })
	return out[:min(len(out), 50)]
}

func (d *Dashboard) overviewPage(w http.ResponseWriter, r *http.Request, u *user) {
	now := d.now()
	o, st := d.feed.overview(now, origin.DefaultDormancy)
	data := overviewData{Feed: st, Summary: o, Chart: decisionsChart(o.Hours), Mode: d.app.Policy().Summary().Mode}
	if n := len(o.Monitor); n > maxMonitorShown {
		data.MonitorMore, data.Summary.Monitor = n-maxMonitorShown, o.Monitor[:maxMonitorShown]
	}
	for i := range data.Summary.Monitor {
		b := &data.Summary.Monitor[i]
		if b.Mode == "learn" {
			b.LearnedOrigins, b.LearnedKnown = d.learned(r.Context(), b.Name, now)
		}
	}
	d.render(w, r, http.StatusOK, "overview", "Overview", "overview", u, data)
}

// learned counts the origins the origin store learned for a learn-mode
// binding in the last learnedSince; false when the store cannot say.
func (d *Dashboard) learned(ctx context.Context, binding string, now time.Time) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	seen, err := d.app.Origins.Learned(ctx, binding, now.Add(-learnedSince))
	if err != nil {
		return 0, false
	}
	return len(seen), true
}
