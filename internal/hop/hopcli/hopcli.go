// Package hopcli is the core of the "provost hop sign" command: it signs a
// hop attestation for a request and prints the new Provost-Hop header value.
//
// The raw credential is read from standard input only, never from a flag, so
// it stays out of shell history and process listings; it is used only to
// compute its digest and is never printed.
package hopcli

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/smallfile"
)

// Size limits for the inputs.
const (
	maxKeyFileBytes    = 64 << 10
	maxCredentialBytes = 64 << 10
)

// Synopsis is the command's flags as its usage line shows them, after
// "provost hop sign".
const Synopsis = "--name NAME --key KEY.pem --method METHOD --target TARGET [--credential-stdin] [--prior VALUE]"

// errBadArgs does not repeat the arguments: one may be a mistyped credential.
var errBadArgs = errors.New("hop sign: invalid arguments (not repeated here, in case one is a credential); " +
	"run with -h for usage; the credential is read from standard input with --credential-stdin")

// Flags are the flags of "provost hop sign".
type Flags struct {
	Name, KeyFile, Method, Target string
	CredentialStdin               bool
	Prior                         string
}

// Register declares the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Name, "name", "", "this hop's `name`, as Provost knows its key (required)")
	fs.StringVar(&f.KeyFile, "key", "", "PEM PKCS #8 private key `file`, P-256 or Ed25519 (required)")
	fs.StringVar(&f.Method, "method", "", "HTTP `method` of the request (required)")
	fs.StringVar(&f.Target, "target", "", "request `target`, path and query as sent to Provost (required)")
	fs.BoolVar(&f.CredentialStdin, "credential-stdin", false, "read the raw credential from standard input")
	fs.StringVar(&f.Prior, "prior", "", "the Provost-Hop header `value` received, if any")
}

// SignCommand runs "provost hop sign" with args (the arguments after "sign").
// It prints the new header value and a newline to stdout. With -h it prints
// usage to stdout and returns nil.
func SignCommand(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("provost hop sign", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f Flags
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "usage: provost hop sign "+Synopsis)
			fs.PrintDefaults()
			return nil
		}
		return errBadArgs
	}
	if fs.NArg() > 0 {
		return errBadArgs
	}
	if err := Sign(f, stdin, stdout); err != nil {
		return fmt.Errorf("hop sign: %w", err)
	}
	return nil
}

// Sign signs a hop attestation for the request f describes, with f's key,
// and prints the new header value and a newline to stdout. It reads the
// credential from stdin when f.CredentialStdin. Its errors never quote the
// credential.
func Sign(f Flags, stdin io.Reader, stdout io.Writer) error {
	for _, r := range []struct{ flag, value string }{
		{"name", f.Name}, {"key", f.KeyFile}, {"method", f.Method}, {"target", f.Target},
	} {
		if r.value == "" {
			return fmt.Errorf("--%s is required", r.flag)
		}
	}
	key, err := loadKey(f.KeyFile)
	if err != nil {
		return err
	}
	req := hop.Request{Method: f.Method, Target: f.Target}
	if f.CredentialStdin {
		raw, err := readCredential(stdin)
		if err != nil {
			return err
		}
		req.CredentialDigest = hop.CredentialDigest(raw)
	}
	s := &hop.Signer{Name: f.Name, Key: key, Now: time.Now}
	value, err := s.Sign(f.Prior, req)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, value)
	return err
}

// loadKey reads a PEM "PRIVATE KEY" (PKCS #8) file. Errors never quote the file.
func loadKey(path string) (crypto.Signer, error) {
	data, err := smallfile.Read(path, maxKeyFileBytes)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key file %s: no PEM PRIVATE KEY (PKCS #8) block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key file %s: not a PKCS #8 private key", path)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key file %s: key cannot sign", path)
	}
	return signer, nil
}

// readCredential reads the raw credential, dropping one trailing newline.
func readCredential(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("--credential-stdin: no standard input")
	}
	data, err := io.ReadAll(io.LimitReader(r, maxCredentialBytes+1))
	if err != nil {
		return "", fmt.Errorf("read credential: %w", err)
	}
	if len(data) > maxCredentialBytes {
		return "", fmt.Errorf("credential is larger than %d bytes", maxCredentialBytes)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) == 0 {
		return "", errors.New("--credential-stdin: standard input is empty")
	}
	return string(data), nil
}
