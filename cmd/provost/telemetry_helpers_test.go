package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/provosttest"
)

// collector is an OTLP/HTTP receiver: it decodes what exporters POST to
// /v1/traces and /v1/metrics (protobuf, gzip or not).
type collector struct {
	*httptest.Server
	mu      sync.Mutex
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricspb.ExportMetricsServiceRequest
	other   []string
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil && r.Header.Get("Content-Encoding") == "gzip" {
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
				body, err = io.ReadAll(zr)
			}
		}
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector: %s %s %s: %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		var answer proto.Message
		switch r.URL.Path {
		case "/v1/traces":
			req := &coltracepb.ExportTraceServiceRequest{}
			err, answer = proto.Unmarshal(body, req), &coltracepb.ExportTraceServiceResponse{}
			c.traces = append(c.traces, req)
		case "/v1/metrics":
			req := &colmetricspb.ExportMetricsServiceRequest{}
			err, answer = proto.Unmarshal(body, req), &colmetricspb.ExportMetricsServiceResponse{}
			c.metrics = append(c.metrics, req)
		default:
			c.other = append(c.other, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		if err != nil {
			t.Errorf("collector: %s: %v", r.URL.Path, err)
		}
		out, _ := proto.Marshal(answer)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

// received returns how many export requests arrived, of any kind.
func (c *collector) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.traces) + len(c.metrics) + len(c.other)
}

// otelVars are the OTEL_* variables the tests set or clear.
var otelVars = []string{
	"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
}

// setOTelEnv clears every OTEL_* variable of otelVars for the test and
// then sets env.
func setOTelEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range otelVars {
		t.Setenv(k, "")
		os.Unsetenv(k) // t.Setenv restores the old value at the end
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// telemetryWorld is a configuration for serve (with the admin API) and
// proxy, and a token its issuer signs.
type telemetryWorld struct {
	*provosttest.World
	adminToken string
	token      string
}

const twAdminToken = "admin-token-for-this-test-only-abcdef0123"

func newTelemetryWorld(t *testing.T, extra string) *telemetryWorld {
	t.Helper()
	w, err := provosttest.NewWorld(t.TempDir(), "https://api.test", []string{"127.0.0.1"}, demo.Bindings)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(w.ConfigFile(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, extra); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tok, err := w.Token("svc:reports", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &telemetryWorld{World: w, adminToken: twAdminToken, token: tok}
}

// runLogged is a long-running command (cmdServe, cmdProxy) run in the
// test process until stop, with every line of its standard error kept.
type runLogged struct {
	cancel context.CancelFunc
	code   chan int
	mu     sync.Mutex
	lines  []string
}

func startLogged(t *testing.T, cmd func(context.Context, []string, io.Writer, io.Writer) int, args ...string) *runLogged {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runLogged{cancel: cancel, code: make(chan int, 1)}
	pr, pw := io.Pipe()
	go func() {
		r.code <- cmd(ctx, args, io.Discard, pw)
		pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// waitAddr waits for a JSON line with msg and returns its addr.
func (r *runLogged) waitAddr(t *testing.T, msg string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range r.logged() {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
				if a, _ := m["addr"].(string); a != "" {
					return a
				}
			}
		}
		select {
		case c := <-r.code:
			r.code <- c
			t.Fatalf("exited %d before %q:\n%s", c, msg, strings.Join(r.logged(), "\n"))
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %q line:\n%s", msg, strings.Join(r.logged(), "\n"))
	return ""
}

func (r *runLogged) logged() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// stop cancels the command, waits for it to exit and returns its code.
func (r *runLogged) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case c := <-r.code:
		r.code <- c
		time.Sleep(50 * time.Millisecond) // the reader drains the pipe
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not stop")
		return -1
	}
}

// postCheck asks serve's check API about a GET /r?access_token=... from
// peer, with the token in the Authorization header too.
func postCheck(t *testing.T, addr, token, peer string) (requestID, decision string) {
	t.Helper()
	return postCheckTraced(t, addr, token, peer, "")
}

// postCheckTraced is postCheck with a W3C traceparent header when
// traceparent is not "".
func postCheckTraced(t *testing.T, addr, token, peer, traceparent string) (requestID, decision string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"method": "GET", "target": "/r?access_token=" + token,
		"authorization": "Bearer " + token, "peer": peer})
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/check?access_token="+token, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Decision  string `json:"decision"`
		RequestID string `json:"request_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("check API: %s %v", resp.Status, err)
	}
	return a.RequestID, a.Decision
}
