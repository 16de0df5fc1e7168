package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/provost-dev/provost/internal/evidencelog"
)

func evidenceNewKeyFlags() (*flag.FlagSet, *string) {
	fs := newFlagSet("evidence new-key")
	return fs, fs.String("name", "", "the log's `name` (its checkpoints' origin line)")
}

func evidenceNewKey(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, name := evidenceNewKeyFlags()
	// FILE may come before or after the flags.
	var files []string
	for {
		if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		files, args = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 || *name == "" {
		fmt.Fprintln(stderr, "provost evidence new-key: give one FILE and --name NAME")
		fs.Usage()
		return exitUsage
	}
	path := files[0]
	_, statErr := os.Lstat(path)
	vkey, err := evidencelog.CreateKeyFile(path, *name)
	if err != nil {
		fmt.Fprintln(stderr, "provost evidence new-key:", err)
		return exitFail
	}
	if statErr == nil {
		fmt.Fprintf(stderr, "provost evidence new-key: %s exists: kept its key\n", path)
	}
	fmt.Fprintln(stdout, vkey)
	return exitOK
}
