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

// devWarning is printed on standard error by every dev command.
const devWarning = "WARNING: provost dev mints credentials with DEMO-ONLY keys. They are for trying Provost on a demo world; never use them, this world or anything minted here in production."

// devFlags are the flags every dev command has: which world.
type devFlags struct {
	fs            *flag.FlagSet
	world, config string
}

func newDevFlags(sub string) *devFlags {
	d := &devFlags{fs: newFlagSet("dev " + sub)}
	d.fs.StringVar(&d.world, "world", "", "the `folder` 'provost demo --keep' kept the world in")
	d.fs.StringVar(&d.config, "config", "", "the kept world's configuration `file` (DIR/provost.yaml)")
	return d
}

// parse parses args, wanting nargs positional arguments; it returns -1 to
// go on, else the exit code.
func (d *devFlags) parse(args []string, nargs int, stdout, stderr io.Writer) int {
	if code := parseArgs(d.fs, args, stdout, stderr); code >= 0 {
		return code
	}
	switch {
	case (d.world == "") == (d.config == ""):
		fmt.Fprintf(stderr, "%s: give exactly one of --world DIR and --config FILE\n", d.fs.Name())
	case d.fs.NArg() != nargs:
		fmt.Fprintf(stderr, "%s: want %d argument(s) after the flags, got %d\n", d.fs.Name(), nargs, d.fs.NArg())
	default:
		return -1
	}
	d.fs.Usage()
	return exitUsage
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

// devTokenOptions are provost dev token's flags.
type devTokenOptions struct {
	*devFlags
	token  devworld.TokenOptions
	claims string
}

func devTokenFlags() (*flag.FlagSet, *devTokenOptions) {
	o := &devTokenOptions{devFlags: newDevFlags("token"), token: devworld.TokenOptions{Extra: map[string]any{}}}
	fs := o.fs
	fs.StringVar(&o.token.Subject, "sub", "", "the token's `subject` (sub), e.g. svc:reports")
	fs.StringVar(&o.token.Audience, "aud", "", "the token's `audience` (default: the world's)")
	fs.DurationVar(&o.token.TTL, "ttl", time.Hour, "how long the token is valid, at most 24h")
	fs.Var(claimFlag(o.token.Extra), "claim", "a string claim `NAME=VALUE` (repeatable)")
	fs.StringVar(&o.claims, "claims", "", "more claims as a JSON `object`, e.g. '{\"act\":{\"sub\":\"x\"}}'")
	fs.BoolVar(&o.token.DPoP, "dpop", false, "bind the token to the kept DPoP key (cnf.jkt); send it with 'provost dev dpop' proofs")
	return fs, o
}

func devToken(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	_, d := devTokenFlags()
	if code := d.parse(args, 0, stdout, stderr); code >= 0 {
		return code
	}
	o := d.token
	if o.Subject == "" {
		fmt.Fprintln(stderr, "provost dev token: --sub is required")
		return exitUsage
	}
	if d.claims != "" {
		var more map[string]any
		if err := json.Unmarshal([]byte(d.claims), &more); err != nil {
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

// devDPoPOptions are provost dev dpop's flags.
type devDPoPOptions struct {
	*devFlags
	method, url, token string
}

func devDPoPFlags() (*flag.FlagSet, *devDPoPOptions) {
	o := &devDPoPOptions{devFlags: newDevFlags("dpop")}
	o.fs.StringVar(&o.method, "method", "", "the request's HTTP `method`, e.g. POST")
	o.fs.StringVar(&o.url, "url", "", "the request's `URL` (htu), or a path on the world's origin, e.g. /v1/tools/run")
	o.fs.StringVar(&o.token, "token", "", "the access `token` the proof goes with (its ath)")
	return o.fs, o
}

func devDPoP(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	_, d := devDPoPFlags()
	if code := d.parse(args, 0, stdout, stderr); code >= 0 {
		return code
	}
	if d.method == "" || d.url == "" {
		fmt.Fprintln(stderr, "provost dev dpop: --method and --url are required")
		return exitUsage
	}
	w, code := d.open(stderr)
	if w == nil {
		return code
	}
	proof, err := w.DPoP(d.method, d.url, d.token)
	return devPrint(stdout, stderr, "provost dev dpop", proof, err)
}

// devSVIDOptions are provost dev svid's flags.
type devSVIDOptions struct {
	*devFlags
	jwt                  bool
	aud, certOut, keyOut string
	ttl                  time.Duration
}

func devSVIDFlags() (*flag.FlagSet, *devSVIDOptions) {
	o := &devSVIDOptions{devFlags: newDevFlags("svid")}
	o.fs.BoolVar(&o.jwt, "jwt", false, "a JWT-SVID instead of an X.509-SVID")
	o.fs.StringVar(&o.aud, "aud", "", "the JWT-SVID's `audience` (default: provost, trust.jwt_svid_audience's default)")
	o.fs.DurationVar(&o.ttl, "ttl", time.Hour, "how long the SVID is valid, at most 24h (and never past the demo CA)")
	o.fs.StringVar(&o.certOut, "cert-out", "", "write the certificate to `FILE` instead of standard output")
	o.fs.StringVar(&o.keyOut, "key-out", "", "write the private key to `FILE` (mode 0600) instead of standard output")
	return o.fs, o
}

func devSVID(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	_, d := devSVIDFlags()
	if code := d.parse(args, 1, stdout, stderr); code >= 0 {
		return code
	}
	if (d.certOut == "") != (d.keyOut == "") || (d.jwt && d.certOut != "") || (!d.jwt && d.aud != "") {
		fmt.Fprintln(stderr, "provost dev svid: --cert-out and --key-out go together and with X.509-SVIDs only; --aud with --jwt only")
		return exitUsage
	}
	w, code := d.open(stderr)
	if w == nil {
		return code
	}
	id := d.fs.Arg(0)
	if d.jwt {
		s, err := w.JWTSVID(id, d.aud, d.ttl)
		return devPrint(stdout, stderr, "provost dev svid", s, err)
	}
	cert, key, err := w.X509SVID(id, d.ttl)
	if err != nil {
		return devPrint(stdout, stderr, "provost dev svid", "", err)
	}
	if d.certOut == "" {
		stdout.Write(cert)
		stdout.Write(key)
		return exitOK
	}
	if err := errors.Join(os.WriteFile(d.certOut, cert, 0o644), os.WriteFile(d.keyOut, key, 0o600)); err != nil {
		fmt.Fprintln(stderr, "provost dev svid:", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "provost dev svid: wrote %s and %s\n", d.certOut, d.keyOut)
	return exitOK
}

// devPostureOptions are provost dev posture's flags.
type devPostureOptions struct {
	*devFlags
	posture devworld.PostureOptions
}

func devPostureFlags() (*flag.FlagSet, *devPostureOptions) {
	o := &devPostureOptions{devFlags: newDevFlags("posture")}
	p := &o.posture
	o.fs.StringVar(&p.Host, "host", "", "the attested `host` (sub, host_id)")
	o.fs.StringVar(&p.Runner, "runner", "", "the runner `type` (runner_type), e.g. hardened")
	o.fs.StringVar(&p.OS, "os", "linux", "the host's `os`")
	o.fs.StringVar(&p.Token, "token", "", "the access `token` the attestation is bound to (cred)")
	o.fs.StringVar(&p.Audience, "aud", "", "the `audience` (default: the world's origin)")
	return o.fs, o
}

func devPosture(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	_, d := devPostureFlags()
	if code := d.parse(args, 0, stdout, stderr); code >= 0 {
		return code
	}
	o := d.posture
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
