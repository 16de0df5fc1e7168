package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// Problem types (RFC 9457), documented in docs/api.md.
const (
	typeBase             = "https://github.com/provost-dev/provost/blob/main/docs/api.md#"
	typeInvalidField     = typeBase + "invalid-field"
	typeBodyTooLarge     = typeBase + "body-too-large"
	typeUnsupportedMedia = typeBase + "unsupported-media-type"
	typeMethodNotAllowed = typeBase + "method-not-allowed"
	typeNotFound         = typeBase + "not-found"
	typeInternal         = typeBase + "internal-error"
)

// Bounds of the field name and detail of a problem: both may echo the
// caller's input.
const (
	maxField  = 128
	maxDetail = 512
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// problem writes p as application/problem+json and notes it for the log.
func (s *Server) problem(w *reply, p problem) {
	p.RequestID = w.id
	p.Field = clip(p.Field, maxField)
	p.Detail = clip(p.Detail, maxDetail)
	body, _ := json.Marshal(p) // a struct of strings and an int: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
	w.attrs = append(w.attrs, slog.String("problem", strings.TrimPrefix(p.Type, typeBase)))
	if p.Field != "" {
		w.attrs = append(w.attrs, slog.String("field", p.Field))
	}
}

func (s *Server) methodNotAllowed(w *reply, allow string) {
	w.Header().Set("Allow", allow)
	s.problem(w, problem{Type: typeMethodNotAllowed, Title: "Method Not Allowed", Status: http.StatusMethodNotAllowed,
		Detail: "this endpoint takes " + allow})
}

// clip makes s valid UTF-8 of at most about n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:n], "\uFFFD") + "..."
}
