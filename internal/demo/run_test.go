package demo

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// The demo ends by verifying the evidence log and one receipt fetched over
// the API with only the key the API publishes.
func TestRunEndsByVerifyingEvidence(t *testing.T) {
	var out bytes.Buffer
	failed, err := Run(t.Context(), Options{Out: &out})
	if err != nil || failed != 0 {
		t.Fatalf("failed %d, err %v\n%s", failed, err, out.String())
	}
	end := regexp.MustCompile(`all 9 scenarios decided as expected\n\nevidence log: (\d+) records verified\nreceipt for request #(\d+) verified with the log's key alone\n$`)
	if m := end.FindStringSubmatch(out.String()); m == nil || m[1] == "0" {
		t.Fatalf("the demo does not end with the evidence lines:\n%s", out.String())
	}
}

// A log that cannot be verified is a failed outcome, not a line of praise.
func TestVerifyEvidenceFails(t *testing.T) {
	e, stop, err := start(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var out bytes.Buffer
	if err := e.verifyEvidence(t.Context(), &out); err == nil || strings.Contains(out.String(), "verified") {
		t.Fatalf("an empty log verified: %v %q", err, out.String())
	}
	stop()
	if err := e.verifyEvidence(t.Context(), &out); err == nil {
		t.Fatal("a closed log verified")
	}
}
