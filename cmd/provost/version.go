package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo says which Provost this binary is.
type buildInfo struct {
	Version   string // -ldflags -X main.version, else the module version, else "dev"
	Revision  string // vcs.revision: the commit built
	Time      string // vcs.time: the commit's time (RFC 3339)
	Modified  bool   // vcs.modified: built with uncommitted changes
	GoVersion string // the Go toolchain that built it
}

// readBuildInfo describes the binary from the version stamped at link time
// (stamped, "dev" when none) and the build information Go records in it
// (read: debug.ReadBuildInfo). A stamped version wins; a module version
// (go install module@version, or go build in a tagged checkout) comes
// next; "(devel)" names no version.
func readBuildInfo(stamped string, read func() (*debug.BuildInfo, bool)) buildInfo {
	b := buildInfo{Version: stamped, GoVersion: runtime.Version()}
	bi, ok := read()
	if !ok || bi == nil {
		return b
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	if (stamped == "" || stamped == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// write prints the version on the first line ("provost VERSION"), then one
// "key: value" line for each fact known.
func (b buildInfo) write(w io.Writer) {
	fmt.Fprintln(w, "provost", b.Version)
	if b.Revision != "" {
		mod := ""
		if b.Modified {
			mod = " (modified)"
		}
		fmt.Fprintf(w, "commit: %s%s\n", b.Revision, mod)
	}
	if b.Time != "" {
		fmt.Fprintf(w, "commit time: %s\n", b.Time)
	}
	fmt.Fprintf(w, "go: %s\n", b.GoVersion)
}

const versionUsage = `usage: provost version   (or provost --version)

Prints the version: the one stamped at build time (-ldflags "-X main.version=..."),
else the module version Go recorded (go install ...@VERSION), else "dev"; then the
commit, its time, whether the tree was modified, and the Go version.
`

// cmdVersion is `provost version` and `provost --version`.
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err == flag.ErrHelp {
		fmt.Fprint(stdout, versionUsage)
		return exitOK
	} else if err != nil || fs.NArg() > 0 {
		fmt.Fprint(stderr, versionUsage)
		return exitUsage
	}
	readBuildInfo(version, debug.ReadBuildInfo).write(stdout)
	return exitOK
}
