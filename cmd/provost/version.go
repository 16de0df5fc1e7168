package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/provost-dev/provost/internal/buildinfo"
)

// buildInfo says which Provost this binary is: the version stamped with
// -ldflags -X main.version, else what Go recorded (buildinfo.Read).
type buildInfo buildinfo.Info

// readBuildInfo describes the binary from version and read
// (debug.ReadBuildInfo).
func readBuildInfo(stamped string, read func() (*debug.BuildInfo, bool)) buildInfo {
	return buildInfo(buildinfo.Read(stamped, read))
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

// cmdVersion is `provost version` and `provost --version`.
func cmdVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("version")
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "provost version: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	readBuildInfo(version, debug.ReadBuildInfo).write(stdout)
	return exitOK
}
