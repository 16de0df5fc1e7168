package dashboard

import (
	"context"
	"net/http"
	"time"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// logData is the log status page's.
type logData struct {
	Name          string
	Size          int64
	VerifierKey   string
	Checkpoint    string // the signed note
	Parsed        evidencelog.Checkpoint
	CheckpointErr string
	Durable       bool
	Verify        verifyState
	Index         indexStatus
	Feed          feedStatus
}

func (d *Dashboard) logPage(w http.ResponseWriter, r *http.Request, u *user) {
	l := d.app.Evidence
	data := logData{Name: l.Name(), Size: l.Size(), VerifierKey: l.VerifierKey(), Durable: l.Durable(),
		Verify: d.verify.state(), Index: d.index.status(), Feed: d.feed.status()}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	signed, err := l.Checkpoint(ctx)
	if err == nil {
		data.Checkpoint = string(signed)
		data.Parsed, err = evidencelog.OpenCheckpoint(signed, l.VerifierKey())
	}
	if err != nil {
		data.CheckpointErr = err.Error()
	}
	d.render(w, r, http.StatusOK, "log", "Evidence log", "log", u, data)
}

// verifySubmit starts verifying the log (unless a verification runs) and
// sends the browser back to the log page, which shows its progress.
func (d *Dashboard) verifySubmit(w http.ResponseWriter, r *http.Request, u *user) {
	d.verify.start(d.ctx, d.app.Evidence, u.Name, d.now)
	http.Redirect(w, r, "/ui/log", http.StatusSeeOther)
}

// apiVerify answers the verification's progress and result.
func (d *Dashboard) apiVerify(w http.ResponseWriter, _ *http.Request, _ *user) {
	writeJSON(w, d.verify.state())
}
