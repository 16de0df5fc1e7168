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

// fingerprintOptions are provost fingerprint's flags.
type fingerprintOptions struct{ config, dataDir string }

func fingerprintFlags() (*flag.FlagSet, *fingerprintOptions) {
	fs := newFlagSet("fingerprint")
	o := &fingerprintOptions{}
	configFlag(fs, &o.config, "")
	dataDirFlag(fs, &o.dataDir)
	return fs, o
}

// cmdFingerprint prints the fingerprint of a credential read from stdin, so
// an API key can be named in the configuration without being written there.
func cmdFingerprint(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, o := fingerprintFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "provost fingerprint: unexpected argument %q (the credential is read from standard input)\n", fs.Arg(0))
		fs.Usage()
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
	a, err := app.Open(ctx, app.Options{ConfigFile: o.config, DataDir: o.dataDir})
	if err != nil {
		fmt.Fprintln(stderr, "provost fingerprint:", err)
		return exitUsage
	}
	defer a.Close()
	fmt.Fprintln(stdout, a.Fingerprint(raw))
	return exitOK
}
