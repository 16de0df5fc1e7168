package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/evidencelog"
)

// Paths of the evidence log API, documented in docs/evidence.md.
const (
	PathLog                 = "/v1/log/"
	PathLogCheckpoint       = PathLog + "checkpoint"
	PathLogEntries          = PathLog + "entries"
	PathLogInclusionProof   = PathLog + "proof/inclusion"
	PathLogConsistencyProof = PathLog + "proof/consistency"
	PathLogReceipt          = PathLog + "receipt"
	PathLogKey              = PathLog + "key"
)

// checkpointReuse is how long a signed checkpoint is served again, even if
// the log grew: GET /v1/log/checkpoint signs at most once a second.
const checkpointReuse = time.Second

// receiptWait bounds how long GET /v1/log/receipt waits for the log to
// sign the checkpoint that covers a record (the log signs at most once per
// evidencelog.Options.CheckpointInterval); past it, or past half the
// server's write timeout, it answers 503 with Retry-After.
var receiptWait = 5 * time.Second

// maxParamLen bounds a numeric query parameter (int64 has 19 digits).
const maxParamLen = 19

// checkpointCache holds the checkpoint last served and when it was fetched.
type checkpointCache struct {
	mu   sync.Mutex
	note []byte
	at   time.Time
}

// logCheckpoint serves the latest signed checkpoint, reusing the one it
// served last when that is younger than checkpointReuse or the log did not
// grow since (the log itself signs only when it grew, and at most once per
// evidencelog.Options.CheckpointInterval).
func (s *Server) logCheckpoint(w *reply, r *http.Request, l evidencelog.Reader) {
	c := &s.ckpt
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.note == nil || now.Sub(c.at) >= checkpointReuse || now.Before(c.at) {
		signed, err := l.Checkpoint(r.Context())
		if err != nil {
			s.logFailure(w, err)
			return
		}
		c.note, c.at = signed, now
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(c.note)
}

type entriesReply struct {
	Start   int64    `json:"start"`
	Entries [][]byte `json:"entries"`
}

// logEntries serves records [start, end), at most evidencelog.MaxEntries and
// none past the log's size: a client pages on with start += len(entries).
func (s *Server) logEntries(w *reply, r *http.Request, l evidencelog.Reader) {
	start, end, ok := s.params(w, r, "start", "end")
	if !ok {
		return
	}
	if end <= start {
		s.badParam(w, "end", "must be greater than start")
		return
	}
	if size := l.Size(); start >= size {
		s.outOfRange(w, "start", fmt.Sprintf("record %d does not exist: the log has %d records", start, size))
		return
	}
	recs, err := l.Entries(r.Context(), start, end)
	if err != nil {
		s.logFailure(w, err)
		return
	}
	writeJSON(w, entriesReply{Start: start, Entries: recs})
}

// inclusionReply and consistencyReply are the proof answers
// (docs/openapi.yaml); every member is present, a 0 included.
type inclusionReply struct {
	Index int64       `json:"index"`
	Size  int64       `json:"size"`
	Proof []tlog.Hash `json:"proof"`
}

type consistencyReply struct {
	Old   int64       `json:"old"`
	New   int64       `json:"new"`
	Proof []tlog.Hash `json:"proof"`
}

// logInclusion serves the inclusion proof of record index in the tree of size.
func (s *Server) logInclusion(w *reply, r *http.Request, l evidencelog.Reader) {
	index, size, ok := s.params(w, r, "index", "size")
	if !ok {
		return
	}
	if index >= size {
		s.badParam(w, "index", "must be less than size")
		return
	}
	if n := l.Size(); size > n {
		s.outOfRange(w, "size", fmt.Sprintf("the log has %d records, fewer than size %d", n, size))
		return
	}
	p, err := l.InclusionProof(r.Context(), index, size)
	if err != nil {
		s.logFailure(w, err)
		return
	}
	writeJSON(w, inclusionReply{Index: index, Size: size, Proof: p})
}

// logConsistency serves the proof that the tree of size old is a prefix of
// the tree of size new.
func (s *Server) logConsistency(w *reply, r *http.Request, l evidencelog.Reader) {
	oldSize, newSize, ok := s.params(w, r, "old", "new")
	if !ok {
		return
	}
	if oldSize > newSize {
		s.badParam(w, "old", "must not be greater than new")
		return
	}
	if n := l.Size(); newSize > n {
		s.outOfRange(w, "new", fmt.Sprintf("the log has %d records, fewer than new %d", n, newSize))
		return
	}
	p, err := l.ConsistencyProof(r.Context(), oldSize, newSize)
	if err != nil {
		s.logFailure(w, err)
		return
	}
	writeJSON(w, consistencyReply{Old: oldSize, New: newSize, Proof: p})
}

// logReceipt serves the receipt of record index: the record, a signed
// checkpoint that includes it and the inclusion proof. The log signs at
// most once per interval: when no checkpoint covers the record yet, the
// request waits for the next signature up to receiptWait, then answers 503
// with Retry-After.
func (s *Server) logReceipt(w *reply, r *http.Request, l evidencelog.Reader) {
	index, _, ok := s.params(w, r, "index", "")
	if !ok {
		return
	}
	if n := l.Size(); index >= n {
		s.outOfRange(w, "index", fmt.Sprintf("record %d does not exist: the log has %d records", index, n))
		return
	}
	wait := receiptWait
	if wt := s.cfg.WriteTimeout.D(); wt > 0 {
		wait = min(wait, wt/2)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	rc, err := l.Receipt(ctx, index)
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		retry := time.Second
		if sw, ok := l.(interface{ SignWait() time.Duration }); ok {
			retry = max(retry, sw.SignWait())
		}
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10))
		s.problem(w, problem{Type: typeInternal, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "no signed checkpoint covers record " + strconv.FormatInt(index, 10) + " yet: retry after the next one is signed"})
		return
	}
	if err != nil {
		s.logFailure(w, err)
		return
	}
	writeJSON(w, rc)
}

// params reads the required non-negative integer query parameters a and b
// (b is skipped when ""), answering 400 naming the first bad one.
func (s *Server) params(w *reply, r *http.Request, a, b string) (int64, int64, bool) {
	q := r.URL.Query()
	var out [2]int64
	for i, name := range []string{a, b} {
		if name == "" {
			continue
		}
		v, err := parseParam(q[name])
		if err != nil {
			s.badParam(w, name, err.Error())
			return 0, 0, false
		}
		out[i] = v
	}
	return out[0], out[1], true
}

// parseParam reads one non-negative decimal integer given exactly once.
func parseParam(vs []string) (int64, error) {
	switch {
	case len(vs) == 0 || vs[0] == "":
		return 0, errors.New("is required")
	case len(vs) > 1:
		return 0, errors.New("is given more than once")
	case len(vs[0]) > maxParamLen:
		return 0, errors.New("is too long")
	}
	for i := 0; i < len(vs[0]); i++ {
		if c := vs[0][i]; c < '0' || c > '9' {
			return 0, errors.New("must be a non-negative decimal integer")
		}
	}
	v, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil {
		return 0, errors.New("must be a non-negative decimal integer")
	}
	return v, nil
}

func (s *Server) badParam(w *reply, name, detail string) {
	s.problem(w, problem{Type: typeInvalidField, Title: "Bad Request", Status: http.StatusBadRequest,
		Field: name, Detail: "query parameter " + name + " " + detail})
}

func (s *Server) outOfRange(w *reply, name, detail string) {
	s.problem(w, problem{Type: typeNotFound, Title: "Not Found", Status: http.StatusNotFound, Field: name, Detail: detail})
}

// logFailure answers an error of the evidence log: a range problem (the log
// changed under the request) is 404, anything else fails with 500 or 503.
func (s *Server) logFailure(w *reply, err error) {
	switch {
	case errors.Is(err, evidencelog.ErrOutOfRange):
		s.problem(w, problem{Type: typeNotFound, Title: "Not Found", Status: http.StatusNotFound, Detail: err.Error()})
	case errors.Is(err, evidencelog.ErrClosed), errors.Is(err, evidencelog.ErrReadOnly):
		s.problem(w, problem{Type: typeInternal, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the evidence log is not available"})
	default:
		s.problem(w, problem{Type: typeInternal, Title: "Internal Server Error", Status: http.StatusInternalServerError,
			Detail: "the evidence log failed"})
		w.attrs = append(w.attrs, slog.Any("error", err))
	}
}

func writeJSON(w *reply, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		panic(err) // our own types: cannot fail
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

func writeText(w *reply, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, s)
}
