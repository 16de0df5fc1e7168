package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/provosttest"
)

// crashRounds is how many times TestCrashSafety kills `provost serve`.
const crashRounds = 50

// crashMinAnswers is how many decisions each round has answered, at least,
// before the kill.
const crashMinAnswers = 10

// TestCrashSafety kills `provost serve` with SIGKILL crashRounds times, at
// a random moment while clients drive decisions, and restarts it on the
// same data directory. After each restart it checks that the log verifies
// and holds every decision answered so far at the index the answer named,
// with the leaf hash the answer named.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts provost serve processes and kills them; skipped under -short")
	}
	bin := filepath.Join(t.TempDir(), "provost")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	w, err := provosttest.NewWorld(dir, "https://api.test", []string{"127.0.0.1"}, demo.Bindings)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")

	answered := map[int64]string{} // index -> base64 leaf hash
	var mu sync.Mutex
	answer := func(idx int64, leaf string) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := answered[idx]; ok {
			t.Errorf("index %d answered twice: %s and %s", idx, prev, leaf)
		}
		answered[idx] = leaf
	}
	// verify runs once the restarted server listens, before any load:
	// what it sees is what the restart recovered from the kill.
	verify := func(round int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		crashVerify(t, dataDir, answered, round)
	}
	began := time.Now()
	for round := range crashRounds {
		n := crashRound(t, bin, w, dataDir, func() { verify(round) }, answer)
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
		t.Logf("round %d: %d decisions answered before SIGKILL", round, n)
	}
	// The last kill's restart.
	cmd, _ := crashStart(t, bin, w, dataDir)
	verify(crashRounds)
	cmd.Process.Kill()
	cmd.Wait()
	took := time.Since(began)
	t.Logf("%d kills in %v (%v a round), %d answered decisions, every one in the log after each restart",
		crashRounds, took.Round(time.Millisecond), (took / crashRounds).Round(time.Millisecond), len(answered))
}

// crashVerify opens the evidence log read-only and checks that it verifies
// and holds every answered decision's record at its index.
func crashVerify(t *testing.T, dataDir string, answered map[int64]string, round int) {
	t.Helper()
	ctx := context.Background()
	lg, err := evidencelog.Open(ctx, filepath.Join(dataDir, "evidence"), evidencelog.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("restart %d: open the log: %v", round, err)
	}
	defer lg.Close()
	if err := lg.Verify(ctx, nil); err != nil {
		t.Fatalf("restart %d: the log does not verify: %v", round, err)
	}
	// Every record's leaf hash, read in pages.
	size := lg.Size()
	leaves := make([]string, 0, size)
	for start := int64(0); start < size; start += evidencelog.MaxEntries {
		recs, err := lg.Entries(ctx, start, min(start+evidencelog.MaxEntries, size))
		if err != nil {
			t.Fatalf("restart %d: read records from %d: %v", round, start, err)
		}
		for _, r := range recs {
			h := sha256.Sum256(append([]byte{0}, r...))
			leaves = append(leaves, base64.StdEncoding.EncodeToString(h[:]))
		}
	}
	for idx, want := range answered {
		switch {
		case idx >= int64(len(leaves)):
			t.Errorf("restart %d: answered decision %d is not in the log of %d records", round, idx, len(leaves))
		case leaves[idx] != want:
			t.Errorf("restart %d: record %d has leaf hash %s, the answer named %s", round, idx, leaves[idx], want)
		}
	}
}

// crashStart starts the server on the data directory and returns it and
// the address it listens on.
func crashStart(t *testing.T, bin string, w *provosttest.World, dataDir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", w.ConfigFile(), "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr, err := crashListenAddr(stderr)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("provost serve did not start: %v", err)
	}
	go io.Copy(io.Discard, stderr)
	return cmd, addr
}

// crashRound starts the server, runs verify, drives decisions from four
// clients until at least crashMinAnswers are answered, kills the server
// with SIGKILL at a random moment soon after and returns how many
// decisions were answered.
func crashRound(t *testing.T, bin string, w *provosttest.World, dataDir string, verify func(), answer func(int64, string)) int {
	t.Helper()
	cmd, addr := crashStart(t, bin, w, dataDir)
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	verify()

	var (
		wg    sync.WaitGroup
		total = make(chan struct{}, 1<<16)
		stop  = make(chan struct{})
	)
	cl := &http.Client{Timeout: 5 * time.Second}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				idx, leaf, err := crashCheckOnce(cl, w, "http://"+addr)
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				answer(idx, leaf)
				select {
				case total <- struct{}{}:
				default:
				}
			}
		})
	}
	// Let some decisions through, then kill at a random moment.
	wait := time.After(10 * time.Second)
	for got := 0; got < crashMinAnswers; got++ {
		select {
		case <-total:
		case <-wait:
			close(stop)
			wg.Wait()
			t.Fatalf("only %d decisions answered in 10s", got)
		}
	}
	time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	cmd.Wait()
	close(stop)
	wg.Wait()
	return crashMinAnswers + len(total)
}

// crashListenAddr reads the server's JSON log until it says where it listens.
func crashListenAddr(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	found := make(chan string, 1)
	go func() {
		defer close(found)
		for sc.Scan() {
			var m struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "listening" {
				found <- m.Addr
				return
			}
		}
	}()
	select {
	case a, ok := <-found:
		if !ok {
			return "", fmt.Errorf("the server exited: %v", sc.Err())
		}
		return a, nil
	case <-time.After(15 * time.Second):
		return "", fmt.Errorf("no listening line in 15s")
	}
}

// crashCheckOnce asks for one decision with a fresh token and returns the
// evidence reference of the answer.
func crashCheckOnce(cl *http.Client, w *provosttest.World, base string) (int64, string, error) {
	tok, err := w.Token("svc:reports", time.Hour, nil)
	if err != nil {
		return 0, "", err
	}
	body, _ := json.Marshal(map[string]any{"method": "GET", "target": "/r", "authorization": "Bearer " + tok, "peer": "10.40.1.1"})
	resp, err := cl.Post(base+"/v1/check", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var d struct {
		Evidence *struct {
			Index    int64  `json:"index"`
			LeafHash string `json:"leaf_hash"`
		} `json:"evidence"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusOK || d.Evidence == nil {
		return 0, "", fmt.Errorf("answer %s without evidence", resp.Status)
	}
	return d.Evidence.Index, d.Evidence.LeafHash, nil
}
