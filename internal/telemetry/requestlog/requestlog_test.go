package requestlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/telemetry/requestlog"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// A line's attributes have the schema's names and types: latency in
// seconds as a number, reasons always an array, binding only when set.
func TestLineAndDecision(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       verdict.Decision
		reasons int
		binding bool
	}{
		{"allowed", verdict.Decision{Outcome: verdict.Allow, Binding: "reports"}, 0, true},
		{"denied twice", verdict.Decision{Outcome: verdict.Deny, Reasons: []verdict.Reason{{Code: reason.TokenMissing}, {Code: reason.InternalError}}}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			line := requestlog.Line{RequestID: "r1", Transport: "proxy", Method: "GET", Path: "/x", Status: 200, Latency: 1500 * time.Millisecond, Peer: "10.0.0.1:5"}
			log.LogAttrs(context.Background(), slog.LevelInfo, requestlog.Message, line.Attrs(requestlog.Decision(&tc.d)...)...)
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			reasons, isArray := m[requestlog.KeyReasons].([]any)
			_, hasBinding := m[requestlog.KeyBinding]
			if m[requestlog.KeyLatency] != 1.5 || m[requestlog.KeyRequestID] != "r1" || m[requestlog.KeyOutcome] != string(tc.d.Outcome) ||
				!isArray || len(reasons) != tc.reasons || hasBinding != tc.binding || m["msg"] != "request" {
				t.Errorf("line %s", buf.Bytes())
			}
		})
	}
}

// A caller's request id is kept when it is a short token, else replaced.
func TestIDOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"abc-1.2_3:4", true},
		{"", false},
		{"has space", false},
		{string(bytes.Repeat([]byte("a"), 65)), false},
		{string(bytes.Repeat([]byte("a"), 64)), true},
	} {
		got := requestlog.IDOf(tc.in)
		if (got == tc.in) != tc.keep || !requestlog.ValidID(got) {
			t.Errorf("IDOf(%q) = %q", tc.in, got)
		}
	}
	ctx := requestlog.WithID(context.Background(), "x1")
	if requestlog.IDFrom(ctx) != "x1" || requestlog.IDFrom(context.Background()) != "" {
		t.Error("IDFrom")
	}
}
