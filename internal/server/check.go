package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/provost-dev/provost/internal/telemetry"
	"go.opentelemetry.io/otel/propagation"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/checkreq"
	"github.com/provost-dev/provost/internal/telemetry/requestlog"
	"github.com/provost-dev/provost/internal/transport"
)

// check answers POST /v1/check.
func (s *Server) check(w *reply, r *http.Request) {
	if r.Method != http.MethodPost {
		s.methodNotAllowed(w, http.MethodPost)
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		w.Header().Set("Accept-Post", "application/json")
		s.problem(w, problem{Type: typeUnsupportedMedia, Title: "Unsupported Media Type", Status: http.StatusUnsupportedMediaType,
			Field: "Content-Type", Detail: "the body must be a JSON check request sent as Content-Type: application/json"})
		return
	}
	req, ok := s.readRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(transport.With(telemetry.RemoteParent(context.WithoutCancel(r.Context()), propagation.HeaderCarrier(r.Header)), transport.CheckAPI), s.decisionTimeout())
	defer cancel()
	d := s.decide(ctx, w, req)
	body, err := json.Marshal(answerOf(d, w.id))
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "encoding a decision failed", slog.String("request_id", w.id), slog.Any("error", err))
		s.problem(w, problem{Type: typeInternal, Title: "Internal Server Error", Status: http.StatusInternalServerError,
			Detail: "Provost could not encode its decision; the request is not allowed"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
}

// readRequest reads and decodes the body into the engine's request,
// answering a problem when it is too large or malformed.
func (s *Server) readRequest(w *reply, r *http.Request) (*provost.Request, bool) {
	limit := int64(s.cfg.MaxBodyBytes)
	if r.ContentLength > limit {
		s.tooLarge(w, limit)
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			s.tooLarge(w, limit)
		} else {
			s.problem(w, problem{Type: typeInvalidField, Title: "Bad Request", Status: http.StatusBadRequest,
				Field: "(body)", Detail: "the body could not be read"})
		}
		return nil, false
	}
	doc, err := checkreq.Decode(bytes.NewReader(data))
	var req *provost.Request
	if err == nil {
		req, err = doc.ToRequest() // Decode has checked what it parses
	}
	if err != nil {
		var fe *checkreq.FieldError
		if !errors.As(err, &fe) {
			fe = &checkreq.FieldError{Field: "(body)", Msg: err.Error()}
		}
		if fe.Field == "" {
			fe.Field = "(body)" // the document as a whole has the wrong type
		}
		if fe.Field == "(body)" && strings.HasPrefix(fe.Msg, "larger than") {
			s.tooLarge(w, limit)
			return nil, false
		}
		s.invalid(w, fe.Field, fe.Msg)
		return nil, false
	}
	if doc.At != nil {
		s.invalid(w, "at", "a server judges every request at its own clock; \"at\" is for the offline `provost check` only")
		return nil, false
	}
	return req, true
}

func (s *Server) invalid(w *reply, field, msg string) {
	s.problem(w, problem{Type: typeInvalidField, Title: "Bad Request", Status: http.StatusBadRequest,
		Field: field, Detail: field + ": " + msg})
}

func (s *Server) tooLarge(w *reply, limit int64) {
	s.problem(w, problem{Type: typeBodyTooLarge, Title: "Content Too Large", Status: http.StatusRequestEntityTooLarge,
		Field: "(body)", Detail: fmt.Sprintf("the body is larger than %d bytes (serve.max_body_bytes)", limit)})
}

// decisionTimeout bounds one decision: one second less than the write
// timeout, but at least half of it, so that a decision that runs out of
// time (an issuer that hangs, a slow store) is still answered with the
// fail-closed denial before the server's write deadline cuts the
// connection.
func (s *Server) decisionTimeout() time.Duration {
	wt := s.cfg.WriteTimeout.D()
	return max(wt-time.Second, wt/2)
}

// decide asks the engine. When one of Provost's own parts fails, the
// engine's decision is a denial (fail closed): it is answered as is and the
// error is logged.
func (s *Server) decide(ctx context.Context, w *reply, req *provost.Request) *provost.Decision {
	req.ID = w.id // the evidence record names the request as the logs do
	d, err := provost.Judge(ctx, s.deps.Checker, req)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "decision failed closed", slog.String("request_id", w.id),
			slog.String("fingerprint", d.Credential.Fingerprint), slog.Any("error", err))
	}
	w.transport = string(transport.From(ctx))
	w.attrs = append(w.attrs, requestlog.Decision(d)...) // never the credential, only its fingerprint
	return d
}

// isJSON reports whether a Content-Type names JSON.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
