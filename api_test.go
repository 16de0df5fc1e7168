package provost_test

import (
	"encoding/json"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// Every exported identifier of the module's public packages is owned by a
// public package: an embedder can name every type it is handed. The test
// reads the compiler's export data of each public package and walks every
// exported declaration, field, method and signature for a type declared
// under internal/.
func TestPublicAPINamesNoInternalType(t *testing.T) {
	exports, public := exportData(t)
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	var leaks []string
	for _, path := range public {
		pkg, err := imp.Import(path)
		if err != nil {
			t.Fatalf("importing %s: %v", path, err)
		}
		for _, name := range pkg.Scope().Names() {
			obj := pkg.Scope().Lookup(name)
			if !obj.Exported() {
				continue
			}
			w := &apiWalker{seen: map[types.Type]bool{}}
			w.walk(obj.Type(), path+"."+name)
			if tn, ok := obj.(*types.TypeName); ok {
				w.methods(tn.Type(), path+"."+name)
			}
			leaks = append(leaks, w.leaks...)
		}
	}
	if len(public) < 5 {
		t.Fatalf("found only %d public packages: %v", len(public), public)
	}
	sort.Strings(leaks)
	for _, l := range leaks {
		t.Error(l)
	}
}

// The root package stays small: what an embedder needs and no more.
func TestRootAPIIsSmall(t *testing.T) {
	out, err := exec.Command("go", "doc", "-short", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	// go doc -short prints one line per top-level declaration group.
	if n == 0 || n > 25 {
		t.Fatalf("the root package declares %d top-level identifiers (at most 25):\n%s", n, out)
	}
}

type apiWalker struct {
	seen  map[types.Type]bool
	leaks []string
}

func (w *apiWalker) walk(typ types.Type, where string) {
	if typ == nil || w.seen[typ] {
		return
	}
	w.seen[typ] = true
	switch tt := typ.(type) {
	case *types.Alias:
		w.check(tt.Obj(), where)
		w.walk(types.Unalias(tt), where)
	case *types.Named:
		w.check(tt.Obj(), where)
		for i := 0; i < tt.TypeArgs().Len(); i++ {
			w.walk(tt.TypeArgs().At(i), where)
		}
		w.walk(tt.Underlying(), where)
		w.methods(tt, where)
	case *types.Pointer:
		w.walk(tt.Elem(), where)
	case *types.Slice:
		w.walk(tt.Elem(), where)
	case *types.Array:
		w.walk(tt.Elem(), where)
	case *types.Map:
		w.walk(tt.Key(), where)
		w.walk(tt.Elem(), where)
	case *types.Chan:
		w.walk(tt.Elem(), where)
	case *types.Signature:
		for i := 0; i < tt.Params().Len(); i++ {
			w.walk(tt.Params().At(i).Type(), where)
		}
		for i := 0; i < tt.Results().Len(); i++ {
			w.walk(tt.Results().At(i).Type(), where)
		}
	case *types.Struct:
		for i := 0; i < tt.NumFields(); i++ {
			if f := tt.Field(i); f.Exported() {
				w.walk(f.Type(), where+"."+f.Name())
			}
		}
	case *types.Interface:
		for i := 0; i < tt.NumMethods(); i++ {
			if m := tt.Method(i); m.Exported() {
				w.walk(m.Type(), where+"."+m.Name())
			}
		}
	}
}

// methods walks the exported methods of a named type and of its pointer.
func (w *apiWalker) methods(typ types.Type, where string) {
	for _, t := range []types.Type{typ, types.NewPointer(typ)} {
		ms := types.NewMethodSet(t)
		for i := 0; i < ms.Len(); i++ {
			if m := ms.At(i).Obj(); m.Exported() {
				w.walk(m.Type(), where+"."+m.Name())
			}
		}
	}
}

func (w *apiWalker) check(obj *types.TypeName, where string) {
	if obj.Pkg() != nil && isInternal(obj.Pkg().Path()) {
		w.leaks = append(w.leaks, fmt.Sprintf("%s mentions %s.%s, a type of an internal package", where, obj.Pkg().Path(), obj.Name()))
	}
}

func isInternal(path string) bool {
	return strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal")
}

// exportData builds the module's packages and returns where the compiler
// put each package's export data, and the public packages of the module.
func exportData(t *testing.T) (map[string]string, []string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-export", "-deps", "-json=ImportPath,Export,Module,Name,Standard", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	exports := map[string]string{}
	var public []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath, Export, Name string
			Standard                 bool
			Module                   *struct{ Path string }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if p.Module != nil && p.Module.Path == "github.com/provost-dev/provost" && p.Name != "main" &&
			!isInternal(p.ImportPath) && !strings.Contains(p.ImportPath, "/examples/") {
			public = append(public, p.ImportPath)
		}
	}
	return exports, public
}
