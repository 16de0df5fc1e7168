package proxy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/telemetry/requestlog"
)

// Each proxied request has one id: the caller's X-Request-Id when it is a
// short token, else a fresh one. The client gets it back (allowed or
// refused), the upstream receives it, and the request's log line names it.
func TestRequestID(t *testing.T) {
	w := newFixture(t)
	eng := w.engine("proxy", proxyBindings)
	up := newUpstream(t, nil)
	logs := &logBuffer{}
	url := w.startProxy(eng, w.settings(up.URL, "", config.ClientAuthRequest), logs)
	client := w.svidClient("/payments/api")
	tok := w.MustToken("svc:payments", nil)
	for _, tc := range []struct {
		name, sent, token string
		status            int
		keep              bool
	}{
		{"allowed, caller's id kept", "trace-7.a_b:c", tok, http.StatusOK, true},
		{"allowed, fresh id", "", tok, http.StatusOK, false},
		{"caller's id with a space replaced", "has space", tok, http.StatusOK, false},
		{"denied, caller's id kept", "denied-1", "", http.StatusUnauthorized, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			hdr := map[string]string{}
			if tc.sent != "" {
				hdr[requestlog.HeaderRequestID] = tc.sent
			}
			resp, _ := get(t, client, url+"/v1/orders?id=1", tc.token, hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			ids := resp.Header.Values(requestlog.HeaderRequestID)
			if len(ids) != 1 || !requestlog.ValidID(ids[0]) || (ids[0] == tc.sent) != tc.keep {
				t.Fatalf("answered X-Request-Id %q (sent %q)", ids, tc.sent)
			}
			id := ids[0]
			if tc.status == http.StatusOK {
				if up.count() != before+1 || up.last().Header.Get(requestlog.HeaderRequestID) != id {
					t.Errorf("upstream got X-Request-Id %q, want %q", up.last().Header.Get(requestlog.HeaderRequestID), id)
				}
			} else if up.count() != before {
				t.Error("a denied request reached the upstream")
			}
			var line map[string]any
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			for sc.Scan() {
				var l map[string]any
				if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == requestlog.Message && l[requestlog.KeyRequestID] == id {
					line = l
				}
			}
			if line == nil || line[requestlog.KeyTransport] != "proxy" || line[requestlog.KeyStatus] != float64(tc.status) {
				t.Errorf("no request line for %s: %v\n%s", id, line, logs.String())
			}
		})
	}
}
