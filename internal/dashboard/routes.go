package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
)

// ContentSecurityPolicy is the policy of every /ui answer: same-origin
// script, style and connections only, no inline script or style, no
// framing, forms posting only here.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Paths.
const (
	PathRoot   = "/ui/"
	PathLogin  = "/ui/login"
	PathLogout = "/ui/logout"
)

// routes is every /ui route, behind the security headers.
func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, PathRoot, http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+PathLogin, d.loginPage)
	mux.HandleFunc("POST "+PathLogin, d.loginSubmit)
	mux.HandleFunc("GET /ui/static/{file}", serveStatic)
	mux.Handle("POST "+PathLogout, d.page(d.logout))
	mux.Handle("GET /ui/{$}", d.page(d.overviewPage))
	mux.Handle("GET /ui/decisions", d.page(d.decisionsPage))
	mux.Handle("GET /ui/decisions/{index}", d.page(d.decisionPage))
	mux.Handle("GET /ui/credentials/{fp}", d.page(d.credentialPage))
	mux.Handle("GET /ui/credentials/{fp}/revoke", d.page(d.revokePage))
	mux.Handle("POST /ui/credentials/{fp}/revoke", d.page(d.revokeSubmit))
	mux.Handle("GET /ui/log", d.page(d.logPage))
	mux.Handle("POST /ui/log/verify", d.page(d.verifySubmit))
	mux.Handle("GET /ui/api/decisions", d.api(d.apiDecisions))
	mux.Handle("GET /ui/api/decisions/stream", d.api(d.apiStream))
	mux.Handle("GET /ui/api/receipts/{index}", d.api(d.apiReceipt))
	mux.Handle("GET /ui/api/verify", d.api(d.apiVerify))
	mux.Handle("/ui/api/", d.api(func(w http.ResponseWriter, r *http.Request, _ *user) {
		writeProblem(w, http.StatusNotFound, "no such dashboard API: "+clip(r.URL.Path, 128))
	}))
	mux.Handle("/ui/", d.page(func(w http.ResponseWriter, r *http.Request, u *user) {
		d.fail(w, r, u, http.StatusNotFound, "Not found", "There is no dashboard page "+clip(r.URL.Path, 128)+".")
	}))
	return secure(mux)
}

// secure sets the headers every /ui answer carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// handlerFunc is a handler of an authenticated user.
type handlerFunc func(w http.ResponseWriter, r *http.Request, u *user)

// page admits a user to an HTML page: without a session or certificate it
// redirects to the login page; a POST must carry the user's CSRF token and
// come from this host, else 403.
func (d *Dashboard) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := d.auth.user(r)
		if !ok {
			target := PathLogin
			if r.Method == http.MethodGet && safeNext(r.URL.Path) {
				target += "?next=" + url.QueryEscape(r.URL.Path)
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if !parseForm(w, r) {
				d.fail(w, r, u, http.StatusBadRequest, "Bad request", "The form could not be read (at most 16 KiB).")
				return
			}
			if !csrfOK(r, u.CSRF) {
				d.fail(w, r, u, http.StatusForbidden, "Forbidden", "The form did not carry this session's CSRF token, or came from another site. Reload the page and try again.")
				return
			}
		}
		h(w, r, u)
	})
}

// api admits a user to the JSON API: 401 without a session or certificate.
func (d *Dashboard) api(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := d.auth.user(r)
		if !ok {
			writeProblem(w, http.StatusUnauthorized, "sign in at "+PathLogin+" or present an admin client certificate")
			return
		}
		h(w, r, u)
	})
}

// nextPath is what a login may return to: a dashboard page's path.
var nextPath = regexp.MustCompile(`^/ui/[A-Za-z0-9/_:.+=-]*$`)

func safeNext(p string) bool {
	return len(p) <= 512 && nextPath.MatchString(p) && !regexpDotDot.MatchString(p)
}

var regexpDotDot = regexp.MustCompile(`(^|/)\.\.?(/|$)|//`)

// problem is a JSON error of the dashboard's API.
type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{Status: status, Title: http.StatusText(status), Detail: detail})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
