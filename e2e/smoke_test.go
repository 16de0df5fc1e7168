package e2e

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChromiumSmoke checks the browser machinery on a page of its own, as
// strict as the dashboard's (a Content-Security-Policy without inline or
// eval'd scripts): a form is filled and posted, the answer read, a cookie
// kept, and a screenshot taken.
func TestChromiumSmoke(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
		fmt.Fprint(w, `<!doctype html><title>smoke</title><form method="post" action="/hello">
<input name="token"><button type="submit">Sign in</button></form>`)
	})
	mux.HandleFunc("POST /hello", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "smoke", Value: "1", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/hi?name="+url.QueryEscape(r.PostForm.Get("token")), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /hi", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		c, err := r.Cookie("smoke")
		if err != nil {
			http.Error(w, "no cookie", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, `<!doctype html><p data-testid="greeting" data-cookie="%s">hello %s</p>`, c.Value, html.EscapeString(r.URL.Query().Get("name")))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := newBrowser(t, "smoke")
	b.open(srv.URL + "/form")
	b.do("signing in",
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "ada"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	)
	if !b.waitFor(`document.querySelector('[data-testid=greeting]')`, 10*time.Second) {
		t.Fatalf("no greeting after posting the form; at %s:\n%s", b.location(), clip(b.html(), 500))
	}
	if got, _ := b.text(`[data-testid=greeting]`); got != "hello ada" {
		t.Errorf("greeting %q, want %q", got, "hello ada")
	}
	var cookie string
	b.eval("reading an attribute", `document.querySelector('[data-testid=greeting]').dataset.cookie`, &cookie)
	if cookie != "1" {
		t.Errorf("the cookie did not come back: data-cookie %q", cookie)
	}
	if n := b.count(`[data-testid=greeting]`); n != 1 {
		t.Errorf("%d greetings, want 1", n)
	}
	if b.waitFor(`document.querySelector('[data-testid=nothing]')`, 300*time.Millisecond) {
		t.Error("waitFor found an element that is not there")
	}
	png, err := b.screenshot()
	if err != nil || len(png) < 100 || string(png[1:4]) != "PNG" {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
	resp, err := apiClient().Get(srv.URL + "/hi")
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("without the browser's cookie: %s, want 403", resp.Status)
		}
	}
}
