package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/smallfile"
)

// Environment variables of the admin commands.
const (
	envAdminURL   = "PROVOST_ADMIN_URL"
	envAdminToken = "PROVOST_ADMIN_TOKEN"
)

// maxAdminStdin bounds a credential or token read from standard input or
// a --token-file.
const maxAdminStdin = 64 << 10

// adminFlags are the flags every command that calls the admin API takes.
type adminFlags struct {
	url, tokenFile, cert, key, ca string
	timeout                       time.Duration
	json                          bool
}

func (a *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.url, "admin", os.Getenv(envAdminURL), "admin API base `URL` (default $"+envAdminURL+")")
	fs.StringVar(&a.tokenFile, "token-file", "", "read the admin token from this `file` (default $"+envAdminToken+")")
	fs.StringVar(&a.cert, "cert", "", "client certificate `file` (PEM) for mTLS")
	fs.StringVar(&a.key, "key", "", "client certificate key `file` (PEM)")
	fs.StringVar(&a.ca, "ca", "", "CA certificate `file` (PEM) that verifies the admin server")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "bound on the call")
	fs.BoolVar(&a.json, "json", false, "print the answer as JSON")
}

func (a *adminFlags) client() (*admin.APIClient, error) {
	if a.url == "" {
		return nil, errors.New("--admin URL (or $" + envAdminURL + ") is required")
	}
	tok := os.Getenv(envAdminToken)
	if a.tokenFile != "" {
		b, err := smallfile.Read(a.tokenFile, maxAdminStdin)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
		if tok == "" {
			return nil, errors.New("--token-file: the file is empty")
		}
	}
	return admin.NewClient(admin.ClientOptions{URL: a.url, Token: tok, CertFile: a.cert, KeyFile: a.key, CAFile: a.ca, Timeout: a.timeout})
}

// readSecretLine reads the first line of r, bounded; it is never printed.
func readSecretLine(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxAdminStdin), maxAdminStdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return "", errors.New("nothing on standard input")
	}
	return line, nil
}

const revokeUsage = `usage: provost revoke --admin URL WHAT [--reason R] [--expires-at T]
WHAT is one of:
  --fingerprint FP                      one credential, by its fingerprint
  --credential-stdin                    one credential, read from standard input (fingerprinted by the server, never stored)
  --jti J [--issuer I]                  one token ID
  --subject S [--issuer I] [--issued-before T]   every token of a subject
  --issuer I                            every token from an issuer
  --binding B                           every credential matched to a binding
Times are RFC 3339 (2030-01-02T15:04:05Z). The admin token comes from $PROVOST_ADMIN_TOKEN or --token-file;
a client certificate from --cert and --key.
`

// cmdRevoke creates a revocation through the admin API.
func cmdRevoke(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	var req admin.CreateRequest
	var fp, jti, subject, bind string
	fs.StringVar(&fp, "fingerprint", "", "revoke the credential with this `fingerprint` (fp1:...)")
	credStdin := fs.Bool("credential-stdin", false, "read the credential to revoke from standard input")
	fs.StringVar(&jti, "jti", "", "revoke the token with this `jti`")
	fs.StringVar(&subject, "subject", "", "revoke every token of this `subject`")
	fs.StringVar(&req.Issuer, "issuer", "", "the `issuer`: scope of --jti/--subject, or alone, revoke every token from it")
	fs.StringVar(&req.IssuedBefore, "issued-before", "", "with --subject: only tokens issued before this `time`")
	fs.StringVar(&bind, "binding", "", "revoke every credential matched to this `binding`")
	fs.StringVar(&req.Reason, "reason", "", "why, for people (shown in evidence)")
	fs.StringVar(&req.ExpiresAt, "expires-at", "", "the revocation stops at this `time`")
	fs.Usage = func() { fmt.Fprint(stderr, revokeUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return revokeUsageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if err := revokeWhat(&req, fp, *credStdin, jti, subject, bind); err != nil {
		return revokeUsageError(stderr, "%v", err)
	}
	for name, v := range map[string]string{"--issued-before": req.IssuedBefore, "--expires-at": req.ExpiresAt} {
		if _, err := time.Parse(time.RFC3339, v); v != "" && err != nil {
			return revokeUsageError(stderr, "%s is not an RFC 3339 time such as 2030-01-02T15:04:05Z", name)
		}
	}
	if *credStdin {
		cred, err := readSecretLine(stdin)
		if err != nil {
			return revokeUsageError(stderr, "--credential-stdin: %v", err)
		}
		req.Credential = cred
	}
	cl, err := af.client()
	if err != nil {
		return revokeUsageError(stderr, "%v", err)
	}
	rev, err := cl.Revoke(ctx, req)
	if err != nil {
		fmt.Fprintln(stderr, "provost revoke:", err)
		return exitFail
	}
	if af.json {
		return printJSON(stdout, stderr, rev)
	}
	fmt.Fprintf(stdout, "revoked %s: %s\n", rev.ID, describeRevocation(rev))
	return exitOK
}

func revokeUsageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "provost revoke: "+format+"\n\n", args...)
	fmt.Fprint(stderr, revokeUsage)
	return exitUsage
}

// revokeWhat sets the kind and value from the one WHAT flag given.
func revokeWhat(req *admin.CreateRequest, fp string, credStdin bool, jti, subject, bind string) error {
	var kinds []string
	set := func(kind, value string, given bool) {
		if given {
			kinds = append(kinds, kind)
			req.Kind, req.Value = kind, value
		}
	}
	set("fingerprint", fp, fp != "")
	set("fingerprint", "", credStdin)
	set("jti", jti, jti != "")
	set("subject", subject, subject != "")
	set("binding", bind, bind != "")
	switch {
	case len(kinds) > 1:
		return errors.New("give only one of --fingerprint, --credential-stdin, --jti, --subject, --issuer, --binding")
	case len(kinds) == 0 && req.Issuer == "":
		return errors.New("say what to revoke")
	case len(kinds) == 0:
		req.Kind, req.Value, req.Issuer = "issuer", req.Issuer, ""
	case req.Issuer != "" && req.Kind != "jti" && req.Kind != "subject":
		return errors.New("--issuer scopes only --jti and --subject")
	}
	if req.IssuedBefore != "" && req.Kind != "subject" {
		return errors.New("--issued-before applies only to --subject")
	}
	return nil
}

func describeRevocation(r admin.Revocation) string {
	s := r.Kind + " " + r.Value
	if r.Issuer != "" {
		s += " from " + r.Issuer
	}
	if r.IssuedBefore != nil {
		s += " issued before " + r.IssuedBefore.Format(time.RFC3339)
	}
	if r.ExpiresAt != nil {
		s += ", until " + r.ExpiresAt.Format(time.RFC3339)
	}
	return s
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, "provost:", err)
		return exitFail
	}
	return exitOK
}

// cmdRevocations lists revocations, or deletes one, through the admin API.
func cmdRevocations(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost revocations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	del := fs.String("delete", "", "delete the revocation with this `ID` instead of listing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: provost revocations --admin URL [--json] [--delete ID]")
		fmt.Fprintln(stderr, "Lists the revocations in force, or deletes one.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "provost revocations: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cl, err := af.client()
	if err != nil {
		fmt.Fprintln(stderr, "provost revocations:", err)
		return exitUsage
	}
	if *del != "" {
		if err := cl.Delete(ctx, *del); err != nil {
			fmt.Fprintln(stderr, "provost revocations:", err)
			return exitFail
		}
		fmt.Fprintln(stdout, "deleted", *del)
		return exitOK
	}
	list, err := cl.List(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "provost revocations:", err)
		return exitFail
	}
	if af.json {
		return printJSON(stdout, stderr, admin.RevocationList{Revocations: list})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tVALUE\tISSUER\tCREATED\tEXPIRES\tREASON")
	for _, r := range list {
		exp := "-"
		if r.ExpiresAt != nil {
			exp = r.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Value, orDash(r.Issuer),
			r.CreatedAt.Format(time.RFC3339), exp, orDash(r.Reason))
	}
	tw.Flush()
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

const adminUsage = `usage: provost admin COMMAND
Commands:
  hash-token   read an admin token from standard input and print its SHA-256 for admin.token_sha256
  status       print the admin API's status (--admin URL ...)
  reload       reload the server's configuration and bindings (--admin URL ...)
`

// cmdAdmin runs the admin subcommands.
func cmdAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return exitUsage
	}
	switch args[0] {
	case "hash-token":
		return cmdAdminHashToken(args[1:], stdin, stdout, stderr)
	case "status", "reload":
		return cmdAdminCall(ctx, args[0], args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, adminUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost admin: unknown command %q\n\n%s", args[0], adminUsage)
	return exitUsage
}

func cmdAdminHashToken(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: provost admin hash-token < token")
		return exitUsage
	}
	tok, err := readSecretLine(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "provost admin hash-token:", err)
		return exitUsage
	}
	tok = strings.TrimSpace(tok)
	if len(tok) < 32 {
		fmt.Fprintln(stderr, "provost admin hash-token: warning: the token is shorter than 32 characters; make one with `openssl rand -hex 32`")
	}
	sum := sha256.Sum256([]byte(tok))
	fmt.Fprintln(stdout, hex.EncodeToString(sum[:]))
	return exitOK
}

func cmdAdminCall(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost admin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cl, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "provost admin %s: %v\n", name, err)
		return exitUsage
	}
	var out any
	if name == "reload" {
		out, err = cl.Reload(ctx)
	} else {
		out, err = cl.Status(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "provost admin %s: %v\n", name, err)
		return exitFail
	}
	return printJSON(stdout, stderr, out)
}
