package doccheck

import (
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// configField is one field of provost.yaml: its dotted path (a list's
// elements are "[]": issuers[].jwks_url) and its type in the words of
// docs/configuration.md.
type configField struct {
	path, typ string
}

var durationType = reflect.TypeFor[config.Duration]()

// configFields walks t (a config struct) by its yaml tags, recursively, and
// returns every field under prefix: sections and lists of objects as well as
// the leaves.
func configFields(t *testing.T, typ reflect.Type, prefix string) []configField {
	t.Helper()
	var out []configField
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			t.Errorf("config field %s.%s has no yaml tag: name it", typ.Name(), f.Name)
			continue
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == durationType:
			out = append(out, configField{path, "duration"})
		case ft.Kind() == reflect.Struct:
			out = append(out, configField{path, "object"})
			out = append(out, configFields(t, ft, path)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configField{path, "list of objects"})
			out = append(out, configFields(t, ft.Elem(), path+"[]")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			out = append(out, configField{path, "list of strings"})
		case ft.Kind() == reflect.String:
			out = append(out, configField{path, "string"})
		case ft.Kind() == reflect.Bool:
			out = append(out, configField{path, "boolean"})
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Uint64:
			out = append(out, configField{path, "integer"})
		case ft.Kind() == reflect.Float32 || ft.Kind() == reflect.Float64:
			out = append(out, configField{path, "number"})
		default:
			t.Errorf("config field %s has a type (%s) this test cannot name: teach it", path, ft)
		}
	}
	return out
}

// rowRE is a row of a reference table: | `path` | type | default | meaning |.
var rowRE = regexp.MustCompile("(?m)^\\| `([a-z0-9_.\\[\\]]+)` \\| ([^|]+?) \\| ([^|]*?) \\| (.+) \\|$")

// TestConfigurationDocumented walks the configuration structs of
// internal/config by their yaml tags and fails on any field that has no row
// in docs/configuration.md (its dotted path in backquotes, the type, the
// default and the meaning), a row whose type is not the field's, a row
// without a meaning, and a row that names no field.
func TestConfigurationDocumented(t *testing.T) {
	doc := readDoc(t, "configuration.md")
	fields := configFields(t, reflect.TypeFor[config.Config](), "")
	if len(fields) < 100 {
		t.Fatalf("found only %d configuration fields: the walk is broken", len(fields))
	}
	type row struct{ typ, def, meaning string }
	rows := map[string]row{}
	for _, m := range rowRE.FindAllStringSubmatch(doc, -1) {
		if _, dup := rows[m[1]]; dup {
			t.Errorf("docs/configuration.md has two rows for %s", m[1])
		}
		rows[m[1]] = row{strings.TrimSpace(m[2]), strings.TrimSpace(m[3]), strings.TrimSpace(m[4])}
	}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.path] = true
		r, ok := rows[f.path]
		switch {
		case !ok:
			t.Errorf("configuration field %s (%s) is not documented: add a row | `%s` | %s | default | meaning | to docs/configuration.md", f.path, f.typ, f.path, f.typ)
		case r.typ != f.typ:
			t.Errorf("docs/configuration.md: %s is a %s, the row says %q", f.path, f.typ, r.typ)
		case len(r.meaning) < 8:
			t.Errorf("docs/configuration.md: the row of %s says too little: %q", f.path, r.meaning)
		}
	}
	var extra []string
	for p := range rows {
		if !known[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		t.Errorf("docs/configuration.md documents %s, which is not a configuration field", p)
	}
	checkLinks(t, "configuration.md")
}
