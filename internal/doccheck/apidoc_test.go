package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/server"
)

const repoRoot = "../.."

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goStrings returns every string the Go code under dir (test files and
// testdata left out) spells: each string literal, and each string constant
// evaluated, so that typeBase + "not-found" is seen whole.
func goStrings(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	consts := map[string]map[string]ast.Expr{} // by package directory, then name
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || n == "node_modules" || strings.HasPrefix(n, ".") && path != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := filepath.Dir(path)
		if consts[pkg] == nil {
			consts[pkg] = map[string]ast.Expr{}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
					out = append(out, s)
				}
			case *ast.GenDecl:
				if n.Tok == token.CONST {
					for _, spec := range n.Specs {
						vs := spec.(*ast.ValueSpec)
						for i, name := range vs.Names {
							if i < len(vs.Values) {
								consts[pkg][name.Name] = vs.Values[i]
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var eval func(pkg string, e ast.Expr, depth int) (string, bool)
	eval = func(pkg string, e ast.Expr, depth int) (string, bool) {
		if depth > 32 {
			return "", false
		}
		switch e := e.(type) {
		case *ast.BasicLit:
			s, err := strconv.Unquote(e.Value)
			return s, err == nil && e.Kind == token.STRING
		case *ast.ParenExpr:
			return eval(pkg, e.X, depth+1)
		case *ast.Ident:
			if x, ok := consts[pkg][e.Name]; ok {
				return eval(pkg, x, depth+1)
			}
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := eval(pkg, e.X, depth+1)
				b, ok2 := eval(pkg, e.Y, depth+1)
				return a + b, ok1 && ok2
			}
		}
		return "", false
	}
	for pkg, m := range consts {
		for _, x := range m {
			if s, ok := eval(pkg, x, 0); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

var anchorRE = regexp.MustCompile(`docs/api\.md#([a-z0-9-]+)`)

// TestAPIDocProblemAnchors: every problem type the code emits
// (https://.../docs/api.md#ANCHOR, found in the Go source) has its anchor in
// docs/api.md.
func TestAPIDocProblemAnchors(t *testing.T) {
	doc := readDoc(t, "api.md")
	found := map[string]bool{}
	for _, s := range goStrings(t, repoRoot) {
		for _, m := range anchorRE.FindAllStringSubmatch(s, -1) {
			found[m[1]] = true
		}
	}
	if len(found) < 5 {
		t.Fatalf("found only %d problem types in the code (%v): the scan is broken", len(found), found)
	}
	for a := range found {
		if !strings.Contains(doc, `<a id="`+a+`"></a>`) {
			t.Errorf("the code emits the problem type docs/api.md#%s, which has no <a id=%q></a> in docs/api.md", a, a)
		}
	}
}

// TestAPIDocCoversEveryRoute: docs/api.md names every path served (the
// dashboard's /ui pages aside: docs/dashboard.md) and every admin problem
// code, and links only to documents and anchors that exist.
func TestAPIDocCoversEveryRoute(t *testing.T) {
	doc := readDoc(t, "api.md")
	var paths []string
	for _, r := range server.Routes() {
		paths = append(paths, r.Path)
	}
	for _, r := range admin.Routes() {
		paths = append(paths, r.Path)
	}
	for _, p := range paths {
		if !isUI(p) && !strings.Contains(doc, p) {
			t.Errorf("docs/api.md does not name %s", p)
		}
	}
	codes := 0
	for _, s := range adminCodes(t) {
		codes++
		if !strings.Contains(doc, "| `"+s+"` |") {
			t.Errorf("docs/api.md's admin API section has no row for the problem code %s", s)
		}
	}
	if codes < 5 {
		t.Errorf("found %d admin problem codes: the scan is broken", codes)
	}
	checkLinks(t, "api.md")
}

// adminCodes are the values of internal/admin's Code* constants.
func adminCodes(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(repoRoot, "internal", "admin")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							out = append(out, s)
						}
					}
				}
			}
		}
	}
	return out
}

var (
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	slugDrop  = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// anchors are the anchors of a Markdown document as GitHub makes them:
// each heading's slug, and each <a id>.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil && !inFence {
			slug := strings.ReplaceAll(strings.ToLower(slugDrop.ReplaceAllString(m[1], "")), " ", "-")
			out[slug] = true
		}
	}
	for _, m := range regexp.MustCompile(`<a id="([^"]+)"`).FindAllStringSubmatch(doc, -1) {
		out[m[1]] = true
	}
	return out
}

// checkLinks fails on a relative link of docs/name to a file that does not
// exist, or to an anchor its document lacks.
func checkLinks(t *testing.T, name string) {
	t.Helper()
	doc := readDoc(t, name)
	for _, m := range linkRE.FindAllStringSubmatch(doc, -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		file, anchor, _ := strings.Cut(target, "#")
		path := filepath.Join(repoRoot, "docs", name)
		if file != "" {
			path = filepath.Join(repoRoot, "docs", file)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			if st, serr := os.Stat(path); serr == nil && st.IsDir() && anchor == "" {
				continue
			}
			t.Errorf("docs/%s links to %s, which does not exist", name, target)
			continue
		}
		if anchor != "" && strings.HasSuffix(path, ".md") && !anchors(string(b))[anchor] {
			t.Errorf("docs/%s links to %s, but %s has no anchor %q", name, target, filepath.Base(path), anchor)
		}
	}
}
