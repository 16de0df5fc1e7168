package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/hop/hopcli"
)

// runArgs runs the command line args through run with a canceled context
// in a temporary working directory: should a command fail to stop at its
// help or at a bad flag, it writes nothing here and serves nothing.
func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// allCommands is every command of the table, hidden ones included.
func allCommands() []*command {
	var cs []*command
	commands().walk(true, func(c *command) { cs = append(cs, c) })
	return cs
}

// helpLayout is a help output cut into its parts.
type helpLayout struct {
	usage    []string // the synopsis lines
	desc     string
	sections []string // "Commands:", "Flags:", in order
	commands []string // the names listed under Commands:
	flags    []string // the flags listed under Flags:, as typed
	footer   string
}

var helpFlagLine = regexp.MustCompile(`^  (-[-\w]+)(, --help)?( \S+)?$`)

// parseHelp checks the layout every help has: the synopsis; a blank line;
// the description; then "Commands:" (groups), "Flags:", each after a blank
// line; and for a group a last line saying where a command's help is.
func parseHelp(t *testing.T, out string) helpLayout {
	t.Helper()
	var h helpLayout
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the help does not end with a newline")
	}
	i := 0
	for ; i < len(lines) && lines[i] != ""; i++ {
		if (i == 0) != strings.HasPrefix(lines[i], "usage: provost") || (i > 0 && !strings.HasPrefix(lines[i], "       ")) {
			t.Fatalf("synopsis line %d: %q", i, lines[i])
		}
		h.usage = append(h.usage, lines[i])
	}
	i++ // the blank line
	var desc []string
	for ; i < len(lines) && lines[i] != "Commands:" && lines[i] != "Flags:"; i++ {
		desc = append(desc, lines[i])
	}
	h.desc = strings.TrimSpace(strings.Join(desc, "\n"))
	if len(desc) == 0 || desc[len(desc)-1] != "" || h.desc == "" {
		t.Fatalf("no description, or no blank line after it:\n%s", out)
	}
	section := ""
	for ; i < len(lines); i++ {
		line := lines[i]
		switch {
		case line == "Commands:" || line == "Flags:":
			section = line
			h.sections = append(h.sections, line)
		case line == "":
			section = "end"
		case section == "Commands:":
			name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			h.commands = append(h.commands, name)
		case section == "Flags:" && strings.HasPrefix(line, "        "):
		case section == "Flags:":
			m := helpFlagLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("flag line %q", line)
			}
			h.flags = append(h.flags, m[1])
		case section == "end" && h.footer == "":
			h.footer = line
		default:
			t.Fatalf("line %q out of place in:\n%s", line, out)
		}
	}
	return h
}

// Every command and group answers -h and --help (and provost help PATH)
// on standard output with exit 0, in the same layout, with the flags its
// own flag set parses, which are those the table's constructor declares.
func TestHelpEveryCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range allCommands() {
		t.Run(c.title(), func(t *testing.T) {
			var first string
			for _, h := range []string{"-h", "--help", "help"} {
				args := append(strings.Fields(c.path), h)
				if h == "help" { // provost help PATH...
					args = append([]string{"help"}, strings.Fields(c.path)...)
				}
				code, out, errOut := runArgs(t, args...)
				if code != exitOK || errOut != "" {
					t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
				}
				if !strings.HasPrefix(out, "usage: "+c.title()+" ") && !strings.HasPrefix(out, "usage: "+c.title()+"\n") {
					t.Fatalf("%v: stdout starts %.80q, want usage: %s", args, out, c.title())
				}
				if first == "" {
					first = out
				} else if out != first {
					t.Errorf("%v prints another help than %s -h:\n%s", args, c.title(), out)
				}
			}
			h := parseHelp(t, first)
			want := []string{"Flags:"}
			if c.group() {
				want = []string{"Commands:", "Flags:"}
				if wantFooter := "Run '" + c.title() + " COMMAND -h' for a command's help."; h.footer != wantFooter {
					t.Errorf("footer %q, want %q", h.footer, wantFooter)
				}
			} else if h.footer != "" {
				t.Errorf("a leaf with a footer: %q", h.footer)
			}
			if !slices.Equal(h.sections, want) {
				t.Errorf("sections %v, want %v", h.sections, want)
			}
			var subs []string
			for _, s := range c.visibleSubs() {
				subs = append(subs, s.name)
			}
			if !slices.Equal(h.commands, subs) {
				t.Errorf("lists commands %v, want %v", h.commands, subs)
			}
			var flags []string
			for _, d := range flagDocs(c.flagSet()) {
				flags = append(flags, d.dashed())
			}
			flags = append(flags, "-h")
			if !slices.Equal(h.flags, flags) {
				t.Errorf("the help lists flags %v; the table's constructor declares %v", h.flags, flags)
			}
		})
	}
}

// The table is complete: every command has a summary, a synopsis and a
// description; names are unique; a leaf runs.
func TestCommandTable(t *testing.T) {
	for _, c := range allCommands() {
		if c.summary == "" || len(c.usage) == 0 || strings.TrimSpace(c.help) == "" {
			t.Errorf("%s: summary %q, usage %q, help %q: each is required", c.title(), c.summary, c.usage, c.help)
		}
		if strings.HasSuffix(c.summary, ".") || strings.Contains(c.summary, "\n") {
			t.Errorf("%s: the summary is one line without a period: %q", c.title(), c.summary)
		}
		if len(c.subs) == 0 && c.run == nil {
			t.Errorf("%s: a leaf without run", c.title())
		}
		seen := map[string]bool{}
		for _, s := range c.subs {
			if seen[s.name] || s.name == "help" || strings.HasPrefix(s.name, "-") {
				t.Errorf("%s: subcommand name %q taken twice or reserved", c.title(), s.name)
			}
			seen[s.name] = true
		}
	}
}

// Dispatch goes through the command table only, so a command cannot be
// added beside it and be missing from the help, the completion scripts
// and the man pages: no function of the package but run looks at args[0]
// to pick a command.
func TestDispatchOnlyThroughTheTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	isArgs0 := func(e ast.Expr) bool {
		ix, ok := e.(*ast.IndexExpr)
		if !ok {
			return false
		}
		id, ok := ix.X.(*ast.Ident)
		lit, isLit := ix.Index.(*ast.BasicLit)
		return ok && id.Name == "args" && isLit && lit.Value == "0"
	}
	checked := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || fn.Name.Name == "run" || fn.Name.Name == "dispatch" {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SwitchStmt:
					if n.Tag != nil && isArgs0(n.Tag) {
						t.Errorf("%s: %s switches on args[0]: add the command to the table (commands.go) instead", fset.Position(n.Pos()), fn.Name.Name)
					}
				case *ast.BinaryExpr:
					if (n.Op == token.EQL || n.Op == token.NEQ) && (isArgs0(n.X) || isArgs0(n.Y)) {
						t.Errorf("%s: %s compares args[0]: add the command to the table (commands.go) instead", fset.Position(n.Pos()), fn.Name.Name)
					}
				}
				return true
			})
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d files: is the test in cmd/provost?", checked)
	}
	// And what run dispatches is the table: each command's help names it.
	for _, c := range allCommands() {
		if _, out, _ := runArgs(t, append(strings.Fields(c.path), "-h")...); !strings.HasPrefix(out, "usage: "+c.title()) {
			t.Errorf("%s -h does not reach %s: %.60q", c.title(), c.title(), out)
		}
	}
}

// A group refuses a word that names none of its commands; provost with
// no command prints its help on standard error.
func TestUnknownCommand(t *testing.T) {
	for _, c := range allCommands() {
		if len(c.subs) == 0 {
			continue
		}
		code, out, errOut := runArgs(t, append(strings.Fields(c.path), "frobnicate")...)
		want := `unknown command "frobnicate"`
		if c.run != nil { // a group with a bare form, which takes no argument
			want = `unexpected argument "frobnicate"`
		}
		if code != exitUsage || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("%s frobnicate: exit %d, stdout %q, stderr %q; want 2 and %q", c.title(), code, out, errOut, want)
		}
	}
	if code, out, errOut := runArgs(t); code != exitUsage || out != "" || !strings.HasPrefix(errOut, "usage: provost COMMAND") {
		t.Errorf("provost: exit %d, stdout %q, stderr %.60q", code, out, errOut)
	}
	if code, _, errOut := runArgs(t, "help", "frobnicate"); code != exitUsage || !strings.Contains(errOut, `no command "frobnicate"`) {
		t.Errorf("provost help frobnicate: exit %d, %q", code, errOut)
	}
}

// A flag error goes to standard error with exit 2 and names the flag,
// then the synopsis; for hop sign it names no value and no unknown flag,
// since either may be a mistyped credential.
func TestFlagErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range allCommands() {
		if c.run == nil {
			continue
		}
		args := append(strings.Fields(c.path), "--no-such-flag")
		code, out, errOut := runArgs(t, args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, "usage: "+c.title()) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		if mentions := strings.Contains(errOut, "no-such-flag"); mentions == c.secretArgs {
			t.Errorf("%v: stderr %q (the command's arguments are secret: %v)", args, errOut, c.secretArgs)
		}
	}
	const secret = "s3cr3t-value"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--rounds", "x"}, `invalid value "x" for flag -rounds`},
		{[]string{"trail", "show", "--limit", "many"}, "-limit"},
		{[]string{"receipt", "get", "--index", "x"}, "-index"},
		{[]string{"dev", "token", "--ttl", "forever"}, "-ttl"},
		{[]string{"serve", "--debug=maybe"}, "-debug"},
		{[]string{"proxy", "--pid-file"}, "flag needs an argument: -pid-file"},
		{[]string{"hop", "sign", "--credential-stdin=" + secret}, "invalid value for --credential-stdin"},
		{[]string{"hop", "sign", "--name"}, "flag needs an argument: --name"},
		{[]string{"hop", "sign", "-" + secret}, "invalid flags (not repeated here"},
		{[]string{"hop", "sign", "--name", "edge", secret}, "unexpected arguments (not repeated here"},
	} {
		code, out, errOut := runArgs(t, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
		if strings.Contains(errOut, secret) {
			t.Errorf("%v: stderr repeats the value: %q", tc.args, errOut)
		}
	}
}

// The same concept has the same flag everywhere, with the same value
// name, and no command spells it another way.
func TestFlagNamesConsistent(t *testing.T) {
	canonical := map[string]string{ // flag: its value's name; "" for a boolean
		"config":   "file",
		"data-dir": "directory",
		"json":     "",
		"listen":   "address",
		"pid-file": "file",
		"debug":    "",
	}
	aliases := []string{"data", "datadir", "data_dir", "dir", "cfg", "conf", "config-file", "configfile",
		"pidfile", "pid", "addr", "address", "listen-addr", "bind", "verbose", "output-json", "format-json"}
	for _, c := range allCommands() {
		for _, d := range flagDocs(c.flagSet()) {
			if arg, ok := canonical[d.name]; ok && d.arg != arg {
				t.Errorf("%s --%s takes %q, want %q as everywhere else", c.title(), d.name, d.arg, arg)
			}
			if slices.Contains(aliases, d.name) {
				t.Errorf("%s --%s: another name for a flag the other commands spell differently", c.title(), d.name)
			}
		}
	}
	// The two long-running commands take the same operational flags.
	for _, path := range []string{"serve", "proxy"} {
		fs := commands().find(path).flagSet()
		for _, name := range []string{"config", "data-dir", "listen", "pid-file", "debug"} {
			if fs.Lookup(name) == nil {
				t.Errorf("provost %s has no --%s", path, name)
			}
		}
	}
}

var synopsisFlag = regexp.MustCompile(`--[a-z][a-z0-9-]*`)

// Every flag a synopsis names exists (for a group, in one of its
// commands): a renamed flag cannot leave its old name in the help.
func TestSynopsisNamesRealFlags(t *testing.T) {
	for _, c := range allCommands() {
		defined := map[string]bool{}
		c.walk(true, func(d *command) {
			for _, f := range flagDocs(d.flagSet()) {
				defined[f.dashed()] = true
			}
		})
		for _, u := range c.usage {
			for _, f := range synopsisFlag.FindAllString(u, -1) {
				if !defined[f] {
					t.Errorf("%s: the synopsis %q names %s, which it does not take", c.title(), u, f)
				}
			}
		}
	}
}

// hop -h and hop sign -h agree: the group lists sign with its summary, and
// sign's synopsis names every flag it takes, the one hopcli prints too.
func TestHopHelpAgrees(t *testing.T) {
	_, group, _ := runArgs(t, "hop", "-h")
	_, leaf, _ := runArgs(t, "hop", "sign", "-h")
	sign := commands().find("hop sign")
	if first, _, _ := strings.Cut(group, "\n"); first != "usage: provost hop sign "+hopcli.Synopsis {
		t.Errorf("hop -h: %q", first)
	}
	if !strings.Contains(group, "  sign  "+sign.summary+"\n") {
		t.Errorf("hop -h does not list sign as %q:\n%s", sign.summary, group)
	}
	if first, _, _ := strings.Cut(leaf, "\n"); first != "usage: provost hop sign "+hopcli.Synopsis {
		t.Errorf("hop sign -h: %q", first)
	}
	inSynopsis := synopsisFlag.FindAllString(hopcli.Synopsis, -1)
	var defined []string
	for _, d := range flagDocs(sign.flagSet()) {
		defined = append(defined, d.dashed())
	}
	slices.Sort(inSynopsis)
	if !slices.Equal(inSynopsis, defined) {
		t.Errorf("hop sign's synopsis names %v, it takes %v", inSynopsis, defined)
	}
	var out bytes.Buffer
	if err := hopcli.SignCommand([]string{"-h"}, nil, &out); err != nil || !strings.HasPrefix(out.String(), "usage: provost hop sign "+hopcli.Synopsis+"\n") {
		t.Errorf("hopcli's own help: %v %q", err, out.String())
	}
}

// The README's command table names every command provost has.
func TestReadmeListsEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "\n## Commands\n")
	table, _, _ = strings.Cut(table, "\n## ")
	if !ok {
		t.Fatal("README.md has no ## Commands section")
	}
	for _, c := range commands().visibleSubs() {
		if !strings.Contains(table, "`provost "+c.name) {
			t.Errorf("README.md's command table does not name provost %s", c.name)
		}
	}
}
