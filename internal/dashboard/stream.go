package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
)

// Live stream timing and bounds.
const (
	keepAlive   = 15 * time.Second
	writeWindow = 30 * time.Second
	// maxReplay bounds the records a reconnecting stream is sent from
	// the log (after its Last-Event-ID).
	maxReplay = 500
)

// apiStream answers GET /ui/api/decisions/stream: server-sent events, one
// "decision" event per new evidence record the filter selects (its id the
// record's index), until the client goes, the server shuts down, or the
// stream falls too far behind (the browser then reconnects and is sent
// what it missed, up to maxReplay records).
func (d *Dashboard) apiStream(w http.ResponseWriter, r *http.Request, _ *user) {
	f, err := parseFilter(r.URL.Query().Get)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	if !d.streams.take() {
		w.Header().Set("Retry-After", "10")
		writeProblem(w, http.StatusServiceUnavailable, fmt.Sprintf("%d live streams are open already; retry later", maxStreams))
		return
	}
	defer d.streams.release()
	rc := http.NewResponseController(w)
	sub, from := d.feed.subscribe(f)
	defer d.feed.unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc.SetWriteDeadline(time.Now().Add(writeWindow))
	io.WriteString(w, "retry: 3000\n: provost decisions\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	if last, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		if !d.replay(r.Context(), w, rc, f, last+1, from) {
			return
		}
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		case <-sub.over:
			return
		case row := <-sub.ch:
			err = sendRow(w, rc, row)
		case <-tick.C:
			rc.SetWriteDeadline(time.Now().Add(writeWindow))
			_, err = io.WriteString(w, ": keep-alive\n\n")
			if err == nil {
				err = rc.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// replay sends the records [start, end) f selects from the log, at most
// maxReplay of the latest; false when the client is gone.
func (d *Dashboard) replay(ctx context.Context, w io.Writer, rc *http.ResponseController, f filter, start, end int64) bool {
	start = max(start, end-maxReplay, 0)
	for start < end {
		raw, err := d.app.Evidence.Entries(ctx, start, min(end, start+evidencelog.MaxEntries))
		if err != nil || len(raw) == 0 {
			return err == nil
		}
		for i, b := range raw {
			rec, err := evidence.Unmarshal(b)
			if err != nil || !rec.IsDecision() {
				continue
			}
			if r := rowOf(start+int64(i), &rec); f.match(&r) {
				if sendRow(w, rc, r) != nil {
					return false
				}
			}
		}
		start += int64(len(raw))
	}
	return true
}

// sendRow writes one decision event and flushes it.
func sendRow(w io.Writer, rc *http.ResponseController, r row) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	rc.SetWriteDeadline(time.Now().Add(writeWindow))
	if _, err := fmt.Fprintf(w, "id: %d\nevent: decision\ndata: %s\n\n", r.Index, data); err != nil {
		return err
	}
	return rc.Flush()
}
