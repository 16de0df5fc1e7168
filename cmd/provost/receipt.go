package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/smallfile"
)

// maxKeyArg bounds a verifier key file.
const maxKeyArg = 4096

// cmdReceipt is provost receipt COMMAND: verify or fetch a receipt of one
// evidence record.
func cmdReceipt(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, lookupCommand("receipt"), args, stdin, stdout, stderr)
}

func receiptVerifyFlags() (*flag.FlagSet, *string) {
	fs := newFlagSet("receipt verify")
	return fs, fs.String("key", "", "the log's verifier `key` (name+hash+base64), or a file holding it")
}

func receiptVerify(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, keyArg := receiptVerifyFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 || *keyArg == "" {
		fmt.Fprintln(stderr, "provost receipt verify: give --key KEY and one FILE")
		fs.Usage()
		return exitUsage
	}
	key, err := verifierKeyArg(*keyArg)
	if err != nil {
		fmt.Fprintln(stderr, "provost receipt verify: --key:", err)
		return exitUsage
	}
	file := fs.Arg(0)
	data, err := readReceipt(file, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "provost receipt verify:", err)
		return exitUsage
	}
	rc, err := evidencelog.ParseReceipt(data)
	if err == nil {
		err = evidencelog.VerifyReceipt(rc, key)
	}
	if err != nil {
		fmt.Fprintf(stderr, "provost receipt verify: %s: NOT VERIFIED: %v\n", file, err)
		return exitFail
	}
	ck, err := evidencelog.OpenCheckpoint(rc.Checkpoint, key)
	if err != nil { // VerifyReceipt opened it already
		fmt.Fprintf(stderr, "provost receipt verify: %s: NOT VERIFIED: %v\n", file, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "receipt verified: record %d is in %s's tree of size %d (root %s); %s\n",
		rc.Index, ck.Origin, ck.Size, ck.Root, describeRecord(rc.Record))
	return exitOK
}

// describeRecord says what an evidence record decided, or which revocation
// an operator added, in a few words.
func describeRecord(rec []byte) string {
	r, err := evidence.Unmarshal(rec)
	if err != nil {
		return "the record is not a Provost evidence record"
	}
	var b strings.Builder
	if r.Event == evidence.EventRevocation {
		v := &r.Revocation
		fmt.Fprintf(&b, "revocation %s of %s %s by operator %s", v.ID, v.Kind, strconv.Quote(v.Value), strconv.Quote(v.Client))
	} else {
		fmt.Fprintf(&b, "decision %s (provenance %s)", r.Decision, r.Provenance)
	}
	if r.RequestID != "" {
		fmt.Fprintf(&b, ", request %s", strconv.Quote(r.RequestID))
	}
	fmt.Fprintf(&b, " at %s", r.Time.UTC().Format(time.RFC3339Nano))
	return b.String()
}

// verifierKeyArg reads --key: the key itself, or a file holding it.
func verifierKeyArg(arg string) (string, error) {
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		b, err := smallfile.Read(arg, maxKeyArg)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	if strings.Count(arg, "+") < 2 {
		return "", fmt.Errorf("%q is neither a verifier key (name+hash+base64) nor a file", arg)
	}
	return arg, nil
}

func readReceipt(file string, stdin io.Reader) ([]byte, error) {
	if file == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, evidencelog.MaxReceiptSize+1))
		if err == nil && len(b) > evidencelog.MaxReceiptSize {
			err = fmt.Errorf("standard input: larger than %d bytes", evidencelog.MaxReceiptSize)
		}
		return b, err
	}
	return smallfile.Read(file, evidencelog.MaxReceiptSize)
}

// receiptGetOptions are provost receipt get's flags.
type receiptGetOptions struct {
	server  string
	index   int64
	timeout time.Duration
}

func receiptGetFlags() (*flag.FlagSet, *receiptGetOptions) {
	fs := newFlagSet("receipt get")
	o := &receiptGetOptions{}
	fs.StringVar(&o.server, "server", "", "the Provost server's base `URL` (http://host:port)")
	fs.Int64Var(&o.index, "index", -1, "the record's `index` (a decision's evidence.index)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "bound on the call")
	return fs, o
}

func receiptGet(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := receiptGetFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 0 || o.server == "" || o.index < 0 {
		fmt.Fprintln(stderr, "provost receipt get: give --server URL, --index N and no arguments")
		fs.Usage()
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rc, err := fetchReceipt(ctx, http.DefaultClient, o.server, o.index)
	if err != nil {
		fmt.Fprintln(stderr, "provost receipt get:", err)
		return exitFail
	}
	b, err := rc.MarshalJSON()
	if err != nil {
		fmt.Fprintln(stderr, "provost receipt get:", err)
		return exitFail
	}
	stdout.Write(append(b, '\n'))
	return exitOK
}

// fetchReceipt gets and parses the receipt of record index from server.
func fetchReceipt(ctx context.Context, c *http.Client, server string, index int64) (evidencelog.Receipt, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return evidencelog.Receipt{}, fmt.Errorf("--server %q is not an http(s) URL", server)
	}
	u = u.JoinPath("/v1/log/receipt")
	u.RawQuery = "index=" + strconv.FormatInt(index, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return evidencelog.Receipt{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return evidencelog.Receipt{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, evidencelog.MaxReceiptSize+1))
	if err != nil {
		return evidencelog.Receipt{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return evidencelog.Receipt{}, fmt.Errorf("%s answered %s: %s", u.Redacted(), resp.Status, strings.TrimSpace(string(clipBytes(b, 512))))
	}
	rc, err := evidencelog.ParseReceipt(b)
	if err != nil {
		return evidencelog.Receipt{}, fmt.Errorf("%s: %w", u.Redacted(), err)
	}
	if rc.Index != index {
		return evidencelog.Receipt{}, errors.New("the server answered the receipt of another record")
	}
	return rc, nil
}

func clipBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
