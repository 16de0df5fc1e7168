package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/provost-dev/provost/internal/app"
)

// cmdFingerprint prints the fingerprint of a credential read from stdin, so
// an API key can be named in the configuration without being written there.
func cmdFingerprint(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost fingerprint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "provost.yaml", "configuration `file`")
	dataDir := fs.String("data-dir", "", "data `directory` (overrides data_dir in the configuration)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: provost fingerprint [--config FILE] < credential")
		fmt.Fprintln(stderr, "Reads one credential (first line of standard input) and prints its fingerprint under this data directory's server secret.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	line, err := bufio.NewReaderSize(io.LimitReader(stdin, 64<<10), 64<<10).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, "provost fingerprint: reading standard input:", err)
		return exitUsage
	}
	raw := strings.TrimRight(line, "\r\n")
	if raw == "" {
		fmt.Fprintln(stderr, "provost fingerprint: no credential on standard input")
		return exitUsage
	}
	a, err := app.Open(ctx, app.Options{ConfigFile: *cfgFile, DataDir: *dataDir})
	if err != nil {
		fmt.Fprintln(stderr, "provost fingerprint:", err)
		return exitUsage
	}
	defer a.Close()
	fmt.Fprintln(stdout, a.Fingerprint(raw))
	return exitOK
}
