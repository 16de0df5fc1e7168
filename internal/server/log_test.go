package server

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
)

// get fetches url and returns the response and its body.
func get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func getOK(t testing.TB, url string, into any) []byte {
	t.Helper()
	resp, b := get(t, url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	return b
}

// decide posts one request to the check API and returns its evidence reference.
func decide(t testing.TB, w *fixture, url string, c judged) (index int64, leaf string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"method": "GET", "target": "/v1/reports", "authorization": w.authorization(c), "peer": c.peer})
	resp, got := postJSON(t, http.DefaultClient, url+PathCheck, body)
	var d struct {
		Decision string
		Evidence *struct {
			Index    int64  `json:"index"`
			LeafHash string `json:"leaf_hash"`
		}
	}
	if err := json.Unmarshal(got, &d); err != nil || resp.StatusCode != http.StatusOK || d.Evidence == nil {
		t.Fatalf("check: %d %v %s", resp.StatusCode, err, got)
	}
	return d.Evidence.Index, d.Evidence.LeafHash
}

// A decision's evidence reference yields a receipt that verifies with the
// key the server publishes, and the record is the decision's.
func TestLogReceiptOfDecision(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	var refs []int64
	leaves := map[int64]string{}
	for _, c := range checkCases {
		i, leaf := decide(t, w, r.url, c)
		refs = append(refs, i)
		leaves[i] = leaf
	}
	key := strings.TrimSpace(string(getOK(t, r.url+PathLogKey, nil)))
	if key != w.app.Evidence.VerifierKey() {
		t.Fatalf("key %q, log's %q", key, w.app.Evidence.VerifierKey())
	}
	for _, i := range refs {
		raw := getOK(t, r.url+PathLogReceipt+"?index="+strconv.FormatInt(i, 10), nil)
		rc, err := evidencelog.ParseReceipt(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := evidencelog.VerifyReceipt(rc, key); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		if h := tlog.RecordHash(rc.Record); rc.Index != i || base64.StdEncoding.EncodeToString(h[:]) != leaves[i] {
			t.Fatalf("receipt %d: index %d, leaf %s, the decision said %s", i, rc.Index, h, leaves[i])
		}
		if rec, err := evidence.Unmarshal(rc.Record); err != nil || rec.Decision == "" {
			t.Fatalf("receipt %d: the record is not an evidence record: %v", i, err)
		}
		// Another key does not verify it.
		if err := evidencelog.VerifyReceipt(rc, otherKey(t)); err == nil {
			t.Fatal("a receipt verified with another log's key")
		}
	}
}

func otherKey(t testing.TB) string {
	t.Helper()
	l, err := evidencelog.Open(t.Context(), t.TempDir(), evidencelog.Options{Name: "provost.evidence/other"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.VerifierKey()
}

type proofJSON struct {
	Proof []tlog.Hash `json:"proof"`
}

// The checkpoint, entries and proofs check with x/mod's tlog against the
// published key: every inclusion and consistency proof of a small log.
func TestLogProofs(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	const n = 6
	for range n {
		decide(t, w, r.url, checkCases[0])
	}
	key := strings.TrimSpace(string(getOK(t, r.url+PathLogKey, nil)))
	signed := getOK(t, r.url+PathLogCheckpoint, nil)
	ck, err := evidencelog.OpenCheckpoint(signed, key)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Size != n {
		t.Fatalf("checkpoint of size %d, want %d", ck.Size, n)
	}
	var ents struct {
		Start   int64    `json:"start"`
		Entries [][]byte `json:"entries"`
	}
	getOK(t, r.url+PathLogEntries+"?start=0&end=100", &ents)
	if len(ents.Entries) != n {
		t.Fatalf("%d entries, want %d", len(ents.Entries), n)
	}
	leaves := make([]tlog.Hash, n)
	for i, e := range ents.Entries {
		leaves[i] = tlog.RecordHash(e)
	}
	roots := map[int64]tlog.Hash{}
	for size := int64(1); size <= n; size++ {
		var p proofJSON
		getOK(t, r.url+PathLogConsistencyProof+"?old="+strconv.FormatInt(size, 10)+"&new="+strconv.Itoa(n), &p)
		roots[size] = rootOf(t, leaves[:size])
		if err := tlog.CheckTree(p.Proof, n, ck.Root, size, roots[size]); err != nil {
			t.Fatalf("consistency %d -> %d: %v", size, n, err)
		}
		for i := int64(0); i < size; i++ {
			getOK(t, r.url+PathLogInclusionProof+"?index="+strconv.FormatInt(i, 10)+"&size="+strconv.FormatInt(size, 10), &p)
			if err := tlog.CheckRecord(p.Proof, size, roots[size], i, leaves[i]); err != nil {
				t.Fatalf("inclusion %d in %d: %v", i, size, err)
			}
		}
	}
	if roots[n] != ck.Root {
		t.Fatalf("the entries give root %s, the checkpoint %s", roots[n], ck.Root)
	}
	getOK(t, r.url+PathLogEntries+"?start=4&end=5", &ents)
	if ents.Start != 4 || len(ents.Entries) != 1 || tlog.RecordHash(ents.Entries[0]) != leaves[4] {
		t.Fatalf("entries [4,5): %+v", ents)
	}
}

// rootOf computes the tree hash of leaves with tlog's stored-hash algorithm.
func rootOf(t testing.TB, leaves []tlog.Hash) tlog.Hash {
	t.Helper()
	var stored []tlog.Hash
	for i, l := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(int64(i), l, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(ix))
			for j, k := range ix {
				out[j] = stored[k]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	h, err := tlog.TreeHash(int64(len(leaves)), tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for j, k := range ix {
			out[j] = stored[k]
		}
		return out, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The checkpoint is signed at most once per interval: a decision right
// after a fetch is not in the next fetch, even once the server's own
// one-second reuse has passed, because the log signs at most once per
// evidencelog.DefaultCheckpointInterval.
func TestLogCheckpointReuse(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	decide(t, w, r.url, checkCases[0])
	first := getOK(t, r.url+PathLogCheckpoint, nil)
	decide(t, w, r.url, checkCases[0])
	if again := getOK(t, r.url+PathLogCheckpoint, nil); string(again) != string(first) {
		t.Fatalf("a checkpoint was signed again within a second:\n%s\n%s", first, again)
	}
	r.srv.ckpt.mu.Lock()
	r.srv.ckpt.at = r.srv.ckpt.at.Add(-checkpointReuse)
	r.srv.ckpt.mu.Unlock()
	later, err := evidencelog.OpenCheckpoint(getOK(t, r.url+PathLogCheckpoint, nil), w.app.Evidence.VerifierKey())
	if err != nil || later.Size != 1 {
		t.Fatalf("after a second, within the log's interval: %+v %v, want the checkpoint of size 1", later, err)
	}
}

// A receipt of a record no checkpoint covers yet, asked for within the
// log's signing interval, waits up to receiptWait and then answers 503 with
// Retry-After; 50 concurrent such requests sign nothing.
func TestLogReceiptRetryAfter(t *testing.T) {
	defer func(d time.Duration) { receiptWait = d }(receiptWait)
	receiptWait = 50 * time.Millisecond
	w := newFixture(t)
	r := w.start(config.Serve{})
	i0, _ := decide(t, w, r.url, checkCases[0])
	getOKUnder503(t, r.url+PathLogReceipt+"?index="+strconv.FormatInt(i0, 10)) // signs the first checkpoint
	i1, _ := decide(t, w, r.url, checkCases[0])
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(r.url + PathLogReceipt + "?index=" + strconv.FormatInt(i1, 10))
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if resp.StatusCode != http.StatusServiceUnavailable || err != nil || secs < 1 ||
				secs > int(evidencelog.DefaultCheckpointInterval/time.Second) {
				t.Errorf("receipt of an uncovered record: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		}()
	}
	wg.Wait()
	signed, err := w.app.Evidence.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := evidencelog.OpenCheckpoint(signed, w.app.Evidence.VerifierKey()); err != nil || c.Size > i1 {
		t.Fatalf("checkpoint after the refused receipts: %+v %v, want one without record %d", c, err, i1)
	}
	// The covered record still has its receipt, with no new signature.
	getOKUnder503(t, r.url+PathLogReceipt+"?index="+strconv.FormatInt(i0, 10))
}

// getOKUnder503 is getOK for a receipt the server may answer 503 when the
// machine is too loaded to sign or read within the test's 50 ms
// receiptWait: it asks again, for up to 30 seconds, and requires a 200.
func getOKUnder503(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, b := get(t, url)
		if resp.StatusCode == http.StatusOK {
			return
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
		}
	}
}

// Bad parameters answer 400 naming the parameter; indexes and sizes past
// the log answer 404.
func TestLogBadParameters(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	decide(t, w, r.url, checkCases[0])
	decide(t, w, r.url, checkCases[0])
	cases := []struct {
		query  string
		status int
		field  string
	}{
		{PathLogEntries, 400, "start"},
		{PathLogEntries + "?start=0", 400, "end"},
		{PathLogEntries + "?start=-1&end=2", 400, "start"},
		{PathLogEntries + "?start=%2B1&end=2", 400, "start"},
		{PathLogEntries + "?start=1&end=1", 400, "end"},
		{PathLogEntries + "?start=0&start=1&end=2", 400, "start"},
		{PathLogEntries + "?start=99999999999999999999&end=2", 400, "start"},
		{PathLogEntries + "?start=9223372036854775808&end=2", 400, "start"},
		{PathLogEntries + "?start=2&end=3", 404, "start"},
		{PathLogInclusionProof + "?index=x&size=2", 400, "index"},
		{PathLogInclusionProof + "?index=0", 400, "size"},
		{PathLogInclusionProof + "?index=2&size=2", 400, "index"},
		{PathLogInclusionProof + "?index=0&size=3", 404, "size"},
		{PathLogConsistencyProof + "?old=1", 400, "new"},
		{PathLogConsistencyProof + "?old=2&new=1", 400, "old"},
		{PathLogConsistencyProof + "?old=1&new=3", 404, "new"},
		{PathLogReceipt, 400, "index"},
		{PathLogReceipt + "?index=1.0", 400, "index"},
		{PathLogReceipt + "?index=2", 404, "index"},
		{PathLog + "nothing", 404, ""},
	}
	for _, c := range cases {
		resp, b := get(t, r.url+c.query)
		var p problem
		if err := json.Unmarshal(b, &p); err != nil || resp.StatusCode != c.status || p.Field != c.field ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %s, want %d naming %q", c.query, resp.StatusCode, b, c.status, c.field)
		}
	}
	resp, err := http.Post(r.url+PathLogCheckpoint, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST checkpoint: %d", resp.StatusCode)
	}
	// The edges that are in range answer.
	getOK(t, r.url+PathLogConsistencyProof+"?old=0&new=2", nil)
	getOK(t, r.url+PathLogConsistencyProof+"?old=2&new=2", nil)
	getOK(t, r.url+PathLogReceipt+"?index=1", nil)
}
