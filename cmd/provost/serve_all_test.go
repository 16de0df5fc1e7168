package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/load"
	"github.com/provost-dev/provost/internal/provosttest"
)

// A fully configured `provost serve`: the check API, Envoy ext_authz over
// real gRPC and the admin API, all judging with one engine. A revocation
// made through the admin API is enforced on the next ext_authz check, and
// the decisions show in /metrics.
func TestServeEverything(t *testing.T) {
	dir := t.TempDir()
	w, err := provosttest.NewWorld(dir, "https://api.test", []string{"127.0.0.1"}, demo.Bindings)
	if err != nil {
		t.Fatal(err)
	}
	const adminToken = "admin-token-for-this-test-only-0123456789"
	sum := sha256.Sum256([]byte(adminToken))
	f, err := os.OpenFile(w.ConfigFile(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "grpc: {listen: 127.0.0.1:0}\nadmin: {listen: 127.0.0.1:0, token_sha256: "+hex.EncodeToString(sum[:])+"}\n")
	f.Close()

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- cmdServe(ctx, []string{"--config", w.ConfigFile(), "--listen", "127.0.0.1:0"}, io.Discard, pw)
		pw.Close()
	}()
	addrs := map[string]string{}
	sc := bufio.NewScanner(pr)
	deadline := time.After(15 * time.Second)
	for len(addrs) < 3 {
		line := make(chan bool, 1)
		go func() { line <- sc.Scan() }()
		select {
		case ok := <-line:
			if !ok {
				t.Fatalf("provost serve ended early: %d", <-done)
			}
			var m map[string]any
			json.Unmarshal(sc.Bytes(), &m)
			if msg, _ := m["msg"].(string); strings.HasSuffix(msg, "listening") {
				addrs[msg], _ = m["addr"].(string)
			}
		case <-deadline:
			t.Fatalf("listeners seen: %v", addrs)
		}
	}
	go io.Copy(io.Discard, pr)
	defer func() {
		cancel()
		if c := <-done; c != exitOK {
			t.Errorf("serve exited %d", c)
		}
	}()

	tok, _ := w.Token("svc:reports", time.Hour, nil)
	conn, err := load.DialLoopback(addrs["ext_authz listening"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authz := authv3.NewAuthorizationClient(conn)
	check := func() int32 {
		resp, err := authz.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: "10.40.2.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 1234}}}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/r",
				Headers: map[string]string{"authorization": "Bearer " + tok}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus().GetCode()
	}
	if c := check(); c != 0 {
		t.Fatalf("ext_authz before revocation: code %d", c)
	}

	admin := "http://" + addrs["admin listening"]
	req, _ := http.NewRequest(http.MethodPost, admin+"/v1/revocations", strings.NewReader(`{"kind":"subject","value":"svc:reports","reason":"test"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("revoke through the admin API: %v %v", resp, err)
	}
	resp.Body.Close()
	if c := check(); c == 0 {
		t.Fatal("the revocation made through the admin API was not enforced")
	}

	unauth, err := http.Get(admin + "/metrics")
	if err != nil || unauth.StatusCode != http.StatusUnauthorized {
		t.Fatalf("metrics without the admin token: %v %v", unauth, err)
	}
	req, _ = http.NewRequest(http.MethodGet, admin+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`provost_decisions_total{outcome="allow",transport="ext_authz"} 1`, `provost_decisions_total{outcome="deny",transport="ext_authz"} 1`, "provost_decision_duration_seconds",
		`provost_cache_lookups_total{cache="origin_history",result="hit"}`, `provost_cache_lookups_total{cache="origin_history",result="miss"} 1`, "provost_evidence_durable 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, err := http.Get("http://" + addrs["listening"] + "/healthz"); err != nil {
		t.Error(err)
	}
}
