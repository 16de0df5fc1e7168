// Command provost verifies token provenance for non-human identities.
//
// Usage:
//
//	provost COMMAND [flags]
//
// The commands are in the command table (commands.go); 'provost -h' lists
// them, 'provost COMMAND -h' describes one, and 'provost completion' and
// 'provost man' make shell completion and man pages from the same table.
// See the README for the configuration file and the request format.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // binding time windows name IANA zones; hosts may lack zoneinfo
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and found a problem
	exitUsage = 2 // the command was called wrongly or its input is bad
)

// run is the whole command line: args are those after the program's
// name. Every command is in the command table (commands.go).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	return dispatch(ctx, commands(), args, stdin, stdout, stderr)
}
