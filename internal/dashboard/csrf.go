package dashboard

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBytes bounds a form body.
const maxFormBytes = 16 << 10

// csrfField and csrfHeader carry a POST's CSRF token: the form field, or
// the header for fetch.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// parseForm reads a bounded form body; false when it is too large or
// malformed.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm() == nil
}

// csrfOK reports whether a POST carries want, the user's CSRF token (in
// the form or the header, compared in constant time), and comes from this
// host.
func csrfOK(r *http.Request, want string) bool {
	got := r.PostForm.Get(csrfField)
	if h := r.Header.Get(csrfHeader); h != "" {
		got = h
	}
	if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return false
	}
	return sameOrigin(r)
}

// sameOrigin reports whether nothing the browser sent says the request
// comes from another site: an Origin or Referer naming another host, or a
// Sec-Fetch-Site other than same-origin. An Origin of "null" says nothing:
// browsers send it for every form POST of a page whose Referrer-Policy is
// no-referrer, as the dashboard's is; Sec-Fetch-Site still tells those.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return hostIs(o, r.Host)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return hostIs(ref, r.Host)
	}
	return true
}

func hostIs(raw, host string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
}
