package dashboard

import (
	"log/slog"
	"net/http"
)

// loginData is the login page's.
type loginData struct {
	Next    string
	Token   bool   // the form can admit someone
	Certs   bool   // client certificates are accepted
	Problem string // why the last attempt failed
}

// loginPage shows the token form, with a fresh pre-session CSRF token in
// a cookie and in the form.
func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	u, _ := d.auth.user(r)
	next := r.URL.Query().Get("next")
	if !safeNext(next) {
		next = PathRoot
	}
	d.showLogin(w, r, u, http.StatusOK, next, "")
}

func (d *Dashboard) showLogin(w http.ResponseWriter, r *http.Request, u *user, status int, next, problem string) {
	tok := randomText(32)
	setCookie(w, r, loginCookie, tok, loginTTL)
	v := view{Title: "Sign in", User: u, CSRF: tok}
	v.Data = loginData{Next: next, Token: d.auth.tokens(), Certs: d.auth.certs != nil, Problem: problem}
	d.renderView(w, r, status, "login", v)
}

// loginSubmit exchanges a token for a session: 303 to the page asked for.
// The form must carry the login cookie's CSRF token and come from this
// host (403), and an address that failed too often is refused (429)
// before its token is looked at.
func (d *Dashboard) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		d.fail(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read (at most 16 KiB).")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !csrfOK(r, c.Value) {
		d.fail(w, r, nil, http.StatusForbidden, "Forbidden", "The sign-in form expired or came from another site. Open the sign-in page again.",
			link{PathLogin, "Sign in"})
		return
	}
	next := r.PostForm.Get("next")
	if !safeNext(next) {
		next = PathRoot
	}
	addr := clientAddr(r.RemoteAddr)
	if d.logins.blocked(addr) {
		w.Header().Set("Retry-After", "60")
		d.showLogin(w, r, nil, http.StatusTooManyRequests, next, "Too many failed sign-ins from this address; wait a minute.")
		return
	}
	rl, ok := d.auth.login(r.PostForm.Get("token"))
	r.PostForm.Del("token")
	if !ok {
		d.logins.fail(addr)
		d.log.LogAttrs(r.Context(), slog.LevelWarn, "dashboard: sign-in refused", slog.String("peer", addr))
		d.showLogin(w, r, nil, http.StatusUnauthorized, next, "That token is not valid.")
		return
	}
	name := string(rl) + " token"
	value, cl := d.auth.sessions.issue(rl, name)
	setCookie(w, r, sessionCookie, value, sessionTTL)
	setCookie(w, r, loginCookie, "", -1)
	d.log.LogAttrs(r.Context(), slog.LevelInfo, "dashboard: signed in", slog.String("user", name), slog.String("role", string(rl)),
		slog.String("session", cl.ID[:8]), slog.String("peer", addr))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session (on every replica once it expires; at once on
// this one) and clears the cookie.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, u *user) {
	if u.session != nil {
		d.auth.sessions.end(u.session)
	}
	setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, PathLogin, http.StatusSeeOther)
}
