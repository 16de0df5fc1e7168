package server

import (
	"net/http"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// TestRequestLogSettings: serve.request_log decides which requests get a
// line and at which level.
func TestRequestLogSettings(t *testing.T) {
	const n = 200
	cases := []struct {
		name     string
		rl       config.RequestLog
		min, max int // request lines expected out of n
		level    string
	}{
		{"default: every request at info", config.RequestLog{}, n, n, "INFO"},
		{"debug", config.RequestLog{Level: config.RequestLogDebug}, n, n, "DEBUG"},
		{"off", config.RequestLog{Level: config.RequestLogOff}, 0, 0, ""},
		// Binomial(200, 0.25): mean 50, sd ~6; the bounds are 5 sd away.
		{"a quarter sampled", config.RequestLog{Level: config.RequestLogInfo, Sample: 0.25}, 20, 80, "INFO"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newFixture(t)
			r := w.start(config.Serve{RequestLog: c.rl})
			for range n {
				resp, err := http.Get(r.url + "/v1/no-such-route")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d, want 404", resp.StatusCode)
				}
			}
			got := 0
			for _, l := range w.logs.lines(t) {
				if l["msg"] != "request" {
					continue
				}
				got++
				if l["level"] != c.level {
					t.Fatalf("level %v, want %s", l["level"], c.level)
				}
			}
			if got < c.min || got > c.max {
				t.Fatalf("%d request lines out of %d, want %d..%d", got, n, c.min, c.max)
			}
		})
	}
}
