package doccheck

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/answer"
)

var provostHeaderRE = regexp.MustCompile("`(X-Provost-[A-Za-z-]+)`")

// tableAfter returns the Markdown table that follows the first line of doc
// containing marker.
func tableAfter(t *testing.T, doc, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, marker)
	if !ok {
		t.Fatalf("no %q in the doc", marker)
	}
	var rows []string
	started := false
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "|") {
			started = true
			rows = append(rows, line)
		} else if started {
			break
		}
	}
	if len(rows) < 3 {
		t.Fatalf("no table after %q", marker)
	}
	return strings.Join(rows, "\n")
}

// checkHeaderTable fails unless table names every X-Provost-* header the
// code sets (answer.IdentityHeaders) and no other.
func checkHeaderTable(t *testing.T, where, table string) {
	t.Helper()
	named := map[string]bool{}
	for _, m := range provostHeaderRE.FindAllStringSubmatch(table, -1) {
		named[m[1]] = true
	}
	for _, h := range answer.IdentityHeaders {
		if !named[h] {
			t.Errorf("%s does not list %s, which the code sets", where, h)
		}
	}
	for h := range named {
		if !slices.Contains(answer.IdentityHeaders, h) {
			t.Errorf("%s lists %s, which the code does not set", where, h)
		}
	}
}

// TestDocsListEveryProvostHeader: the lists of X-Provost-* headers in
// docs/kubernetes.md (what the application behind `provost proxy`
// receives), docs/api.md (forward-auth's answer) and docs/nginx.md
// (Traefik's authResponseHeaders, which replace the client's copies) name
// every header the code sets, answer.IdentityHeaders, and none it does
// not; and those docs link only to files and anchors that exist.
func TestDocsListEveryProvostHeader(t *testing.T) {
	if len(answer.IdentityHeaders) < 10 {
		t.Fatalf("answer.IdentityHeaders has %d headers", len(answer.IdentityHeaders))
	}
	k8s := readDoc(t, "kubernetes.md")
	checkHeaderTable(t, "docs/kubernetes.md's table of what the application receives",
		tableAfter(t, k8s, "What the application receives on an allowed request"))
	api := readDoc(t, "api.md")
	_, fa, _ := strings.Cut(api, "\n## Forward-auth\n")
	fa, _, _ = strings.Cut(fa, "\n## ")
	checkHeaderTable(t, "docs/api.md's Forward-auth section", fa)
	// Traefik copies to the upstream, replacing the client's, exactly the
	// headers authResponseHeaders lists: every one Provost sets.
	ngx := readDoc(t, "nginx.md")
	_, traefik, _ := strings.Cut(ngx, "\n## Traefik\n")
	traefik, _, _ = strings.Cut(traefik, "\n## ")
	_, list, ok := strings.Cut(traefik, "authResponseHeaders:")
	if !ok {
		t.Fatal("docs/nginx.md's Traefik section has no authResponseHeaders")
	}
	var items []string
	for _, line := range strings.Split(list, "\n")[1:] {
		item, ok := strings.CutPrefix(strings.TrimSpace(line), "- ")
		if !ok {
			break
		}
		items = append(items, "`"+item+"`")
	}
	checkHeaderTable(t, "docs/nginx.md's Traefik authResponseHeaders", strings.Join(items, " "))
	for _, name := range []string{"kubernetes.md", "nginx.md", "envoy.md"} {
		checkLinks(t, name)
	}
}
