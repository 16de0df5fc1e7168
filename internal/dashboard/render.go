package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "error", "overview", "decisions", "decision", "credential", "revoke", "log"}

// pages are the parsed page templates.
type pages struct {
	t map[string]*template.Template
}

var funcs = template.FuncMap{
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"join":  strings.Join,
	"short": short,
	"query": url.QueryEscape,
	"path":  url.PathEscape,
	"plural": func(n any, one, many string) string {
		if fmt.Sprint(n) == "1" {
			return one
		}
		return many
	},
	"pct": func(n, total int64) int64 {
		if total <= 0 {
			return 0
		}
		return n * 100 / total
	},
	"f1":          func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"outcomeWord": outcomeWord,
	"days": func(d time.Duration) string {
		if d%(24*time.Hour) == 0 {
			return fmt.Sprintf("%d days", d/(24*time.Hour))
		}
		return d.String()
	},
}

// outcomeWord is how a page says an outcome.
func outcomeWord(o string) string {
	switch o {
	case "allow":
		return "allowed"
	case "step_up":
		return "step-up"
	case "deny":
		return "denied"
	}
	return o
}

func loadPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// view is what the layout renders: the page's data inside.
type view struct {
	Title string
	Nav   string // the current section: overview, decisions, log
	User  *user
	CSRF  string
	Data  any
}

// render writes page name with data, status and the user's header.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, u *user, data any) {
	v := view{Title: title, Nav: nav, User: u, Data: data}
	if u != nil {
		v.CSRF = u.CSRF
	}
	d.renderView(w, r, status, name, v)
}

// renderView writes page name as v says; a template failure answers 500
// (the page is rendered in full first).
func (d *Dashboard) renderView(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := d.pages.t[name].Execute(&buf, v); err != nil {
		d.log.LogAttrs(r.Context(), slog.LevelError, "dashboard: rendering a page", slog.String("page", name), slog.Any("error", err))
		http.Error(w, "the dashboard failed to render this page; see the server's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorData is the error page's.
type errorData struct {
	Heading, Message string
	Links            []link
}

type link struct{ Href, Text string }

// fail answers an error page.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, u *user, status int, heading, msg string, links ...link) {
	d.render(w, r, status, "error", heading, "", u, errorData{Heading: heading, Message: msg, Links: links})
}

// internal answers 500 for a failure of Provost's own stores; the detail
// stays in the log.
func (d *Dashboard) internal(w http.ResponseWriter, r *http.Request, u *user, doing string, err error) {
	d.log.LogAttrs(r.Context(), slog.LevelError, "dashboard: request failed", slog.String("doing", doing), slog.Any("error", err))
	d.fail(w, r, u, http.StatusInternalServerError, "Provost failed", "Provost failed while "+doing+"; see its log.")
}

// serveStatic answers the embedded assets, without authentication.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
	ct, ok := types[path.Ext(name)]
	data, err := fs.ReadFile(staticFS, "static/"+name)
	if !ok || err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(data)
}
