package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/revocation"
)

// revokeData is the confirmation page's.
type revokeData struct {
	Fingerprint string
	Subject     string
	Binding     string
	Uses        int64
	Revocation  *revocation.Revocation
	Problem     string
	Reason      string
}

// revokePage asks an admin to confirm a revocation; read-only users get
// 403.
func (d *Dashboard) revokePage(w http.ResponseWriter, r *http.Request, u *user) {
	if !u.Admin() {
		d.readonly(w, r, u)
		return
	}
	fp, ok := d.resolve(w, r, u)
	if !ok {
		return
	}
	d.showRevoke(w, r, u, http.StatusOK, fp, "", "")
}

func (d *Dashboard) showRevoke(w http.ResponseWriter, r *http.Request, u *user, status int, fp, reasonText, problem string) {
	c, err := d.credential(r.Context(), fp)
	if err != nil {
		d.internal(w, r, u, "reading the credential's records", err)
		return
	}
	data := revokeData{Fingerprint: fp, Subject: c.Subject, Binding: c.Binding, Uses: c.Uses, Revocation: c.Revocation,
		Problem: problem, Reason: reasonText}
	d.render(w, r, status, "revoke", "Revoke "+short(fp), "", u, data)
}

// revokeSubmit revokes the credential by fingerprint through the admin
// API's code path (admin.Revoker: validated, stored, audited and recorded
// as evidence with this user as the client) and sends the browser back to
// the credential page.
// Only admins may (403); the CSRF token was checked by page.
func (d *Dashboard) revokeSubmit(w http.ResponseWriter, r *http.Request, u *user) {
	if !u.Admin() {
		d.readonly(w, r, u)
		return
	}
	fp, ok := d.resolve(w, r, u)
	if !ok {
		return
	}
	why := strings.TrimSpace(r.PostForm.Get("reason"))
	if why == "" {
		why = "revoked in the dashboard"
	}
	req := admin.CreateRequest{Kind: string(revocation.KindFingerprint), Value: fp, Reason: why}
	stored, err := d.revoker.Create(r.Context(), &req, admin.Client{Name: "dashboard: " + u.Name, Method: "ui-" + u.Method})
	var (
		invalid *admin.InvalidError
		noRec   *admin.EvidenceError
	)
	if errors.As(err, &invalid) {
		d.showRevoke(w, r, u, http.StatusBadRequest, fp, why, invalid.Msg)
		return
	}
	if errors.As(err, &noRec) {
		d.fail(w, r, u, http.StatusInternalServerError, "Revoked, but not recorded as evidence",
			"Revocation "+stored.ID+" is in force from the next decision on, but its evidence record could not be written to the evidence log; see Provost's log. Do not revoke again.",
			link{"/ui/credentials/" + fp, "Back to the credential"})
		return
	}
	if err != nil {
		d.internal(w, r, u, "adding a revocation", err)
		return
	}
	http.Redirect(w, r, "/ui/credentials/"+fp+"?revoked="+url.QueryEscape(stored.ID), http.StatusSeeOther)
}

// readonly answers 403 to a read-only user asking to change something.
func (d *Dashboard) readonly(w http.ResponseWriter, r *http.Request, u *user) {
	d.fail(w, r, u, http.StatusForbidden, "Forbidden", "Signed in with the read-only role: only an admin may revoke.")
}
