package telemetry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/telemetry"
)

// provost_backend_up says which shared backend answers; with the embedded
// stores there is none to report.
func TestBackendUpGauge(t *testing.T) {
	up := map[string]bool{"postgresql": true, "redis": false}
	out := scrape(t, telemetry.NewMetrics(telemetry.Sources{Backends: func(context.Context) map[string]bool { return up }}))
	for _, want := range []string{`provost_backend_up{backend="postgresql"} 1`, `provost_backend_up{backend="redis"} 0`} {
		if !strings.Contains(out, want) {
			t.Errorf("the scrape lacks %s:\n%s", want, out)
		}
	}
	out = scrape(t, telemetry.NewMetrics(telemetry.Sources{Backends: func(context.Context) map[string]bool { return nil }}))
	if strings.Contains(out, "provost_backend_up{") {
		t.Errorf("embedded stores report a backend:\n%s", out)
	}
}
