package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Man pages (roff, man(7) macros, section 1), one per visible command,
// made from the command table as the help is.

// manPageName is the file of c's page: provost.1, provost-trail-show.1.
func manPageName(c *command) string {
	return manName(c) + ".1"
}

// manName is c's name in the man pages: provost-trail-show.
func manName(c *command) string {
	return strings.Join(append([]string{"provost"}, strings.Fields(c.path)...), "-")
}

// cmdMan is provost man DIR: it writes every page into DIR and prints
// each file's path.
func cmdMan(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("man")
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "provost man: name one DIR")
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "provost man:", err)
		return exitFail
	}
	root := commands()
	source := "provost " + readBuildInfo(version, debug.ReadBuildInfo).Version
	code := exitOK
	root.walk(false, func(c *command) {
		if code != exitOK {
			return
		}
		path := filepath.Join(dir, manPageName(c))
		if err := os.WriteFile(path, []byte(manPage(c, source)), 0o644); err != nil {
			fmt.Fprintln(stderr, "provost man:", err)
			code = exitFail
			return
		}
		fmt.Fprintln(stdout, path)
	})
	return code
}

// manPage is c's page; source names the software ("provost v1.2.3").
func manPage(c *command, source string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 1 \"\" %s \"Provost Manual\"\n", roffQuoted(strings.ToUpper(manName(c))), roffQuoted(source))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roffText(manName(c)), roffText(c.summary))

	b.WriteString(".SH SYNOPSIS\n.nf\n")
	for i, u := range c.usage {
		if i > 0 && strings.HasPrefix(u, " ") { // continues the form before
			fmt.Fprintf(&b, "%*s%s\n", len(c.title())+1, "", roffText(strings.TrimSpace(u)))
			continue
		}
		fmt.Fprintf(&b, "\\fB%s\\fR", roffText(c.title()))
		if u != "" {
			b.WriteString(" " + roffText(u))
		}
		b.WriteString("\n")
	}
	b.WriteString(".fi\n")

	b.WriteString(".SH DESCRIPTION\n")
	for i, para := range strings.Split(strings.TrimSpace(c.help), "\n\n") {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		listed := false // in an indented list, set without filling
		for _, line := range strings.Split(para, "\n") {
			indented := strings.HasPrefix(line, " ")
			switch {
			case indented && !listed:
				b.WriteString(".nf\n")
			case !indented && listed:
				b.WriteString(".fi\n")
			}
			listed = indented
			b.WriteString(roffText(line) + "\n")
		}
		if listed {
			b.WriteString(".fi\n")
		}
	}

	if subs := c.visibleSubs(); len(subs) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, s := range subs {
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s; see \\fB%s\\fR(1).\n", roffText(s.name), roffText(s.summary), roffText(manName(s)))
		}
	}

	b.WriteString(".SH OPTIONS\n")
	for _, d := range flagDocs(c.flagSet()) {
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR", roffText(d.dashed()))
		if d.arg != "" {
			fmt.Fprintf(&b, " \\fI%s\\fR", roffText(d.arg))
		}
		usage := d.usage
		if d.def != "" {
			usage += " (default " + d.def + ")"
		}
		fmt.Fprintf(&b, "\n%s\n", roffText(usage))
	}
	fmt.Fprintf(&b, ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n%s\n", roffText(helpFlag.usage))

	b.WriteString(`.SH EXIT STATUS
.TP
0
success
.TP
1
the command ran and found a problem (a failing policy test, a lint warning)
.TP
2
bad usage or bad input
`)

	var see []string
	if c.path != "" {
		parent := commands().find(strings.Join(strings.Fields(c.path)[:len(strings.Fields(c.path))-1], " "))
		if parent != nil {
			see = append(see, fmt.Sprintf("\\fB%s\\fR(1)", roffText(manName(parent))))
		}
	}
	for _, s := range c.visibleSubs() {
		see = append(see, fmt.Sprintf("\\fB%s\\fR(1)", roffText(manName(s))))
	}
	if len(see) > 0 {
		fmt.Fprintf(&b, ".SH SEE ALSO\n%s\n", strings.Join(see, ",\n"))
	}
	return b.String()
}

// roffText escapes s for roff text: backslashes, a leading control
// character, and the dashes of options (\- is a minus, which a reader can
// copy and paste; a hyphen inside a word stays a hyphen).
func roffText(s string) string {
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-' && (prev == ' ' || prev == '-' || strings.ContainsRune("[(|=,'\"", prev)):
			b.WriteString(`\-`)
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	out := b.String()
	if strings.HasPrefix(out, ".") || strings.HasPrefix(out, "'") {
		out = `\&` + out
	}
	return out
}

// roffQuoted is s as one quoted macro argument.
func roffQuoted(s string) string {
	return `"` + strings.ReplaceAll(roffText(s), `"`, `""`) + `"`
}
