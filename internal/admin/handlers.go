package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/provost-dev/provost/internal/jsonerr"
	"github.com/provost-dev/provost/internal/revocation"
)

func (s *Server) listRevocations(w http.ResponseWriter, r *http.Request) {
	note(r)
	list, err := s.app.Revocations.List(r.Context())
	if err != nil {
		s.internal(w, r, "listing revocations", err)
		return
	}
	out := RevocationList{Revocations: make([]Revocation, 0, len(list))}
	for _, rev := range list {
		out.Revocations = append(out.Revocations, fromRevocation(rev))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createRevocation(w http.ResponseWriter, r *http.Request) {
	note(r)
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeProblem(w, r, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "the body must be application/json")
		return
	}
	var req CreateRequest
	if status, code, why := decodeStrict(r.Body, &req); status != 0 {
		writeProblem(w, r, status, code, why)
		return
	}
	c, _ := ClientFrom(r.Context())
	stored, err := Revoker{App: s.app, Log: s.log, Now: s.now}.Create(r.Context(), &req, c)
	var (
		invalid *InvalidError
		noRec   *EvidenceError
	)
	if errors.As(err, &invalid) {
		writeProblem(w, r, http.StatusBadRequest, CodeInvalid, invalid.Msg)
		return
	}
	if errors.As(err, &noRec) {
		// In force, but not recorded: an error, so the operator knows the
		// log lacks it, naming the revocation so it is not added twice.
		w.Header().Set("Location", "/v1/revocations/"+stored.ID)
		writeProblem(w, r, http.StatusInternalServerError, CodeEvidenceNotRecorded,
			"revocation "+stored.ID+" is in force, but its evidence record could not be written to the evidence log; see Provost's log")
		return
	}
	if err != nil {
		s.internal(w, r, "adding a revocation", err)
		return
	}
	w.Header().Set("Location", "/v1/revocations/"+stored.ID)
	writeJSON(w, http.StatusCreated, fromRevocation(stored))
}

func parseTime(field, v string) (time.Time, string) {
	if v == "" {
		return time.Time{}, ""
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, field + " is not an RFC 3339 time such as 2030-01-02T15:04:05Z"
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		// An evidence record holds years 1 to 9999 only.
		return time.Time{}, field + " is outside the years 1 to 9999"
	}
	return t, ""
}

// decodeStrict reads exactly one JSON object with known fields only. The
// problem it reports never repeats a value from the body, nor a member name
// that is not plainly a field name (jsonerr: a credential may be sent as
// one).
func decodeStrict(body io.Reader, v any) (status int, code, why string) {
	data, err := io.ReadAll(body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes)
		}
		return http.StatusBadRequest, CodeBadRequest, "the body could not be read"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			return http.StatusBadRequest, CodeBadRequest, "the body must hold one JSON object only"
		}
		return 0, "", ""
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return http.StatusBadRequest, CodeBadRequest, "the body is empty or cut short; want a JSON object"
	}
	e := jsonerr.Describe(err, data)
	switch {
	case e.Kind == jsonerr.Syntax:
		return http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("the body is not valid JSON (at byte %d)", e.Offset)
	case e.Kind == jsonerr.Type && e.Field == "":
		return http.StatusBadRequest, CodeBadRequest, "the body must be a JSON object, not a JSON " + e.JSONType
	case e.Kind == jsonerr.Type:
		return http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("field %s must be a %s", e.Field, e.GoType)
	case e.Kind == jsonerr.UnknownField && e.Named:
		return http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("unknown field %q", e.Field)
	case e.Kind == jsonerr.UnknownField:
		return http.StatusBadRequest, CodeBadRequest, "unknown field " + e.Field
	}
	return http.StatusBadRequest, CodeBadRequest, e.Msg
}

func (s *Server) deleteRevocation(w http.ResponseWriter, r *http.Request) {
	note(r)
	id := r.PathValue("id")
	if len(id) > 64 {
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, "no such revocation")
		return
	}
	err := s.app.Revocations.Remove(r.Context(), id)
	if errors.Is(err, revocation.ErrNotFound) {
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, "no revocation "+id)
		return
	}
	if err != nil {
		s.internal(w, r, "removing a revocation", err)
		return
	}
	c, _ := ClientFrom(r.Context())
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "revocation deleted", slog.String("revocation", id), slog.String("client", c.Name))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	note(r)
	c, _ := ClientFrom(r.Context())
	if err := s.app.Reload(r.Context()); err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "reload failed", slog.String("client", c.Name), slog.Any("error", err))
		writeProblem(w, r, http.StatusUnprocessableEntity, CodeReloadFailed, err.Error())
		return
	}
	digest := s.app.Policy().Digest()
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "configuration reloaded by admin", slog.String("client", c.Name), slog.String("bindings_digest", digest))
	writeJSON(w, http.StatusOK, ReloadResult{Status: "reloaded", BindingsDigest: digest})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	note(r)
	n, err := s.app.RevocationCount(r.Context())
	if err != nil {
		s.internal(w, r, "counting revocations", err)
		return
	}
	now := s.now()
	writeJSON(w, http.StatusOK, Status{
		Version: s.version, StartedAt: s.started.UTC(), UptimeSeconds: int64(now.Sub(s.started).Seconds()),
		Summary: s.app.Policy().Summary(), DataDir: s.app.Layout.Dir, Revocations: n, ReplayEntries: s.app.ReplayEntries(),
	})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	note(r)
	if s.metrics == nil {
		writeProblem(w, r, http.StatusNotFound, CodeNotFound, "metrics are not enabled")
		return
	}
	s.metrics.Handler().ServeHTTP(w, r)
}

// internal answers 500 for a failure of Provost's own stores; the detail
// stays in the log.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, doing string, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "admin request failed", slog.String("doing", doing), slog.Any("error", err))
	writeProblem(w, r, http.StatusInternalServerError, CodeInternal, "Provost failed while "+doing+"; see its log")
}
