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
	fs.StringVar(&a.url, "admin", "", "admin API base `URL` (default $"+envAdminURL+")")
	fs.StringVar(&a.tokenFile, "token-file", "", "read the admin token from this `file` (default $"+envAdminToken+")")
	fs.StringVar(&a.cert, "cert", "", "client certificate `file` (PEM) for mTLS")
	fs.StringVar(&a.key, "key", "", "client certificate key `file` (PEM)")
	fs.StringVar(&a.ca, "ca", "", "CA certificate `file` (PEM) that verifies the admin server")
	fs.DurationVar(&a.timeout, "timeout", 30*time.Second, "bound on the call")
	fs.BoolVar(&a.json, "json", false, "print the answer as JSON")
}

func (a *adminFlags) client() (*admin.APIClient, error) {
	if a.url == "" {
		a.url = os.Getenv(envAdminURL)
	}
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

// revokeOptions are provost revoke's flags.
type revokeOptions struct {
	adminFlags
	req                    admin.CreateRequest
	fp, jti, subject, bind string
	credStdin              bool
}

func revokeFlags() (*flag.FlagSet, *revokeOptions) {
	fs := newFlagSet("revoke")
	o := &revokeOptions{}
	o.register(fs)
	fs.StringVar(&o.fp, "fingerprint", "", "revoke the credential with this `fingerprint` (fp1:...)")
	fs.BoolVar(&o.credStdin, "credential-stdin", false, "read the credential to revoke from standard input")
	fs.StringVar(&o.jti, "jti", "", "revoke the token with this `jti`")
	fs.StringVar(&o.subject, "subject", "", "revoke every token of this `subject`")
	fs.StringVar(&o.req.Issuer, "issuer", "", "the `issuer`: scope of --jti/--subject, or alone, revoke every token from it")
	fs.StringVar(&o.req.IssuedBefore, "issued-before", "", "with --subject: only tokens issued before this `time`")
	fs.StringVar(&o.bind, "binding", "", "revoke every credential matched to this `binding`")
	fs.StringVar(&o.req.Reason, "reason", "", "why, for people (shown in evidence)")
	fs.StringVar(&o.req.ExpiresAt, "expires-at", "", "the revocation stops at this `time`")
	return fs, o
}

// cmdRevoke creates a revocation through the admin API.
func cmdRevoke(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, o := revokeFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return revokeUsageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	req, af := &o.req, &o.adminFlags
	if err := revokeWhat(req, o.fp, o.credStdin, o.jti, o.subject, o.bind); err != nil {
		return revokeUsageError(stderr, "%v", err)
	}
	for name, v := range map[string]string{"--issued-before": req.IssuedBefore, "--expires-at": req.ExpiresAt} {
		if _, err := time.Parse(time.RFC3339, v); v != "" && err != nil {
			return revokeUsageError(stderr, "%s is not an RFC 3339 time such as 2030-01-02T15:04:05Z", name)
		}
	}
	if o.credStdin {
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
	rev, err := cl.Revoke(ctx, *req)
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
	fmt.Fprintf(stderr, "provost revoke: "+format+"\n", args...)
	writeShortUsage(stderr, lookupCommand("revoke"))
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

// revocationsOptions are the flags of provost revocations without a
// command: those of list, and --delete ID.
type revocationsOptions struct {
	adminFlags
	delete string
}

func revocationsFlags() (*flag.FlagSet, *revocationsOptions) {
	fs := newFlagSet("revocations")
	o := &revocationsOptions{}
	o.register(fs)
	fs.StringVar(&o.delete, "delete", "", "delete the revocation with this `ID` instead of listing (as provost revocations delete ID)")
	return fs, o
}

// adminCallFlags returns the flag constructor of a command at path that
// calls the admin API and takes only its flags.
func adminCallFlags(path string) func() (*flag.FlagSet, *adminFlags) {
	return func() (*flag.FlagSet, *adminFlags) {
		fs := newFlagSet(path)
		af := &adminFlags{}
		af.register(fs)
		return fs, af
	}
}

// cmdRevocations is provost revocations without a command: it lists the
// revocations, or deletes one with --delete ID.
func cmdRevocations(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := revocationsFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "provost revocations: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if o.delete != "" {
		return deleteRevocation(ctx, "provost revocations", &o.adminFlags, o.delete, stdout, stderr)
	}
	return listRevocations(ctx, "provost revocations", &o.adminFlags, stdout, stderr)
}

// cmdRevocationsList is provost revocations list.
func cmdRevocationsList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, af := adminCallFlags("revocations list")()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "provost revocations list: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	return listRevocations(ctx, "provost revocations list", af, stdout, stderr)
}

// cmdRevocationsDelete is provost revocations delete ID.
func cmdRevocationsDelete(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, af := adminCallFlags("revocations delete")()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "provost revocations delete: name one revocation ID")
		fs.Usage()
		return exitUsage
	}
	return deleteRevocation(ctx, "provost revocations delete", af, fs.Arg(0), stdout, stderr)
}

func deleteRevocation(ctx context.Context, name string, af *adminFlags, id string, stdout, stderr io.Writer) int {
	cl, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	if err := cl.Delete(ctx, id); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFail
	}
	fmt.Fprintln(stdout, "deleted", id)
	return exitOK
}

func listRevocations(ctx context.Context, name string, af *adminFlags, stdout, stderr io.Writer) int {
	cl, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	list, err := cl.List(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
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

// cmdAdmin is provost admin COMMAND.
func cmdAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, lookupCommand("admin"), args, stdin, stdout, stderr)
}

// cmdAdminHashToken is provost admin hash-token: the token comes from
// standard input and is never printed.
func cmdAdminHashToken(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("admin hash-token")
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "provost admin hash-token: the token is read from standard input, not from arguments (not repeated here)")
		fs.Usage()
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

// cmdAdminStatus is provost admin status.
func cmdAdminStatus(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return cmdAdminCall(ctx, "status", args, stdout, stderr)
}

// cmdAdminReload is provost admin reload.
func cmdAdminReload(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return cmdAdminCall(ctx, "reload", args, stdout, stderr)
}

func cmdAdminCall(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	fs, af := adminCallFlags("admin " + name)()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "provost admin %s: unexpected argument %q\n", name, fs.Arg(0))
		fs.Usage()
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
