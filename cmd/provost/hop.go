package main

import (
	"fmt"
	"io"

	"github.com/provost-dev/provost/internal/hop/hopcli"
)

func cmdHop(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "sign" {
		fmt.Fprintln(stderr, "usage: provost hop sign --name NAME --key KEY.pem --method METHOD --target TARGET [--credential-stdin] [--prior VALUE]")
		return exitUsage
	}
	if err := hopcli.SignCommand(args[1:], stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "provost hop sign:", err)
		return exitUsage
	}
	return exitOK
}
