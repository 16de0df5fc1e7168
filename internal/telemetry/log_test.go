package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/telemetry"
)

// Both formats redact secret-named attributes and add the context's
// request id once, even when the record names it already.
func TestLoggerFormats(t *testing.T) {
	for _, tc := range []struct {
		format       string
		firstByte    byte
		id, redacted string
	}{
		{"json", '{', `"request_id":"req-7"`, `"token":"[redacted]"`},
		{"text", 't', "request_id=req-7", "token=[redacted]"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			f, err := telemetry.ParseLogFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := telemetry.NewLoggerFormat(&buf, f, nil)
			ctx := telemetry.WithRequestID(context.Background(), "req-7")
			log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("token", "s3cr3t-value"), slog.String("status", "ok"))
			log.LogAttrs(ctx, slog.LevelInfo, "request", telemetry.RequestID("req-7"))
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("%d lines: %s", len(lines), buf.String())
			}
			for _, l := range lines {
				if l[0] != tc.firstByte || strings.Count(l, tc.id) != 1 {
					t.Errorf("line %q: want one %s", l, tc.id)
				}
			}
			if !strings.Contains(lines[0], tc.redacted) || strings.Contains(buf.String(), "s3cr3t-value") {
				t.Errorf("not redacted: %s", lines[0])
			}
			if tc.format == "json" {
				var m map[string]any
				if err := json.Unmarshal([]byte(lines[1]), &m); err != nil || m["request_id"] != "req-7" {
					t.Errorf("line %s: %v", lines[1], err)
				}
			}
		})
	}
	for _, bad := range []string{"", "JSON", "logfmt"} {
		if _, err := telemetry.ParseLogFormat(bad); err == nil {
			t.Errorf("ParseLogFormat(%q) accepted", bad)
		}
	}
}
