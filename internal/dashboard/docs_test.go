package dashboard

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

const docFile = "../../docs/dashboard.md"

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(docFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The doc's configuration example loads.
func TestDocConfigurationParses(t *testing.T) {
	doc := readDoc(t)
	_, block, ok := strings.Cut(doc, "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in docs/dashboard.md")
	}
	block = strings.NewReplacer(`"<hex>"`, strings.Repeat("0", 64)).Replace(block)
	block = strings.Replace(block, strings.Repeat("0", 64), strings.Repeat("1", 64), 1) // the two roles' hashes differ
	c, err := config.Parse("docs/dashboard.md", []byte("version: 1\n"+block))
	if err != nil {
		t.Fatalf("the doc's configuration does not load: %v", err)
	}
	if !c.UI.On(config.UIListenerServe) {
		t.Error("the doc's example does not turn the dashboard on")
	}
}

// Every route the doc's tables list is answered, and every route the
// tests ask is in the doc.
func TestDocRoutes(t *testing.T) {
	doc := readDoc(t)
	e := newEnv(t)
	p := e.play()
	c := e.login(e.adminTok)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:GET|POST) /ui/[^`?]*)").FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = true
	}
	if len(documented) < 12 {
		t.Fatalf("only %d routes found in the doc", len(documented))
	}
	idx := strconv.FormatInt(p.copiedIndex, 10)
	for route := range documented {
		method, path, _ := strings.Cut(route, " ")
		path = strings.NewReplacer("{index}", idx, "{fingerprint}", p.reportsFP).Replace(path)
		if path == "/ui/api/decisions/stream" {
			resp, cancel := e.stream(c, "")
			cancel()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %d", route, resp.StatusCode)
			}
			continue
		}
		var form map[string][]string
		if method == http.MethodPost {
			form = map[string][]string{"csrf": {csrfOf(t, e.get(c, "/ui/log").body)}}
		}
		if path == PathLogout {
			continue // would end the session the others use
		}
		a := e.do(c, method, path, form, "Origin", e.base)
		if a.StatusCode == http.StatusNotFound || a.StatusCode == http.StatusMethodNotAllowed || a.StatusCode >= 500 {
			t.Errorf("documented %s answers %d", route, a.StatusCode)
		}
	}
	for _, rt := range routesOf(p) {
		generic := strings.NewReplacer(idx, "{index}", p.reportsFP, "{fingerprint}").Replace(rt.path)
		generic, _, _ = strings.Cut(generic, "?")
		if strings.Contains(generic, "no-such") || strings.Contains(generic, "nothing") || strings.HasPrefix(generic, "/ui/static/") {
			continue
		}
		if !documented[rt.method+" "+generic] {
			t.Errorf("%s %s is not in docs/dashboard.md", rt.method, generic)
		}
	}
}

// Every data-testid the doc promises is in a template or the script.
func TestDocTestIDs(t *testing.T) {
	doc := readDoc(t)
	var code strings.Builder
	for _, dir := range []string{"templates", "static"} {
		fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(filepath.Join(dir, p))
				code.Write(b)
			}
			return err
		})
	}
	var ids []string
	for _, m := range regexp.MustCompile(`data-testid=([a-z-]+)`).FindAllStringSubmatch(doc, -1) {
		ids = append(ids, m[1])
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) < 15 {
		t.Fatalf("only %d test ids found in the doc: %v", len(ids), ids)
	}
	for _, id := range ids {
		if !strings.Contains(code.String(), `data-testid="`+id+`"`) && !strings.Contains(code.String(), `'`+id+`'`) {
			t.Errorf("docs/dashboard.md names data-testid %s, which no template or script has", id)
		}
	}
}
