package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// runFunc is what a command runs: its arguments are those after its name.
type runFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// command is one entry of the command table (commands.go): a leaf that
// parses its flags and runs, a group of subcommands, or a group whose bare
// form runs too (revocations, bench). Dispatch, -h and --help, shell
// completion and man pages are all made from it.
type command struct {
	name    string
	summary string   // one line, lower case, no period: listings, man NAME, completion
	usage   []string // synopsis forms, each after "provost PATH "; " ..." continues the one before
	help    string   // the description: paragraphs, wrapped at about 100 columns
	// flags builds the flag set the command parses (the command's own
	// constructor, so help, completion and man pages show exactly the
	// flags it takes); nil when it takes none.
	flags func() *flag.FlagSet
	run   runFunc // nil for a pure group
	subs  []*command
	// hidden commands are internal: dispatched, but not listed, completed
	// or given a man page.
	hidden bool
	// secretArgs: a flag error does not repeat the arguments, since one
	// may be a mistyped credential.
	secretArgs bool

	path string // set by setPaths: "trail show"; "" for provost itself
}

// setPaths fills in the path of c and of every command under it.
func (c *command) setPaths(path string) *command {
	c.path = path
	for _, s := range c.subs {
		s.setPaths(strings.TrimSpace(path + " " + s.name))
	}
	return c
}

// title is how a person types the command: "provost trail show".
func (c *command) title() string { return commandTitle(c.path) }

func commandTitle(path string) string { return strings.TrimSpace("provost " + path) }

// group reports whether c has subcommands to list.
func (c *command) group() bool { return len(c.visibleSubs()) > 0 }

func (c *command) sub(name string) *command {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

func (c *command) visibleSubs() []*command {
	var subs []*command
	for _, s := range c.subs {
		if !s.hidden {
			subs = append(subs, s)
		}
	}
	return subs
}

// walk calls fn on c and every command under it, parents first; hidden
// commands (and what is under them) only when withHidden.
func (c *command) walk(withHidden bool, fn func(*command)) {
	if c.hidden && !withHidden {
		return
	}
	fn(c)
	for _, s := range c.subs {
		s.walk(withHidden, fn)
	}
}

// flagSet is the command's flags, declared by its own constructor; an
// empty set when it takes none.
func (c *command) flagSet() *flag.FlagSet {
	if c.flags == nil {
		return newFlagSet(c.path)
	}
	return c.flags()
}

// find returns the command at path under c, or nil.
func (c *command) find(path string) *command {
	for _, name := range strings.Fields(path) {
		if c = c.sub(name); c == nil {
			return nil
		}
	}
	return c
}

// lookupCommand returns the command of the table at path ("trail show"); a bare
// stand-in when the table has none, so a help never fails.
func lookupCommand(path string) *command {
	if c := commands().find(path); c != nil {
		return c
	}
	return (&command{name: path, usage: []string{"[flags]"}}).setPaths(path)
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// dispatch runs c with args: a leaf runs; a group runs the subcommand args
// names, prints its help for -h, --help or help (help COMMAND... prints
// that command's), and refuses an unknown name; a group with a bare form
// runs it when args name no subcommand.
func dispatch(ctx context.Context, c *command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(c.subs) == 0 {
		return c.run(ctx, args, stdin, stdout, stderr)
	}
	if len(args) == 0 {
		if c.run != nil {
			return c.run(ctx, args, stdin, stdout, stderr)
		}
		writeHelp(stderr, c, c.flagSet())
		return exitUsage
	}
	switch {
	case isHelp(args[0]):
		writeHelp(stdout, c, c.flagSet())
		return exitOK
	case args[0] == "help":
		target := c.find(strings.Join(args[1:], " "))
		if target == nil {
			fmt.Fprintf(stderr, "%s help: no command %q\nRun '%s -h' for its commands.\n", c.title(), strings.Join(args[1:], " "), c.title())
			return exitUsage
		}
		writeHelp(stdout, target, target.flagSet())
		return exitOK
	}
	if s := c.sub(args[0]); s != nil {
		return dispatch(ctx, s, args[1:], stdin, stdout, stderr)
	}
	if c.run != nil {
		return c.run(ctx, args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", c.title(), args[0])
	writeShortUsage(stderr, c)
	return exitUsage
}

// newFlagSet returns the flag set of the command at path, for
// parseArgs; its Usage prints the command's short usage.
func newFlagSet(path string) *flag.FlagSet {
	fs := flag.NewFlagSet(commandTitle(path), flag.ContinueOnError)
	fs.Usage = func() { writeShortUsage(fs.Output(), lookupCommand(path)) }
	return fs
}

// parseArgs parses args into fs, a flag set from newFlagSet. It returns
// -1 when the command goes on, else its exit code: 0 after printing the
// command's help on stdout for -h or --help; 2 after naming the bad flag
// on stderr. After it, fs's output (fs.Usage) is stderr.
func parseArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package calls it on every error
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(stderr)
	if err == nil {
		return -1
	}
	c := lookupCommand(strings.TrimSpace(strings.TrimPrefix(fs.Name(), "provost")))
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout, c, fs)
		return exitOK
	}
	if c.secretArgs {
		fmt.Fprintf(stderr, "%s: %s\n", c.title(), secretFlagError(fs, err))
	} else {
		fmt.Fprintf(stderr, "%s: %v\n", c.title(), err)
	}
	writeShortUsage(stderr, c)
	return exitUsage
}

// secretFlagError says what is wrong with the flags without repeating
// what was typed: it names a flag fs defines, never a value or an unknown
// name (either may be a mistyped credential).
func secretFlagError(fs *flag.FlagSet, err error) string {
	const notRepeated = " (not repeated here, in case it is a credential)"
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok && fs.Lookup(name) != nil {
		return "flag needs an argument: --" + name
	}
	// invalid value "V" for flag -NAME: ..., invalid boolean value "V" for -NAME: ...
	for _, prefix := range []string{"invalid value ", "invalid boolean value "} {
		rest, ok := strings.CutPrefix(msg, prefix)
		if !ok {
			continue
		}
		quoted, err := strconv.QuotedPrefix(rest)
		if err != nil {
			break
		}
		rest = strings.TrimPrefix(strings.TrimPrefix(rest[len(quoted):], " for "), "flag ")
		name, _, _ := strings.Cut(strings.TrimPrefix(rest, "-"), ":")
		if fs.Lookup(name) != nil {
			return "invalid value for --" + name + notRepeated
		}
	}
	return "invalid flags" + strings.Replace(notRepeated, "it is", "one is", 1)
}

// flagDoc describes one flag for help, man pages and completion.
type flagDoc struct {
	name  string // without dashes
	arg   string // the value's name ("file"); "" for a boolean flag
	usage string
	def   string // the default as shown, "" when there is none worth showing
}

// dashed is the flag as typed: --config, or -v for a one-letter flag.
func (d flagDoc) dashed() string {
	if utf8.RuneCountInString(d.name) == 1 {
		return "-" + d.name
	}
	return "--" + d.name
}

// takesValue reports whether the flag reads the next argument.
func (d flagDoc) takesValue() bool { return d.arg != "" && !strings.HasPrefix(d.arg, "[") }

// helpFlag is -h, --help, which every command takes.
var helpFlag = flagDoc{name: "help", usage: "print this help"}

// flagDocs lists fs's flags in order of name.
func flagDocs(fs *flag.FlagSet) []flagDoc {
	var docs []flagDoc
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() && arg != "" {
			arg = "[" + arg + "]" // a boolean flag that may name a value (demo --keep [DIR])
		}
		d := flagDoc{name: f.Name, arg: arg, usage: usage}
		switch f.DefValue {
		case "", "0", "false", "0s", "[]":
		default:
			d.def = f.DefValue
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isString := g.Get().(string); isString {
					d.def = fmt.Sprintf("%q", f.DefValue)
				}
			}
		}
		docs = append(docs, d)
	})
	return docs
}

// writeUsageLines prints the synopsis: "usage: provost PATH ..." then one
// aligned line per other form. A form that starts with a space continues
// the one before it.
func writeUsageLines(w io.Writer, c *command) {
	usage := c.usage
	if len(usage) == 0 {
		usage = []string{"[flags]"}
	}
	const lead = "usage: "
	for i, u := range usage {
		switch {
		case i == 0:
			fmt.Fprintf(w, "%s%s\n", lead, strings.TrimSpace(c.title()+" "+u))
		case strings.HasPrefix(u, " "):
			fmt.Fprintf(w, "%*s%s\n", len(lead)+len(c.title())+1, "", strings.TrimSpace(u))
		default:
			fmt.Fprintf(w, "%*s%s\n", len(lead), "", strings.TrimSpace(c.title()+" "+u))
		}
	}
}

// writeShortUsage is what a wrong call prints after its error: the
// synopsis and where the help is.
func writeShortUsage(w io.Writer, c *command) {
	writeUsageLines(w, c)
	fmt.Fprintf(w, "Run '%s -h' for help.\n", c.title())
}

// writeHelp prints c's help, in the layout of every command: the
// synopsis, the description, the subcommands (groups), the flags, and
// for a group where to read a subcommand's help.
func writeHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	writeUsageLines(w, c)
	fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	if subs := c.visibleSubs(); len(subs) > 0 {
		fmt.Fprint(w, "\nCommands:\n")
		width := 0
		for _, s := range subs {
			width = max(width, len(s.name))
		}
		for _, s := range subs {
			fmt.Fprintf(w, "  %-*s  %s\n", width, s.name, s.summary)
		}
	}
	fmt.Fprint(w, "\nFlags:\n")
	for _, d := range flagDocs(fs) {
		writeFlag(w, d.dashed(), d)
	}
	writeFlag(w, "-h, --help", helpFlag)
	if c.group() {
		fmt.Fprintf(w, "\nRun '%s COMMAND -h' for a command's help.\n", c.title())
	}
}

func writeFlag(w io.Writer, dashed string, d flagDoc) {
	fmt.Fprintf(w, "  %s", dashed)
	if d.arg != "" {
		fmt.Fprintf(w, " %s", d.arg)
	}
	usage := strings.ReplaceAll(d.usage, "\n", "\n        ")
	if d.def != "" {
		usage += " (default " + d.def + ")"
	}
	fmt.Fprintf(w, "\n        %s\n", usage)
}

// flagsOf adapts a command's flag constructor, which also returns where
// the values land, to command.flags.
func flagsOf[T any](newFlags func() (*flag.FlagSet, T)) func() *flag.FlagSet {
	return func() *flag.FlagSet {
		fs, _ := newFlags()
		return fs
	}
}

// The flags several commands share, declared here so that each has the
// same name, value name and wording everywhere.

// configFlag is --config FILE, default provost.yaml; what says what the
// command reads from it.
func configFlag(fs *flag.FlagSet, p *string, what string) {
	fs.StringVar(p, "config", defaultConfigFile, "configuration `file`"+what)
}

// dataDirFlag is --data-dir DIR.
func dataDirFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "data-dir", "", "data `directory` (overrides data_dir in the configuration)")
}

// debugFlag is --debug: log at debug level; what says what that adds.
func debugFlag(fs *flag.FlagSet, p *bool, what string) {
	fs.BoolVar(p, "debug", false, "log at debug level: "+what)
}

// pidFileFlag is --pid-file FILE.
func pidFileFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "pid-file", "", "write the process id to `file` while running (removed on exit), for a helper that sends SIGHUP (e.g. spiffe-helper)")
}
