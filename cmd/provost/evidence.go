package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/provost-dev/provost/internal/evidencelog"
)

const evidenceUsage = `usage: provost evidence new-key FILE --name NAME
new-key writes a new signing key for the evidence log the replicas share in PostgreSQL
(storage.postgres.evidence_key_file, docs/scale-out.md) to FILE (mode 0600), and prints its
verifier key. NAME is the log's name, its checkpoints' origin line (no spaces or '+'). When FILE
exists and holds a key named NAME, it is kept and its verifier key printed. Give every replica
the same file, as a secret; it never goes into the database.
`

// cmdEvidence dispatches provost evidence SUBCOMMAND.
func cmdEvidence(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, evidenceUsage)
		return exitUsage
	}
	switch args[0] {
	case "new-key":
		return evidenceNewKey(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, evidenceUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost evidence: unknown subcommand %q\n\n%s", args[0], evidenceUsage)
	return exitUsage
}

func evidenceNewKey(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost evidence new-key", evidenceUsage, stderr)
	name := fs.String("name", "", "the log's `name` (its checkpoints' origin line)")
	// FILE may come before or after the flags.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files, args = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 || *name == "" {
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
