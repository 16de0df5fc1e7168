package reason

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	docFile  = "../docs/reasons.md"
	tagsFile = "../internal/decision/tags.go"
	// tagsHeading starts the doc's framework section; the code lists come before it.
	tagsHeading = "## Framework references"
)

var (
	// entryRE matches one entry of the doc's code lists: a list item or a
	// table row whose first cell is a backticked snake_case code.
	entryRE = regexp.MustCompile("^(?:- |\\| )`([a-z0-9_]+)`")
	snakeRE = regexp.MustCompile(`^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$`)
	tagIDRE = regexp.MustCompile(`NHI\d+:2025|[A-Z]{2}\.[A-Z]{2}-\d{2}|tenet-\d+`)
)

// sourceCodes parses reason.go and returns every Code constant, by Go name.
func sourceCodes(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "reason.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					t.Fatalf("constant %s has no explicit value", name.Name)
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("constant %s is not a string literal", name.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("constant %s: %v", name.Name, err)
				}
				codes[name.Name] = v
			}
		}
	}
	if len(codes) < 50 {
		t.Fatalf("found only %d Code constants in reason.go; the parser is missing some", len(codes))
	}
	return codes
}

// docSections returns the doc's lines before and after the framework heading.
func docSections(t *testing.T) (lists, tags []string) {
	t.Helper()
	b, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	i := slices.Index(lines, tagsHeading)
	if i < 0 {
		t.Fatalf("%s has no %q section", docFile, tagsHeading)
	}
	return lines[:i], lines[i+1:]
}

func entries(lines []string) []string {
	var out []string
	for _, l := range lines {
		if m := entryRE.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func TestEveryCodeIsDocumented(t *testing.T) {
	codes := sourceCodes(t)
	byValue := map[string]string{} // value -> Go name
	for _, name := range slices.Sorted(maps.Keys(codes)) {
		v := codes[name]
		if other, dup := byValue[v]; dup {
			t.Errorf("constants %s and %s share the code %q", other, name, v)
		}
		byValue[v] = name
		if !snakeRE.MatchString(v) {
			t.Errorf("code %q (%s) is not snake_case", v, name)
		}
	}
	lists, tags := docSections(t)
	documented := map[string]int{}
	for _, c := range entries(lists) {
		documented[c]++
	}
	for _, v := range slices.Sorted(maps.Keys(byValue)) {
		if name := byValue[v]; documented[v] == 0 {
			t.Errorf("code `%s` (reason.%s) has no entry in %s", v, name, docFile)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(documented)) {
		if n := documented[c]; n > 1 {
			t.Errorf("%s documents `%s` %d times", docFile, c, n)
		}
		if _, ok := byValue[c]; !ok {
			t.Errorf("%s documents `%s`, which is not a code in reason.go", docFile, c)
		}
	}
	for _, c := range entries(tags) {
		if _, ok := byValue[c]; !ok {
			t.Errorf("%s framework table names `%s`, which is not a code in reason.go", docFile, c)
		}
	}
}

type tag struct{ id, name string }

// sourceTags parses decision/tags.go and returns the tag IDs of each code
// (sorted) and every tag variable.
func sourceTags(t *testing.T, codes map[string]string) (map[string][]string, []tag) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), tagsFile, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]tag{}
	var table *ast.CompositeLit
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.CompositeLit)
			if !ok {
				continue
			}
			if _, isMap := lit.Type.(*ast.MapType); isMap {
				table = lit
				continue
			}
			if len(lit.Elts) == 3 {
				id, name2 := stringLit(lit.Elts[1]), stringLit(lit.Elts[2])
				if id != "" && name2 != "" {
					vars[name.Name] = tag{id, name2}
				}
			}
		}
		return false
	})
	if table == nil || len(vars) == 0 {
		t.Fatalf("%s: found no tag map or no tags; has its shape changed?", tagsFile)
	}
	byCode := map[string][]string{}
	for _, e := range table.Elts {
		kv := e.(*ast.KeyValueExpr)
		sel, ok := kv.Key.(*ast.SelectorExpr)
		if !ok {
			t.Fatalf("%s: map key is not reason.Name", tagsFile)
		}
		code, ok := codes[sel.Sel.Name]
		if !ok {
			t.Fatalf("%s: reason.%s is not a Code constant", tagsFile, sel.Sel.Name)
		}
		var ids []string
		for _, el := range kv.Value.(*ast.CompositeLit).Elts {
			tg, ok := vars[el.(*ast.Ident).Name]
			if !ok {
				t.Fatalf("%s: unknown tag %s", tagsFile, el.(*ast.Ident).Name)
			}
			ids = append(ids, tg.id)
		}
		slices.Sort(ids)
		byCode[code] = ids
	}
	all := make([]tag, 0, len(vars))
	for _, tg := range vars {
		all = append(all, tg)
	}
	return byCode, all
}

func stringLit(e ast.Expr) string {
	if kv, ok := e.(*ast.KeyValueExpr); ok {
		e = kv.Value // Tag{Framework: ..., ID: "...", Name: "..."}
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return s
}

// TestFrameworkTableMatchesTags keeps the doc's framework table equal to
// decision/tags.go: the same codes, the same tag IDs, the same names.
func TestFrameworkTableMatchesTags(t *testing.T) {
	want, all := sourceTags(t, sourceCodes(t))
	_, lines := docSections(t)
	got := map[string][]string{}
	names := map[string]string{} // tag ID -> name, from the legend
	for _, l := range lines {
		cells := strings.Split(strings.Trim(l, "| "), " | ")
		if m := entryRE.FindStringSubmatch(l); m != nil {
			ids := tagIDRE.FindAllString(strings.Join(cells[1:], " "), -1)
			slices.Sort(ids)
			got[m[1]] = ids
		} else if len(cells) == 3 && tagIDRE.MatchString(cells[1]) {
			names[cells[1]] = cells[2]
		}
	}
	for _, code := range slices.Sorted(maps.Keys(want)) {
		ids := want[code]
		if g, ok := got[code]; !ok {
			t.Errorf("framework table has no row for `%s` (tags %v)", code, ids)
		} else if !slices.Equal(g, ids) {
			t.Errorf("framework table row `%s` = %v, tags.go says %v", code, g, ids)
		}
	}
	for _, code := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[code]; !ok {
			t.Errorf("framework table has a row for `%s`, which tags.go tags with nothing", code)
		}
	}
	for _, tg := range all {
		if names[tg.id] != tg.name {
			t.Errorf("framework legend: %s is %q, tags.go says %q", tg.id, names[tg.id], tg.name)
		}
	}
}
