package extauthz

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	mutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/server"
)

// clientTypedHeaders are the request headers a client could type to pass as
// someone else, which Envoy neither sets nor replaces: Provost judges (or
// ignores) them, and the application must never get them. Envoy replaces
// x-forwarded-client-cert (SANITIZE_SET) and x-forwarded-for
// (use_remote_address) itself.
var clientTypedHeaders = []string{
	provost.HeaderClientCert, provost.HeaderClientCertChain, "Forwarded",
	server.HeaderOriginalMethod, server.HeaderOriginalURI, server.HeaderForwardedMethod, server.HeaderForwardedURI,
	provost.HeaderHop, provost.HeaderPosture, provost.HeaderWorkloadJWT,
}

// TestEnvoyDocsSafe reads every Envoy bootstrap of docs/envoy.md (Envoy is
// not run: the configuration is checked at the level of Envoy's own v3 API
// types) and fails unless each one
//
//   - replaces a client's x-forwarded-client-cert and x-forwarded-for with
//     Envoy's own (SANITIZE_SET, use_remote_address, no trusted hops);
//   - removes, after ext_authz and before the router, every other header in
//     clientTypedHeaders, so the application never gets a client's;
//   - over HTTP ext_authz, removes client-typed x-provost-* before
//     ext_authz, sends Provost none of clientTypedHeaders but the signed
//     attestations, and sends it the request id;
//   - shows the client the reasons of a refusal and the request id, and
//     logs the request id.
func TestEnvoyDocsSafe(t *testing.T) {
	doc, err := os.ReadFile("../../docs/envoy.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		first, _, _ := strings.Cut(b[1], "\n")
		if !strings.HasPrefix(first, "# envoy.yaml") {
			continue
		}
		n++
		for _, hcm := range connectionManagers(t, first, b[1]) {
			checkSafe(t, first, hcm)
		}
	}
	if n != 2 {
		t.Errorf("%d Envoy bootstraps in docs/envoy.md, want 2 (gRPC and HTTP ext_authz)", n)
	}
}

// connectionManagers parses an Envoy bootstrap and returns its HTTP
// connection managers.
func connectionManagers(t *testing.T, name, text string) []*hcmv3.HttpConnectionManager {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &b); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []*hcmv3.HttpConnectionManager
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&hcm) == nil {
					out = append(out, &hcm)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no http_connection_manager", name)
	}
	return out
}

func checkSafe(t *testing.T, name string, hcm *hcmv3.HttpConnectionManager) {
	t.Helper()
	if hcm.GetForwardClientCertDetails() != hcmv3.HttpConnectionManager_SANITIZE_SET || !hcm.GetUseRemoteAddress().GetValue() || hcm.GetXffNumTrustedHops() != 0 {
		t.Errorf("%s: a client's x-forwarded-client-cert or x-forwarded-for could survive: forward_client_cert_details %v, use_remote_address %v, xff_num_trusted_hops %d",
			name, hcm.GetForwardClientCertDetails(), hcm.GetUseRemoteAddress().GetValue(), hcm.GetXffNumTrustedHops())
	}
	if !hcm.GetAlwaysSetRequestIdInResponse() {
		t.Errorf("%s: the client does not get the request id (always_set_request_id_in_response)", name)
	}
	checkAccessLog(t, name, hcm)
	var authz *extauthzv3.ExtAuthz
	at, removedAfter, removedPrefixBefore := -1, map[string]bool{}, false
	filters := hcm.GetHttpFilters()
	for i, f := range filters {
		var a extauthzv3.ExtAuthz
		var m mutationv3.HeaderMutation
		switch {
		case f.GetTypedConfig().UnmarshalTo(&a) == nil:
			authz, at = &a, i
		case f.GetTypedConfig().UnmarshalTo(&m) == nil:
			for _, rm := range m.GetMutations().GetRequestMutations() {
				switch {
				case at >= 0 && rm.GetRemove() != "":
					removedAfter[strings.ToLower(rm.GetRemove())] = true
				case at < 0 && rm.GetRemoveOnMatch().GetKeyMatcher().GetPrefix() == "x-provost-":
					removedPrefixBefore = true
				}
			}
		}
	}
	var router routerv3.Router
	if authz == nil || len(filters) == 0 || filters[len(filters)-1].GetTypedConfig().UnmarshalTo(&router) != nil {
		t.Fatalf("%s: want ext_authz and, last, the router", name)
	}
	for _, h := range clientTypedHeaders {
		if !removedAfter[strings.ToLower(h)] {
			t.Errorf("%s: a client's %s reaches the application: no header_mutation after ext_authz removes it", name, h)
		}
	}
	hs := authz.GetHttpService()
	if hs == nil {
		return // gRPC: Provost removes client-typed x-provost-* (headers_to_remove)
	}
	if !removedPrefixBefore {
		t.Errorf("%s: client-typed x-provost-* headers are not removed before ext_authz", name)
	}
	sent := exactPatterns(authz.GetAllowedHeaders().GetPatterns())
	for _, h := range clientTypedHeaders {
		signed := h == provost.HeaderHop || h == provost.HeaderPosture || h == provost.HeaderWorkloadJWT
		if sent[strings.ToLower(h)] != signed {
			t.Errorf("%s: allowed_headers sends Provost %s: %v, want %v (Envoy is a trusted proxy: only signed attestations may come from the client)", name, h, sent[strings.ToLower(h)], signed)
		}
	}
	if !sent["x-request-id"] {
		t.Errorf("%s: allowed_headers does not send Provost the request id", name)
	}
	shown := exactPatterns(hs.GetAuthorizationResponse().GetAllowedClientHeaders().GetPatterns())
	for _, h := range []string{"x-request-id", "x-provost-decision", "x-provost-reasons", "dpop-nonce"} {
		if !shown[h] {
			t.Errorf("%s: %s is not shown to the client on a refusal (allowed_client_headers)", name, h)
		}
	}
}

type stringMatcher interface {
	GetExact() string
}

func exactPatterns[M stringMatcher](ps []M) map[string]bool {
	out := map[string]bool{}
	for _, p := range ps {
		if e := p.GetExact(); e != "" {
			out[strings.ToLower(e)] = true
		}
	}
	return out
}

// checkAccessLog: one access log writes the request id.
func checkAccessLog(t *testing.T, name string, hcm *hcmv3.HttpConnectionManager) {
	t.Helper()
	for _, al := range hcm.GetAccessLog() {
		var so accesslogv3.StdoutAccessLog
		if al.GetTypedConfig().UnmarshalTo(&so) == nil &&
			strings.Contains(so.GetLogFormat().GetTextFormatSource().GetInlineString(), "%REQ(X-REQUEST-ID)%") {
			return
		}
	}
	t.Errorf("%s: no access log writes the request id (%%REQ(X-REQUEST-ID)%%)", name)
}
