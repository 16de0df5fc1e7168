// Command provost verifies token provenance for non-human identities.
//
// Usage:
//
//	provost check [--config FILE] [--json] REQUEST.json...
//	provost fingerprint [--config FILE] < credential
//	provost bindings lint|test|propose ...
//	provost hop sign --name NAME --key KEY.pem --method M --target T [--credential-stdin] [--prior VALUE]
//	provost version
//
// See the README for the configuration file and the request format.
package main

import (
	"context"
	"fmt"
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

const usage = `provost verifies token provenance for non-human identities.

Commands:
  demo         play the acceptance scenarios against a real server on loopback (start here); --keep DIR keeps the world
  dev          token | dpop | svid | posture: mint credentials for a world kept by demo --keep (demo keys only)
  config       check --config FILE: check the whole configuration and every file it names
  check        judge requests described in JSON files against a configuration, offline
  fingerprint  print the fingerprint of a credential read from standard input
  bindings     lint, test or propose bindings (provost bindings -h)
  hop sign     add this proxy's signed hop attestation to a Provost-Hop header value
  serve        the check API, forward-auth and (when configured) Envoy ext_authz and the admin API
  proxy        reverse proxy that judges each request and forwards allowed ones (adds its hop attestation)
  revoke       revoke a credential through the admin API
  revocations  list or delete revocations through the admin API
  admin        hash-token | status | reload, for the admin API
  trail        investigate the evidence log: verify, show, timeline, origins, blast-radius, export, report, backtest
  receipt      verify an evidence receipt offline (verify --key KEY FILE), or fetch one (get --server URL --index N)
  evidence     new-key FILE --name NAME: the signing key of the evidence log shared in PostgreSQL
  bench        load-test the check API, forward-auth and ext_authz, each in its own process, beside bare baselines, on loopback
  version      print the version, commit and Go version (also provost --version)

Run 'provost COMMAND -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "dev":
		return cmdDev(ctx, args[1:], stdout, stderr)
	case "config":
		return cmdConfig(ctx, args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(ctx, args[1:], stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "receipt":
		return cmdReceipt(ctx, args[1:], stdin, stdout, stderr)
	case "evidence":
		return cmdEvidence(ctx, args[1:], stdout, stderr)
	case "trail":
		return cmdTrail(ctx, args[1:], stdin, stdout, stderr)
	case "proxy":
		return cmdProxy(ctx, args[1:], stdout, stderr)
	case "revoke":
		return cmdRevoke(ctx, args[1:], stdin, stdout, stderr)
	case "revocations":
		return cmdRevocations(ctx, args[1:], stdin, stdout, stderr)
	case "admin":
		return cmdAdmin(ctx, args[1:], stdin, stdout, stderr)
	case "fingerprint":
		return cmdFingerprint(ctx, args[1:], stdin, stdout, stderr)
	case "hop":
		return cmdHop(args[1:], stdin, stdout, stderr)
	case "bindings":
		return cmdBindings(ctx, args[1:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
