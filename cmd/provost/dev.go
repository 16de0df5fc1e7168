package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/devworld"
)

const devUsage = `usage: provost dev COMMAND (--world DIR | --config DIR/provost.yaml) ...

Mints credentials for a demo world kept by 'provost demo --keep DIR', with its DEMO-ONLY keys
(DIR/demo-keys). It refuses any other keys, so it never mints with production ones.

Commands:
  token    --sub SUB [--aud AUD] [--ttl 1h] [--claim NAME=VALUE]... [--claims JSON] [--dpop]
           an access token signed by the world's issuer (--dpop: bound to the kept DPoP key)
  dpop     --method METHOD --url URL|/PATH [--token TOKEN]
           a DPoP proof signed by the kept DPoP key, for one request (a path is on the world's origin)
  svid     [--jwt [--aud AUD]] [--ttl 1h] [--cert-out FILE --key-out FILE] SPIFFE_ID
           an X.509-SVID (certificate and key, PEM) from the world's SPIFFE CA, or a JWT-SVID
  posture  --host HOST [--runner TYPE] [--os OS] --token TOKEN [--aud AUD]
           a posture attestation signed by the world's attestor, bound to the token

Each prints what it minted on standard output and a warning on standard error.
Run 'provost dev COMMAND -h' for a command's flags.
`

// devWarning is printed on standard error by every dev command.
const devWarning = "WARNING: provost dev mints credentials with DEMO-ONLY keys. They are for trying Provost on a demo world; never use them, this world or anything minted here in production."

func cmdDev(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, devUsage)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "token":
		return devToken(rest, stdout, stderr)
	case "dpop":
		return devDPoP(rest, stdout, stderr)
	case "svid":
		return devSVID(rest, stdout, stderr)
	case "posture":
		return devPosture(rest, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, devUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost dev: unknown command %q\n\n%s", sub, devUsage)
	return exitUsage
}

// devFlags are the flags every dev command has: which world.
type devFlags struct {
	fs            *flag.FlagSet
	world, config string
}

func newDevFlags(sub, usage string, stderr io.Writer) *devFlags {
	d := &devFlags{fs: flagSet("provost dev "+sub, usage, stderr)}
	d.fs.StringVar(&d.world, "world", "", "the `folder` 'provost demo --keep' kept the world in")
	d.fs.StringVar(&d.config, "config", "", "the kept world's configuration `file` (DIR/provost.yaml)")
	return d
}

// parse parses args, wanting nargs positional arguments.
func (d *devFlags) parse(args []string, nargs int) bool {
	if err := d.fs.Parse(args); err != nil {
		return false
	}
	if d.fs.NArg() != nargs || (d.world == "") == (d.config == "") {
		if (d.world == "") == (d.config == "") {
			fmt.Fprintln(d.fs.Output(), "give exactly one of --world DIR and --config FILE")
		}
		d.fs.Usage()
		return false
	}
	return true
}

// open warns, then opens the world, refusing keys that are not demo keys.
func (d *devFlags) open(stderr io.Writer) (*devworld.World, int) {
	fmt.Fprintln(stderr, devWarning)
	cfg := d.config
	if d.world != "" {
		cfg = filepath.Join(d.world, "provost.yaml")
	}
	w, err := devworld.Open(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", d.fs.Name(), err)
		if errors.Is(err, devworld.ErrNotDemo) {
			fmt.Fprintf(stderr, "%s: refused: it mints only with the keys 'provost demo --keep DIR' marks as demo-only\n", d.fs.Name())
		}
		return nil, exitFail
	}
	return w, exitOK
}

// claimFlag collects --claim NAME=VALUE (string claims).
type claimFlag map[string]any

func (c claimFlag) String() string { return "" }
func (c claimFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	c[name] = value
	return nil
}

func devToken(args []string, stdout, stderr io.Writer) int {
	d := newDevFlags("token", "usage: provost dev token (--world DIR | --config FILE) --sub SUB [--aud AUD] [--ttl 1h] [--claim NAME=VALUE]... [--claims JSON] [--dpop]\n"+
		"Prints an access token (at+jwt) signed by the demo world's issuer. Demo worlds only.", stderr)
	o := devworld.TokenOptions{Extra: map[string]any{}}
	d.fs.StringVar(&o.Subject, "sub", "", "the token's `subject` (sub), e.g. svc:reports")
	d.fs.StringVar(&o.Audience, "aud", "", "the token's `audience` (default: the world's)")
	d.fs.DurationVar(&o.TTL, "ttl", time.Hour, "how long the token is valid, at most 24h")
	d.fs.Var(claimFlag(o.Extra), "claim", "a string claim `NAME=VALUE` (repeatable)")
	claims := d.fs.String("claims", "", "more claims as a JSON `object`, e.g. '{\"act\":{\"sub\":\"x\"}}'")
	d.fs.BoolVar(&o.DPoP, "dpop", false, "bind the token to the kept DPoP key (cnf.jkt); send it with 'provost dev dpop' proofs")
	if !d.parse(args, 0) {
		return exitUsage
	}
	if o.Subject == "" {
		fmt.Fprintln(stderr, "provost dev token: --sub is required")
		return exitUsage
	}
	if *claims != "" {
		var more map[string]any
		if err := json.Unmarshal([]byte(*claims), &more); err != nil {
			fmt.Fprintf(stderr, "provost dev token: --claims: not a JSON object: %v\n", err)
			return exitUsage
		}
		for k, v := range more {
			o.Extra[k] = v
		}
	}
	w, code := d.open(stderr)
	if w == nil {
		return code
	}
	tok, err := w.Token(o)
	return devPrint(stdout, stderr, "provost dev token", tok, err)
}

func devDPoP(args []string, stdout, stderr io.Writer) int {
	d := newDevFlags("dpop", "usage: provost dev dpop (--world DIR | --config FILE) --method METHOD --url URL|/PATH [--token TOKEN]\n"+
		"Prints a DPoP proof (RFC 9449) signed by the kept DPoP key for one request. Demo worlds only.", stderr)
	method := d.fs.String("method", "", "the request's HTTP `method`, e.g. POST")
	target := d.fs.String("url", "", "the request's `URL` (htu), or a path on the world's origin, e.g. /v1/tools/run")
	token := d.fs.String("token", "", "the access `token` the proof goes with (its ath)")
	if !d.parse(args, 0) {
		return exitUsage
	}
	if *method == "" || *target == "" {
		fmt.Fprintln(stderr, "provost dev dpop: --method and --url are required")
		return exitUsage
	}
	w, code := d.open(stderr)
	if w == nil {
		return code
	}
	proof, err := w.DPoP(*method, *target, *token)
	return devPrint(stdout, stderr, "provost dev dpop", proof, err)
}

func devSVID(args []string, stdout, stderr io.Writer) int {
	d := newDevFlags("svid", "usage: provost dev svid (--world DIR | --config FILE) [--jwt [--aud AUD]] [--ttl 1h] [--cert-out FILE --key-out FILE] SPIFFE_ID\n"+
		"Prints an X.509-SVID (certificate, then its key, PEM) from the demo world's SPIFFE CA, or with --jwt a JWT-SVID\n"+
		"(for the Provost-Workload-JWT header). Demo worlds only.", stderr)
	jwt := d.fs.Bool("jwt", false, "a JWT-SVID instead of an X.509-SVID")
	aud := d.fs.String("aud", "", "the JWT-SVID's `audience` (default: provost, trust.jwt_svid_audience's default)")
	ttl := d.fs.Duration("ttl", time.Hour, "how long the SVID is valid, at most 24h (and never past the demo CA)")
	certOut := d.fs.String("cert-out", "", "write the certificate to `FILE` instead of standard output")
	keyOut := d.fs.String("key-out", "", "write the private key to `FILE` (mode 0600) instead of standard output")
	if !d.parse(args, 1) {
		return exitUsage
	}
	if (*certOut == "") != (*keyOut == "") || (*jwt && *certOut != "") || (!*jwt && *aud != "") {
		fmt.Fprintln(stderr, "provost dev svid: --cert-out and --key-out go together and with X.509-SVIDs only; --aud with --jwt only")
		return exitUsage
	}
	w, code := d.open(stderr)
	if w == nil {
		return code
	}
	id := d.fs.Arg(0)
	if *jwt {
		s, err := w.JWTSVID(id, *aud, *ttl)
		return devPrint(stdout, stderr, "provost dev svid", s, err)
	}
	cert, key, err := w.X509SVID(id, *ttl)
	if err != nil {
		return devPrint(stdout, stderr, "provost dev svid", "", err)
	}
	if *certOut == "" {
		stdout.Write(cert)
		stdout.Write(key)
		return exitOK
	}
	if err := errors.Join(os.WriteFile(*certOut, cert, 0o644), os.WriteFile(*keyOut, key, 0o600)); err != nil {
		fmt.Fprintln(stderr, "provost dev svid:", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "provost dev svid: wrote %s and %s\n", *certOut, *keyOut)
	return exitOK
}

func devPosture(args []string, stdout, stderr io.Writer) int {
	d := newDevFlags("posture", "usage: provost dev posture (--world DIR | --config FILE) --host HOST [--runner TYPE] [--os OS] --token TOKEN [--aud AUD]\n"+
		"Prints a posture attestation (for the Provost-Posture header) signed by the demo world's attestor. Demo worlds only.", stderr)
	var o devworld.PostureOptions
	d.fs.StringVar(&o.Host, "host", "", "the attested `host` (sub, host_id)")
	d.fs.StringVar(&o.Runner, "runner", "", "the runner `type` (runner_type), e.g. hardened")
	d.fs.StringVar(&o.OS, "os", "linux", "the host's `os`")
	d.fs.StringVar(&o.Token, "token", "", "the access `token` the attestation is bound to (cred)")
	d.fs.StringVar(&o.Audience, "aud", "", "the `audience` (default: the world's origin)")
	if !d.parse(args, 0) {
		return exitUsage
	}
	w, code := d.open(stderr)
	if w == nil {
		return code
	}
	s, err := w.Posture(o)
	return devPrint(stdout, stderr, "provost dev posture", s, err)
}

// devPrint prints what was minted, or the error.
func devPrint(stdout, stderr io.Writer, name, s string, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFail
	}
	fmt.Fprintln(stdout, s)
	return exitOK
}
