package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The dashboard reads three things a browser (or anyone) sends: the
// session cookie, the decision filters of a query string, and the
// headers that say where a state-changing request comes from. Each has a
// fuzz target (docs/testing.md, Fuzzing).

// FuzzSessionOpen: no cookie value panics open, and only a value whose
// MAC this key made over its payload opens, as the role and name it was
// issued with (the seeds are cookies issued to alice as admin and bob as
// read-only: a fuzzer without the key cannot make another name or role).
// The key is fixed so that cookies made in one fuzz worker open in another.
func FuzzSessionOpen(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	tokenHash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	s := newSessions([]byte("0123456789abcdef0123456789abcdef"),
		map[role][]byte{roleAdmin: tokenHash("admin token"), roleReadonly: tokenHash("read-only token")},
		func() time.Time { return now })
	issuedAs := map[string]role{"alice": roleAdmin, "bob": roleReadonly}
	for name, r := range issuedAs {
		v, _ := s.issue(r, name)
		f.Add(v)
		f.Add(v + "A")
		f.Add(strings.Replace(v, ".", "..", 1))
		f.Add(strings.Replace(v, "LCJuYW1l", "LCJuYW1m", 1))
	}
	f.Add("")
	f.Add(".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"role":"admin","name":"x","sid":"a","csrf":"b","exp":1800000001}`)) + ".")
	f.Add(strings.Repeat("A", maxCookieBytes+1))
	f.Fuzz(func(t *testing.T, v string) {
		u, ok := s.open(v)
		if !ok {
			if u != nil {
				t.Fatalf("open(%q) refused but returned a user %+v", v, u)
			}
			return
		}
		p, m, _ := strings.Cut(v, ".")
		pb, err1 := base64.RawURLEncoding.DecodeString(p)
		mb, err2 := base64.RawURLEncoding.DecodeString(m)
		if err1 != nil || err2 != nil || !bytes.Equal(mb, s.sign(u.Role, pb)) {
			t.Fatalf("open(%q) admitted a cookie without this key's MAC: %+v", v, u)
		}
		if r, known := issuedAs[u.Name]; !known || r != u.Role || u.CSRF == "" {
			t.Fatalf("open(%q) admitted %q as %q, never issued", v, u.Name, u.Role)
		}
	})
}

// FuzzParseFilter: any query values either give an error or a filter
// whose Query() reads back as the same filter, so a link the page prints
// selects what was asked and nothing else.
func FuzzParseFilter(f *testing.F) {
	f.Add("deny", "ci-deploy", "copied_credential")
	f.Add("", "", "")
	f.Add("allow", "a&reason=x", "b c")
	f.Add("step_up", strings.Repeat("b", maxFilterBytes+1), "")
	f.Add("DENY", "", "")
	f.Fuzz(func(t *testing.T, outcome, binding, reasonCode string) {
		q := url.Values{"outcome": {outcome}, "binding": {binding}, "reason": {reasonCode}}
		fl, err := parseFilter(q.Get)
		if err != nil {
			return
		}
		if len(fl.Binding) > maxFilterBytes || len(fl.Reason) > maxFilterBytes {
			t.Fatalf("accepted a filter value over %d bytes", maxFilterBytes)
		}
		back, err := url.ParseQuery(strings.TrimPrefix(fl.Query(), "?"))
		if err != nil {
			t.Fatalf("Query() %q does not parse: %v", fl.Query(), err)
		}
		again, err := parseFilter(back.Get)
		if err != nil || again != fl {
			t.Fatalf("filter %+v printed as %q reads back as %+v, %v", fl, fl.Query(), again, err)
		}
	})
}

// FuzzSameOrigin: whatever Origin, Referer, Sec-Fetch-Site and Host a
// request carries, sameOrigin never panics, and it admits a request only
// when Sec-Fetch-Site does not say another site and an Origin or Referer
// it was given (other than Origin "null") names the request's own host.
func FuzzSameOrigin(f *testing.F) {
	f.Add("provost.example:8443", "https://provost.example:8443", "", "same-origin")
	f.Add("provost.example", "https://evil.example", "", "")
	f.Add("provost.example", "null", "https://provost.example/ui/", "")
	f.Add("provost.example", "", "javascript://provost.example/", "cross-site")
	f.Add("Provost.Example", "HTTPS://provost.example", "", "none")
	f.Fuzz(func(t *testing.T, host, origin, referer, site string) {
		r := httptest.NewRequest("POST", "http://x/ui/credentials/fp1:x/revoke", nil)
		r.Host = host
		for k, v := range map[string]string{"Origin": origin, "Referer": referer, "Sec-Fetch-Site": site} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		if !sameOrigin(r) {
			return
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
			t.Fatalf("admitted Sec-Fetch-Site %q", s)
		}
		named := r.Header.Get("Origin")
		if named == "" || named == "null" {
			named = r.Header.Get("Referer")
		}
		if named == "" {
			return
		}
		u, err := url.Parse(named)
		if err != nil || !strings.EqualFold(u.Host, host) || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("admitted %q for host %q", named, host)
		}
		if bytes.ContainsAny([]byte(u.Host), "/?#") {
			t.Fatalf("admitted a host with a path in it: %q", u.Host)
		}
	})
}
