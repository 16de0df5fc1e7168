package doccheck

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/verdict"
)

// openAPIMethods are the methods an OpenAPI 3.1 path item can describe; a
// route that takes every method is described with all of them.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// uiPrefix is the dashboard's: its HTML pages are not an API, and
// docs/dashboard.md, not docs/openapi.yaml, is their reference.
const uiPrefix = "/ui"

func isUI(path string) bool { return path == uiPrefix || strings.HasPrefix(path, uiPrefix+"/") }

// spec is docs/openapi.yaml, decoded.
type spec map[string]any

func readSpec(t *testing.T) spec {
	t.Helper()
	data, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any // not spec: nested maps would decode as spec too
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	return spec(m)
}

// resolve follows a local $ref ("#/components/...") once; ok is false when
// it points nowhere.
func (s spec) resolve(ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = map[string]any(s)
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// pathItem is the path item of path, its $ref followed.
func (s spec) pathItem(t *testing.T, path string) map[string]any {
	t.Helper()
	paths, _ := s["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	if ref, ok := item["$ref"].(string); ok {
		target, found := s.resolve(ref)
		if !found {
			t.Fatalf("docs/openapi.yaml: %s: $ref %s points nowhere", path, ref)
		}
		item, _ = target.(map[string]any)
	}
	return item
}

// served is every (method, path) the code serves, in OpenAPI's words: a
// lower-case method and a path template ({name}); the admin listener's
// routes in a set of their own.
func served(t *testing.T) (ops map[string]bool, adminPaths map[string]bool) {
	t.Helper()
	ops, adminPaths = map[string]bool{}, map[string]bool{}
	add := func(method, path string) {
		if !isUI(path) {
			ops[strings.ToLower(method)+" "+path] = true
		}
	}
	for _, r := range server.Routes() {
		methods := r.Methods
		if methods == nil {
			methods = openAPIMethods
		}
		for _, m := range methods {
			add(m, r.Path)
			if r.Below {
				add(m, r.Path+"/{path}")
			}
		}
	}
	for _, r := range admin.Routes() {
		add(r.Method, r.Path)
		if !isUI(r.Path) {
			adminPaths[r.Path] = true
		}
	}
	if len(ops) == 0 {
		t.Fatal("no routes found in internal/server and internal/admin")
	}
	return ops, adminPaths
}

// TestOpenAPIDescribesEveryRoute fails when a route is served (by
// `provost serve`'s listener, internal/server.Routes, or the admin
// listener, internal/admin.Routes) that docs/openapi.yaml does not
// describe, with each of its methods, or when the spec describes a path or
// method that is not served. The admin routes must carry the admin
// listener's servers and security; no other route may. The dashboard's
// /ui pages are left out: docs/dashboard.md is their reference.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s := readSpec(t)
	ops, adminPaths := served(t)
	documented := map[string]bool{}
	paths, ok := s["paths"].(map[string]any)
	if !ok || len(paths) == 0 {
		t.Fatal("docs/openapi.yaml has no paths")
	}
	for path := range paths {
		item := s.pathItem(t, path)
		_, hasServers := paths[path].(map[string]any)["servers"]
		if hasServers != adminPaths[path] {
			t.Errorf("docs/openapi.yaml: %s: servers set %v, but it is an admin route: %v (only admin routes name the admin listener)", path, hasServers, adminPaths[path])
		}
		for _, m := range openAPIMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			documented[m+" "+path] = true
			_, secured := op["security"]
			if secured != adminPaths[path] {
				t.Errorf("docs/openapi.yaml: %s %s: security set %v, admin route %v", m, path, secured, adminPaths[path])
			}
		}
	}
	for _, op := range sortedKeys(ops) {
		if !documented[op] {
			t.Errorf("served but not described in docs/openapi.yaml: %s", op)
		}
	}
	for _, op := range sortedKeys(documented) {
		if !ops[op] {
			t.Errorf("docs/openapi.yaml describes %s, which is not served", op)
		}
	}
}

// TestOpenAPIRefsResolve: every $ref of the spec points at something, and
// every operationId is unique.
func TestOpenAPIRefsResolve(t *testing.T) {
	s := readSpec(t)
	ids := map[string]int{}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, found := s.resolve(ref); !found {
					t.Errorf("docs/openapi.yaml: %s: $ref %q points nowhere", at, ref)
				}
			}
			if id, ok := v["operationId"].(string); ok {
				ids[id]++
			}
			for k, sub := range v {
				walk(sub, at+"/"+k)
			}
		case []any:
			for _, sub := range v {
				walk(sub, at)
			}
		}
	}
	walk(map[string]any(s), "")
	for id, n := range ids {
		// A path item reached twice through a YAML alias is one item.
		if n > 1 {
			t.Errorf("docs/openapi.yaml: operationId %s is used %d times", id, n)
		}
	}
	if len(ids) == 0 {
		t.Error("docs/openapi.yaml has no operationId")
	}
}

// TestOpenAPIHeaders: the allow answer of forward-auth names every
// X-Provost-* header the code sets (answer.IdentityHeaders), and the
// X-Provost-Evidence header's format is described.
func TestOpenAPIHeaders(t *testing.T) {
	s := readSpec(t)
	allow, ok := s.resolve("#/components/responses/ForwardAllow/headers")
	if !ok {
		t.Fatal("docs/openapi.yaml has no components.responses.ForwardAllow.headers")
	}
	headers, _ := allow.(map[string]any)
	for _, h := range answer.IdentityHeaders {
		if _, ok := headers[h]; !ok {
			t.Errorf("docs/openapi.yaml: the allow answer of forward-auth does not name %s", h)
		}
	}
	ev, ok := s.resolve("#/components/headers/Evidence/description")
	if d, _ := ev.(string); !ok || !strings.Contains(d, "INDEX LEAFHASH") || !strings.Contains(d, "base64") {
		t.Errorf("docs/openapi.yaml: components.headers.Evidence does not describe the format INDEX LEAFHASH (base64): %v", ev)
	}
	// The value the code writes matches the documented pattern.
	pat, _ := s.resolve("#/components/headers/Evidence/schema/pattern")
	re, err := regexp.Compile(fmt.Sprint(pat))
	if err != nil || pat == nil {
		t.Fatalf("docs/openapi.yaml: components.headers.Evidence.schema.pattern %v: %v", pat, err)
	}
	sum := sha256.Sum256([]byte("\x00{}"))
	h := http.Header{}
	answer.Headers(h, &provost.Decision{Outcome: verdict.Deny,
		Evidence: &verdict.EvidenceRef{Index: 1234, LeafHash: base64.StdEncoding.EncodeToString(sum[:])}})
	if got := h.Get(answer.HeaderEvidence); !re.MatchString(got) {
		t.Errorf("%s: %q does not match the documented pattern %s", answer.HeaderEvidence, got, pat)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return slices.Clip(out)
}
