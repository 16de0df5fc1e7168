package provost_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/reason"
)

// refusal is a request every transport must refuse, for the same reason,
// before the application sees it.
type refusal struct {
	name           string
	method, target string
	sub            string // the token's subject
	dpop           bool
	twoAuth        bool // a second Authorization line, forged, after the valid one
	twoDPoP        bool // a second DPoP line, junk, after the valid proof
	// unsendable: HTTP/1.1 cannot carry the method or target in a request
	// line, so Go's HTTP server refuses it (400) before the proxy or the
	// middleware runs.
	unsendable bool
	code       reason.Code
}

var refusals = []refusal{
	{name: "two Authorization lines", method: "POST", target: "/v1/deploy", sub: "ci:deploy", twoAuth: true, code: reason.AuthorizationRepeated},
	{name: "two DPoP lines", method: "PUT", target: "/v1/tools/run", sub: "agent:tools", dpop: true, twoDPoP: true, code: reason.DPoPRepeated},
	{name: "dot-dot", method: "GET", target: "/v1/reports/../admin", sub: "ci:deploy", code: reason.RequestTargetInvalid},
	{name: "encoded dot-dot", method: "GET", target: "/a/%2e%2e/b", sub: "ci:deploy", code: reason.RequestTargetInvalid},
	{name: "encoded slash", method: "GET", target: "/a%2fb", sub: "ci:deploy", code: reason.RequestTargetInvalid},
	{name: "backslash", method: "GET", target: `/a\b`, sub: "ci:deploy", code: reason.RequestTargetInvalid},
	{name: "NUL", method: "GET", target: "/a\x00b", sub: "ci:deploy", unsendable: true, code: reason.RequestTargetInvalid},
	{name: "CR LF", method: "GET", target: "/a\r\nX-Injected: 1", sub: "ci:deploy", unsendable: true, code: reason.RequestTargetInvalid},
	{name: "lower-case method", method: "delete", target: "/v1/deploy", sub: "ci:deploy", code: reason.RequestMethodInvalid},
	{name: "1000-character method", method: strings.Repeat("G", 1000), target: "/v1/deploy", sub: "ci:deploy", code: reason.RequestMethodInvalid},
	{name: "method with a space", method: "DEL ETE", target: "/v1/deploy", sub: "ci:deploy", unsendable: true, code: reason.RequestMethodInvalid},
}

// TestTransportsRefuseAlike sends each refusal through all five
// transports: each refuses it with the same reason code as Engine.Check,
// and nothing reaches the application.
func TestTransportsRefuseAlike(t *testing.T) {
	rig := startTransports(t)
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			s := transportCase{name: c.name, method: c.method, target: c.target, sub: c.sub, dpop: c.dpop, from: buildHost}.mint(t, rig.world)
			if c.twoAuth {
				s.authorization += ", Bearer forged." + strings.Repeat("A", 40)
			}
			if c.twoDPoP {
				s.dpopProof += ", eyJhbGciOiJFUzI1NiJ9.e30.AA"
			}
			ref, err := rig.ref.Check(t.Context(), s.request())
			if err != nil {
				t.Fatalf("reference engine: %v", err)
			}
			want := verdictOf(ref)
			if want.Reasons != string(c.code) || want.Decision != "deny" {
				t.Fatalf("the reference decided %+v, want a denial for %s", want, c.code)
			}
			before := rig.reached.Load()
			for _, tr := range []struct {
				name string
				send func(context.Context, *sent) (seen, error)
			}{
				{"check API", rig.refuseViaCheckAPI},
				{"forward-auth", rig.rawForwardAuth},
				{"ext_authz", rig.viaExtAuthzLines},
				{"proxy", func(ctx context.Context, s *sent) (seen, error) { return rawHTTP(rig.proxy, s, nil) }},
				{"middleware", func(ctx context.Context, s *sent) (seen, error) { return rawHTTP(rig.mw, s, nil) }},
			} {
				if tr.name == "forward-auth" && strings.ContainsAny(c.method+c.target, "\r\n\x00") {
					// No header can carry these bytes: nginx builds
					// X-Original-URI from a request line that cannot
					// hold them either.
					continue
				}
				got, err := tr.send(t.Context(), s)
				if err != nil {
					t.Errorf("%s: %v", tr.name, err)
					continue
				}
				exp := want
				switch {
				case tr.name == "check API" && (c.code == reason.RequestMethodInvalid || c.code == reason.RequestTargetInvalid):
					// The document is refused before the engine, naming
					// the field (docs/api.md).
					exp = seen{Status: http.StatusBadRequest, Reasons: "field " + strings.TrimPrefix(strings.TrimSuffix(string(c.code), "_invalid"), "request_")}
				case c.unsendable && (tr.name == "proxy" || tr.name == "middleware"):
					exp = seen{Status: http.StatusBadRequest}
				case tr.name == "forward-auth" && exp.Status == http.StatusBadRequest:
					exp.Status = http.StatusForbidden // auth_request knows 2xx, 401 and 403
				}
				if got != exp {
					t.Errorf("%s answered %+v, want %+v", tr.name, got, exp)
				}
			}
			if n := rig.reached.Load() - before; n != 0 {
				t.Errorf("the application received %d of these requests", n)
			}
		})
	}
}

// refuseViaCheckAPI is viaCheckAPI that also reads a 400 problem: its
// verdict is the status and "field NAME".
func (rig *transportRig) refuseViaCheckAPI(ctx context.Context, s *sent) (seen, error) {
	resp, err := rig.postCheck(ctx, s)
	if err != nil {
		return seen{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest {
		var p struct {
			Field string `json:"field"`
		}
		err := json.NewDecoder(resp.Body).Decode(&p)
		return seen{Status: resp.StatusCode, Reasons: "field " + p.Field}, err
	}
	return checkAnswerSeen(resp)
}

// rawForwardAuth calls forward-auth as nginx does, from the trusted proxy,
// writing the request by hand so that no client library cleans it.
func (rig *transportRig) rawForwardAuth(ctx context.Context, s *sent) (seen, error) {
	extra := [][2]string{{server.HeaderOriginalMethod, s.method}, {server.HeaderOriginalURI, s.target}, {"X-Forwarded-For", s.from}}
	return rawHTTPFrom(trustedProxy, rig.api, "GET", server.PathForwardAuth, s, extra)
}

// rawHTTP sends the request itself, from the client's address, as bytes.
func rawHTTP(base string, s *sent, extra [][2]string) (seen, error) {
	return rawHTTPFrom(s.from, base, s.method, s.target, s, extra)
}

func rawHTTPFrom(from, base, method, target string, s *sent, extra [][2]string) (seen, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return seen{}, err
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: api.transports.test\r\nConnection: close\r\n", method, target)
	for _, line := range strings.Split(s.authorization, ", ") {
		fmt.Fprintf(&b, "Authorization: %s\r\n", line)
	}
	if s.dpopProof != "" {
		for _, line := range strings.Split(s.dpopProof, ", ") {
			fmt.Fprintf(&b, "DPoP: %s\r\n", line)
		}
	}
	for _, h := range extra {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return seen{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return seen{}, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	h := resp.Header
	v := seen{Decision: h.Get(answer.HeaderDecision), Credential: h.Get(answer.HeaderCredential),
		Provenance: h.Get(answer.HeaderProvenance), Status: resp.StatusCode}
	if r := h.Get(answer.HeaderReasons); r != "" {
		v.Reasons = sortedCodes(strings.Split(r, ","))
	}
	return v, nil
}

// viaExtAuthzLines is viaExtAuthz with the headers as Envoy's header_map
// sends them: one entry per line, so a repeated field stays repeated.
func (rig *transportRig) viaExtAuthzLines(ctx context.Context, s *sent) (seen, error) {
	hm := &corev3.HeaderMap{}
	add := func(k, v string) { hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, Value: v}) }
	add(":method", s.method)
	add(":path", s.target)
	add("x-forwarded-for", s.from)
	for _, line := range strings.Split(s.authorization, ", ") {
		add("authorization", line)
	}
	if s.dpopProof != "" {
		for _, line := range strings.Split(s.dpopProof, ", ") {
			add("dpop", line)
		}
	}
	resp, err := rig.authz.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: socketAddr(s.from, 51234)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: s.method, Path: s.target, HeaderMap: hm,
		}},
	}})
	if err != nil {
		return seen{}, err
	}
	md := resp.GetDynamicMetadata().GetFields()
	v := seen{Decision: md["decision"].GetStringValue(), Credential: md["credential"].GetStringValue(),
		Provenance: md["provenance"].GetStringValue()}
	if r := md["reasons"].GetStringValue(); r != "" {
		v.Reasons = sortedCodes(strings.Split(r, ","))
	}
	if dr, ok := resp.GetHttpResponse().(*authv3.CheckResponse_DeniedResponse); ok {
		v.Status = int(dr.DeniedResponse.GetStatus().GetCode())
	} else {
		v.Status = http.StatusOK
	}
	return v, nil
}
