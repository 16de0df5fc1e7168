package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// provost man DIR writes one page per visible command, and prints each
// path; groff reads every page without a warning, and man shows it.
func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	code, out, errOut := runArgs(t, "man", dir)
	if code != exitOK || errOut != "" {
		t.Fatalf("provost man: exit %d, stderr %q", code, errOut)
	}
	var want []string
	commands().walk(false, func(c *command) { want = append(want, filepath.Join(dir, manPageName(c))) })
	printed := strings.Fields(out)
	if !slices.Equal(printed, want) {
		t.Fatalf("printed %v\nwant %v", printed, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(want) {
		t.Fatalf("%s holds %d files (%v), want %d", dir, len(entries), err, len(want))
	}
	for _, name := range []string{"provost.1", "provost-serve.1", "provost-trail-show.1", "provost-hop-sign.1", "provost-completion-zsh.1"} {
		if !slices.Contains(want, filepath.Join(dir, name)) {
			t.Errorf("no %s", name)
		}
	}
	if slices.Contains(want, filepath.Join(dir, "provost-bench-serve.1")) {
		t.Error("a page for the internal bench serve")
	}

	// Each page says what the help says.
	commands().walk(false, func(c *command) {
		page, err := os.ReadFile(filepath.Join(dir, manPageName(c)))
		if err != nil {
			t.Fatal(err)
		}
		p := string(page)
		for _, s := range []string{".TH " + roffQuoted(strings.ToUpper(manName(c))) + " 1 ", ".SH NAME\n" + roffText(manName(c)) + " \\- " + roffText(c.summary) + "\n",
			".SH SYNOPSIS\n", ".SH DESCRIPTION\n", ".SH OPTIONS\n", "\\fB\\-\\-help\\fR", ".SH EXIT STATUS\n"} {
			if !strings.Contains(p, s) {
				t.Errorf("%s lacks %q", manPageName(c), s)
			}
		}
		for _, d := range flagDocs(c.flagSet()) {
			if !strings.Contains(p, ".TP\n\\fB"+roffText(d.dashed())+"\\fR") {
				t.Errorf("%s does not describe %s", manPageName(c), d.dashed())
			}
		}
		for _, s := range c.visibleSubs() {
			if !strings.Contains(p, "\\fB"+roffText(manName(s))+"\\fR(1)") {
				t.Errorf("%s does not point to %s(1)", manPageName(c), manName(s))
			}
		}
	})

	groff := needTool(t, "groff", "the man pages are checked with groff -ww and man -l (Debian: groff-base, man-db)")
	for _, path := range want {
		var stderr bytes.Buffer
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", path)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("groff -man -ww %s: %v\n%s", filepath.Base(path), err, stderr.String())
		}
	}
	man := needTool(t, "man", "the man pages are checked with man -l (Debian: man-db)")
	for _, c := range []*command{commands(), commands().find("trail show"), commands().find("revoke")} {
		cmd := exec.Command(man, "-l", filepath.Join(dir, manPageName(c)))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=100", "LANG=C.UTF-8")
		got, err := cmd.CombinedOutput()
		// man renders "-" as a hyphen or a minus; compare without them.
		plain := strings.NewReplacer("\u2212", "-", "\u2010", "-").Replace(string(got))
		if err != nil || !strings.Contains(plain, "NAME") || !strings.Contains(plain, manName(c)+" - "+c.summary) || !strings.Contains(plain, "--help") {
			t.Errorf("man -l %s: %v\n%s", manPageName(c), err, got)
		}
	}
}

func TestManUsage(t *testing.T) {
	if code, _, errOut := runArgs(t, "man"); code != exitUsage || !strings.Contains(errOut, "usage: provost man DIR") {
		t.Errorf("provost man: exit %d, %q", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runArgs(t, "man", file); code != exitFail || !strings.Contains(errOut, "provost man:") {
		t.Errorf("provost man FILE: exit %d, %q", code, errOut)
	}
}

func TestRoffText(t *testing.T) {
	for in, want := range map[string]string{
		"--config FILE":             `\-\-config FILE`,
		"read-only, -v":             `read-only, \-v`,
		`C:\path`:                   `C:\epath`,
		".dot first":                `\&.dot first`,
		"'quote first":              `\&'quote first`,
		"[--json] (--dpop) a|--b":   `[\-\-json] (\-\-dpop) a|\-\-b`,
		"x=--y, 'provost demo -v'.": `x=\-\-y, 'provost demo \-v'.`,
	} {
		if got := roffText(in); got != want {
			t.Errorf("roffText(%q) = %q, want %q", in, got, want)
		}
	}
}
