package extauthz

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/decision"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

const loopbackGRPC = "grpc:\n  listen: 127.0.0.1:0\n"

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// The same request judged through ext_authz over a real gRPC connection
// and by Engine.Check directly gets the same decision. Each side presents
// its own freshly issued token, so origin history links nothing.
func TestSameDecisionAsEngine(t *testing.T) {
	w, a := open(t, loopbackGRPC)
	client := serve(t, a)
	payments, _ := svid(w, "/payments/api")
	other, _ := svid(w, "/batch/export")
	bearer := func(sub string, age time.Duration) func() map[string]string {
		return func() map[string]string { return map[string]string{"authorization": "Bearer " + token(w, sub, age)} }
	}
	cases := []struct {
		name       string
		req        envoyReq
		headers    func() map[string]string
		extra      map[string]string
		raw        bool
		want       decision.Outcome
		status     int
		rpc        codes.Code
		wantReason reason.Code
		workload   string
	}{
		{name: "allow: approved workload from the datacenter", req: envoyReq{src: "10.40.1.5", chain: payments},
			headers: bearer("svc:payments", 0), want: verdict.Allow, status: 200, rpc: codes.OK, workload: "spiffe://acme.test/payments/api"},
		{name: "allow, headers as header_map (encode_raw_headers)", req: envoyReq{src: "10.40.1.5", chain: payments, raw: true},
			headers: bearer("svc:payments", 0), want: verdict.Allow, status: 200, rpc: codes.OK, workload: "spiffe://acme.test/payments/api"},
		{name: "provenance deny: workload not approved", req: envoyReq{src: "10.40.1.5", chain: other},
			headers: bearer("svc:payments", 0), want: verdict.Deny, status: 403, rpc: codes.PermissionDenied, wantReason: reason.WorkloadNotApproved, workload: "spiffe://acme.test/batch/export"},
		{name: "provenance deny: outside the datacenter", req: envoyReq{src: "198.51.100.7", chain: payments},
			headers: bearer("svc:payments", 0), want: verdict.Deny, status: 403, rpc: codes.PermissionDenied, wantReason: reason.NetworkNotApproved, workload: "spiffe://acme.test/payments/api"},
		{name: "rejected: expired token", req: envoyReq{src: "10.40.1.5", chain: payments},
			headers: bearer("svc:payments", 3*time.Hour), want: verdict.Deny, status: 401, rpc: codes.Unauthenticated, wantReason: reason.Expired, workload: "spiffe://acme.test/payments/api"},
		{name: "rejected: no credential", req: envoyReq{src: "10.40.1.5"},
			headers: func() map[string]string { return nil }, want: verdict.Deny, status: 401, rpc: codes.Unauthenticated, wantReason: reason.TokenMissing},
		{name: "step_up: vendor outside the partner network", req: envoyReq{src: "203.0.113.9"},
			headers: bearer("vendor:sync", 0), want: verdict.StepUp, status: 401, rpc: codes.Unauthenticated, wantReason: reason.NetworkNotApproved},
		{name: "trusted proxy: its XFF and XFCC are believed", req: envoyReq{src: proxyAddr},
			headers: bearer("svc:payments", 0), extra: map[string]string{"x-forwarded-for": "10.40.1.5", "x-forwarded-client-cert": xfcc(payments, "spiffe://acme.test/payments/api")},
			want: verdict.Allow, status: 200, rpc: codes.OK, workload: "spiffe://acme.test/payments/api"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			direct, viaEnvoy := c.req, c.req
			direct.headers, viaEnvoy.headers = merge(c.headers(), c.extra), merge(c.headers(), c.extra)
			want, err := a.Engine.Check(context.Background(), direct.direct())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Check(context.Background(), viaEnvoy.check())
			if err != nil {
				t.Fatalf("Check RPC: %v", err)
			}
			if want.Outcome != c.want {
				t.Fatalf("engine decided %s (%v), the test expects %s", want.Outcome, want.Codes(), c.want)
			}
			sameDecision(t, resp, want)
			if got := codes.Code(resp.GetStatus().GetCode()); got != c.rpc {
				t.Errorf("rpc status = %s, want %s", got, c.rpc)
			}
			if got := httpStatus(resp); got != c.status {
				t.Errorf("http status = %d, want %d", got, c.status)
			}
			if c.wantReason != "" && !slices.Contains(want.Codes(), c.wantReason) {
				t.Errorf("reasons %v lack %s", want.Codes(), c.wantReason)
			}
			if got := meta(resp, "workload"); got != c.workload {
				t.Errorf("workload = %q, want %q", got, c.workload)
			}
		})
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func httpStatus(resp *authv3.CheckResponse) int {
	if resp.GetOkResponse() != nil {
		return http.StatusOK
	}
	return int(resp.GetDeniedResponse().GetStatus().GetCode())
}

// sameDecision compares an ext_authz answer with the engine's decision and
// with the headers internal/answer renders for it.
func sameDecision(t *testing.T, resp *authv3.CheckResponse, d *provost.Decision) {
	t.Helper()
	reasons := make([]string, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		reasons = append(reasons, string(r.Code))
	}
	for k, want := range map[string]string{
		"decision": string(d.Outcome), "reasons": strings.Join(reasons, ","),
		"credential": string(d.Credential.Verdict), "provenance": string(d.Provenance),
		"workload": d.Signals.Workload.ID, "binding": d.Binding,
	} {
		if got := meta(resp, k); got != want {
			t.Errorf("metadata %s = %q, engine says %q", k, got, want)
		}
	}
	if got, want := httpStatus(resp), answer.Status(d); got != want {
		t.Errorf("http status = %d, answer.Status = %d", got, want)
	}
	if (resp.GetStatus().GetCode() == int32(codes.OK)) != (d.Outcome == verdict.Allow) {
		t.Errorf("rpc status %d for decision %s", resp.GetStatus().GetCode(), d.Outcome)
	}
	h := http.Header{}
	answer.Headers(h, d)
	got := headersOf(resp)
	for k := range h {
		lk := strings.ToLower(k)
		if k == answer.HeaderFingerprint { // each side presented its own token
			if !strings.HasPrefix(got[lk], "fp1:") {
				t.Errorf("fingerprint header = %q", got[lk])
			}
			continue
		}
		if k == answer.HeaderEvidence { // each decision has its own record
			if idx, _, ok := strings.Cut(got[lk], " "); !ok || idx == "" {
				t.Errorf("evidence header = %q", got[lk])
			}
			continue
		}
		if got[lk] != h.Get(k) {
			t.Errorf("header %s = %q, answer renders %q", lk, got[lk], h.Get(k))
		}
	}
	if len(got) != len(h) {
		t.Errorf("headers %v, answer renders %v", got, h)
	}
}

// A client that types x-forwarded-client-cert and x-forwarded-for at Envoy
// while its own address is not a trusted proxy gains nothing: the decision
// and workload are those of the same request without the headers. From the
// trusted proxy the same headers do count (TestSameDecisionAsEngine).
func TestForgedForwardedHeadersGainNothing(t *testing.T) {
	w, a := open(t, loopbackGRPC)
	client := serve(t, a)
	payments, _ := svid(w, "/payments/api")
	forged := map[string]string{
		"x-forwarded-client-cert": xfcc(payments, "spiffe://acme.test/payments/api"),
		"x-forwarded-for":         "10.40.1.5",
		"forwarded":               "for=10.40.1.5",
		"client-cert":             ":" + "AAAA" + ":",
	}
	for _, sub := range []string{"svc:payments", "svc:reports"} {
		t.Run(sub, func(t *testing.T) {
			plain := envoyReq{src: "203.0.113.9", headers: map[string]string{"authorization": "Bearer " + token(w, sub, 0)}}
			withForged := envoyReq{src: "203.0.113.9", headers: merge(forged, map[string]string{"authorization": "Bearer " + token(w, sub, 0)})}
			a, err := client.Check(context.Background(), plain.check())
			if err != nil {
				t.Fatal(err)
			}
			b, err := client.Check(context.Background(), withForged.check())
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"decision", "reasons", "provenance", "workload", "client"} {
				if meta(a, k) != meta(b, k) {
					t.Errorf("%s: %q without the forged headers, %q with them", k, meta(a, k), meta(b, k))
				}
			}
			if meta(b, "decision") != "deny" || meta(b, "workload") != "" || meta(b, "client") != "203.0.113.9" {
				t.Errorf("forged headers: decision %q workload %q client %q", meta(b, "decision"), meta(b, "workload"), meta(b, "client"))
			}
			if b.GetOkResponse() != nil {
				t.Error("forged headers were allowed")
			}
		})
	}
}

// An allow sets the identity headers for the upstream, overwriting what the
// client typed, and removes every other X-Provost-* header the client sent.
func TestIdentityHeaders(t *testing.T) {
	w, a := open(t, loopbackGRPC)
	client := serve(t, a)
	payments, _ := svid(w, "/payments/api")
	typed := map[string]string{
		"x-provost-workload": "spiffe://acme.test/admin", "x-provost-decision": "allow",
		"x-provost-admin": "true", "x-provost-binding": "root",
	}
	t.Run("with workload", func(t *testing.T) {
		req := envoyReq{src: "10.40.1.5", chain: payments, headers: merge(typed, map[string]string{"authorization": "Bearer " + token(w, "svc:payments", 0)})}
		resp, err := client.Check(context.Background(), req.check())
		if err != nil {
			t.Fatal(err)
		}
		ok := resp.GetOkResponse()
		if ok == nil {
			t.Fatalf("not allowed: %v", resp.GetStatus())
		}
		h := headersOf(resp)
		want := map[string]string{
			"x-provost-decision": "allow", "x-provost-workload": "spiffe://acme.test/payments/api",
			"x-provost-subject": "svc:payments", "x-provost-issuer": wIssuer, "x-provost-binding": "payments",
			"x-provost-client": "10.40.1.5", "x-provost-reasons": "provenance_verified",
		}
		for k, v := range want {
			if h[k] != v {
				t.Errorf("%s = %q, want %q", k, h[k], v)
			}
		}
		for _, o := range ok.GetHeaders() {
			if o.GetAppendAction().String() != "OVERWRITE_IF_EXISTS_OR_ADD" {
				t.Errorf("%s is appended, not overwritten", o.GetHeader().GetKey())
			}
		}
		if got := ok.GetHeadersToRemove(); !slices.Equal(got, []string{"x-provost-admin"}) {
			t.Errorf("headers_to_remove = %v, want [x-provost-admin]", got)
		}
	})
	t.Run("without workload", func(t *testing.T) {
		req := envoyReq{src: "10.40.1.5", headers: merge(typed, map[string]string{"authorization": "Bearer " + token(w, "svc:reports", 0)})}
		resp, err := client.Check(context.Background(), req.check())
		if err != nil {
			t.Fatal(err)
		}
		ok := resp.GetOkResponse()
		if ok == nil {
			t.Fatalf("not allowed: %v", resp.GetStatus())
		}
		got := slices.Sorted(slices.Values(ok.GetHeadersToRemove()))
		if !slices.Equal(got, []string{"x-provost-admin", "x-provost-workload"}) {
			t.Errorf("headers_to_remove = %v, want the typed workload and admin headers", got)
		}
	})
	t.Run("deny carries the challenge, never identity", func(t *testing.T) {
		req := envoyReq{src: "10.40.1.5", headers: merge(typed, map[string]string{"authorization": "Bearer " + token(w, "svc:payments", 3*time.Hour)})}
		resp, err := client.Check(context.Background(), req.check())
		if err != nil {
			t.Fatal(err)
		}
		h := headersOf(resp)
		if !strings.HasPrefix(h["www-authenticate"], `Bearer error="invalid_token"`) {
			t.Errorf("www-authenticate = %q", h["www-authenticate"])
		}
		if _, ok := h["x-provost-workload"]; ok {
			t.Error("a denial carries an identity header")
		}
		if strings.Contains(resp.String(), req.headers["authorization"][len("Bearer "):]) {
			t.Error("the response echoes the credential")
		}
	})
}

// Requests Provost cannot read are denied, never allowed, with 431 or 400.
func TestUnreadableRequestsDenied(t *testing.T) {
	w, a := open(t, "grpc:\n  listen: 127.0.0.1:0\n  max_headers: 50\n  max_header_bytes: 8192\n")
	client := serve(t, a)
	tok := "Bearer " + token(w, "svc:reports", 0)
	many := map[string]string{"authorization": tok}
	for i := range 60 {
		many["x-filler-"+strings.Repeat("a", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	noHTTP := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}}
	badCert := envoyReq{src: "10.40.1.5", headers: map[string]string{"authorization": tok}}.check()
	badCert.Attributes.Source.Certificate = "-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A"
	notPEM := envoyReq{src: "10.40.1.5", headers: map[string]string{"authorization": tok}}.check()
	notPEM.Attributes.Source.Certificate = "hello"
	noMethod := envoyReq{src: "10.40.1.5"}.check()
	noMethod.Attributes.Request.Http.Method = ""
	delete(noMethod.Attributes.Request.Http.Headers, ":method")
	cases := []struct {
		name   string
		req    *authv3.CheckRequest
		status int
		code   reason.Code
	}{
		{"too many headers", envoyReq{src: "10.40.1.5", headers: many}.check(), 431, reason.ExtAuthzTooLarge},
		{"one huge header", envoyReq{src: "10.40.1.5", headers: map[string]string{"authorization": tok, "cookie": strings.Repeat("c", 9000)}}.check(), 431, reason.ExtAuthzTooLarge},
		{"huge path", envoyReq{src: "10.40.1.5", path: "/" + strings.Repeat("p", 5000), headers: map[string]string{"authorization": tok}}.check(), 431, reason.ExtAuthzTooLarge},
		{"no http attributes", noHTTP, 400, reason.ExtAuthzMalformed},
		{"no method", noMethod, 400, reason.ExtAuthzMalformed},
		{"certificate not X.509", badCert, 400, reason.ExtAuthzMalformed},
		{"certificate not PEM", notPEM, 400, reason.ExtAuthzMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := client.Check(context.Background(), c.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetOkResponse() != nil || resp.GetStatus().GetCode() != int32(codes.InvalidArgument) {
				t.Fatalf("answer %v, want a denial with INVALID_ARGUMENT", resp.GetStatus())
			}
			if got := httpStatus(resp); got != c.status {
				t.Errorf("http status = %d, want %d", got, c.status)
			}
			if got := headersOf(resp)["x-provost-reasons"]; got != string(c.code) {
				t.Errorf("reasons = %q, want %s", got, c.code)
			}
		})
	}
	// The gRPC message bound (max_recv_bytes, default 1 MiB) is enforced by
	// grpc-go before Check runs: Envoy sees an error and, with
	// failure_mode_allow: false, denies.
	huge := envoyReq{src: "10.40.1.5", headers: map[string]string{"x-big": strings.Repeat("b", 2<<20)}}.check()
	if resp, err := client.Check(context.Background(), huge); err == nil {
		t.Fatalf("a 2 MiB CheckRequest was answered: %v", resp.GetStatus())
	}
}

// When the engine fails, the answer is a denial.
func TestFailClosed(t *testing.T) {
	t.Run("engine stores closed", func(t *testing.T) {
		w, a := open(t, "")
		s := New(a.Engine, nil)
		req := envoyReq{src: "10.40.1.5", headers: map[string]string{"authorization": "Bearer " + token(w, "svc:reports", 0)}}
		if resp, _ := s.Check(context.Background(), req.check()); resp.GetOkResponse() == nil {
			t.Fatalf("the engine does not allow this request before the failure: %v", resp.GetStatus())
		}
		a.Close()
		req.headers["authorization"] = "Bearer " + token(w, "svc:reports", 0)
		resp, err := s.Check(context.Background(), req.check())
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetOkResponse() != nil || resp.GetStatus().GetCode() == int32(codes.OK) {
			t.Fatal("allowed with the engine's stores closed")
		}
		if got := meta(resp, "reasons"); got != string(reason.InternalError) {
			t.Errorf("reasons = %q, want internal_error", got)
		}
	})
	t.Run("engine panics", func(t *testing.T) {
		s := New(nil, nil) // a nil engine panics inside Check
		resp, err := s.Check(context.Background(), envoyReq{src: "10.40.1.5"}.check())
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetOkResponse() != nil || resp.GetStatus().GetCode() != int32(codes.PermissionDenied) || httpStatus(resp) != 403 {
			t.Fatalf("answer %v, want a 403 denial", resp)
		}
	})
}

// Every header name Provost reads elsewhere is matched in its lower-case form.
func TestHeaderNames(t *testing.T) {
	for _, p := range [][2]string{
		{provost.HeaderHop, hHop}, {provost.HeaderPosture, hPosture}, {provost.HeaderWorkloadJWT, hWorkloadJWT},
		{provost.HeaderXFCC, hXFCC}, {provost.HeaderClientCert, hClientCert}, {provost.HeaderClientCertChain, hClientCertChain},
	} {
		if strings.ToLower(p[0]) != p[1] {
			t.Errorf("%s is read as %s", p[0], p[1])
		}
	}
	for _, k := range answer.IdentityHeaders {
		if !strings.HasPrefix(strings.ToLower(k), identityPrefix) {
			t.Errorf("identity header %s lacks the prefix %s", k, identityPrefix)
		}
	}
}

// Repeated headers reach the engine as Envoy merges them.
func TestRequestConversion(t *testing.T) {
	s := New(nil, nil)
	req := envoyReq{src: "::ffff:10.40.1.5", raw: true, headers: map[string]string{
		"authorization": "Bearer x", "provost-hop": "a.b.c, d.e.f", "x-forwarded-for": "1.2.3.4, 10.0.0.9",
		"provost-posture": "p", "provost-workload-jwt": "j", "dpop": "d", "client-cert": ":Y2M=:", "client-cert-chain": ":YQ==:",
	}}.check()
	req.Attributes.Request.Http.HeaderMap.Headers = append(req.Attributes.Request.Http.HeaderMap.Headers,
		&corev3.HeaderValue{Key: "Authorization", Value: "Bearer y"}) // a header twice, listed separately
	var r reported
	if err := s.request(req, &r); err != nil {
		t.Fatal(err)
	}
	got := r.req
	if got.Peer != mustAddr("10.40.1.5") || got.Method != "GET" || got.Target != "/v1/payments?limit=5" {
		t.Errorf("peer %v method %q target %q", got.Peer, got.Method, got.Target)
	}
	if !slices.Equal(got.Hops, []string{"a.b.c, d.e.f"}) || !slices.Equal(got.XForwardedFor, []string{"1.2.3.4, 10.0.0.9"}) {
		t.Errorf("hops %v xff %v", got.Hops, got.XForwardedFor)
	}
	if got.Posture != "p" || got.JWTSVID != "j" || got.DPoP != "d" || got.ClientCertHeader != ":Y2M=:" || got.ClientCertChainHeader != ":YQ==:" {
		t.Errorf("single headers: %+v", got)
	}
	if got.Authorization != "Bearer x,Bearer y" {
		t.Errorf("a repeated authorization is %q, want the comma-joined merge", got.Authorization)
	}
}
