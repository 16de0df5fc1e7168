package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/reason"
)

// replicaOrigin is the one external origin of every replica: clients reach
// "the API" there whichever replica answers, so a DPoP proof names it and
// the same proof is valid at every replica (and a replay at all but one).
const replicaOrigin = "https://api.replicas.test"

// replicaAdminToken is the admin bearer token of the replicas; their
// configuration holds only its SHA-256.
const replicaAdminToken = "replica-admin-token-for-this-test-only-0123456789"

// replicaCount is how many `provost serve` processes a cluster runs.
const replicaCount = 3

// replicaCluster is replicaCount `provost serve` processes with one
// configuration (data directories apart), one server secret and one
// PostgreSQL schema and Redis key prefix.
type replicaCluster struct {
	w        *provosttest.T
	bin      string
	replicas []*replica // replicas[0] is replica 1
	client   *http.Client
	next     atomic.Uint64 // the round-robin position
}

// replica is one `provost serve` process.
type replica struct {
	n       int // 1-based, as the tests name it
	dataDir string
	cmd     *exec.Cmd
	log     *replicaLog
	addr    string // the check API, host:port
	admin   string // the admin API, host:port
	done    chan struct{}
	waitErr error // set before done is closed
}

// buildReplicaBinary builds `provost` once for every replica of a test,
// with the race detector, so a data race in a replica fails the test too
// (its report is in the replica's stderr and its exit code is 66).
func buildReplicaBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "provost")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-race", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -race: %v\n%s", err, out)
	}
	return bin
}

// startReplicas starts a cluster of replicaCount `provost serve` processes
// from bin sharing a fresh PostgreSQL schema and a fresh Redis key prefix,
// with bindings, and waits until each is ready. They are stopped (SIGTERM)
// when the test ends. It skips (fails under CI) without PostgreSQL or Redis.
func startReplicas(t *testing.T, bin, bindings string) *replicaCluster {
	t.Helper()
	pg := pgdbtest.FreshSchema(t)
	redisAddr := provosttest.RedisAddr(t)
	prefix := provosttest.KeyPrefix(t)
	dropRedisPrefix(t, redisAddr, prefix) // runs after the replicas stop
	sum := sha256.Sum256([]byte(replicaAdminToken))
	w := provosttest.New(t, provosttest.Options{Origin: replicaOrigin, Proxies: []string{"127.0.0.1"}, Bindings: bindings,
		Config: fmt.Sprintf(`storage:
  postgres: {dsn: %q}
  redis: {addr: %q, key_prefix: %q}
admin: {listen: "127.0.0.1:0", token_sha256: %s}
`, pg.DSN, redisAddr, prefix, hex.EncodeToString(sum[:]))})
	// Credentials and proofs are minted at the replicas' own (real) clock.
	w.World.Now = time.Now

	// Every replica of a deployment holds the same server secret, so they
	// name credentials alike.
	secret, err := fingerprint.LoadOrCreateSecret(filepath.Join(w.Dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	c := &replicaCluster{w: w, bin: bin, client: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(func() { c.stopAll(t) })
	for n := 1; n <= replicaCount; n++ {
		dir := filepath.Join(w.Dir, fmt.Sprintf("replica-%d", n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(app.LayoutOf(dir).Secret, secret, 0o600); err != nil {
			t.Fatal(err)
		}
		// All start at once: they migrate the shared schema concurrently.
		c.replicas = append(c.replicas, c.start(t, n, dir))
	}
	for _, r := range c.replicas {
		c.waitReady(t, r)
	}
	return c
}

func (c *replicaCluster) start(t *testing.T, n int, dir string) *replica {
	t.Helper()
	r := &replica{n: n, dataDir: dir, log: &replicaLog{}, done: make(chan struct{})}
	r.cmd = exec.Command(c.bin, "serve", "--config", c.w.ConfigFile(), "--data-dir", dir, "--listen", "127.0.0.1:0")
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %d: %v", n, err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.done)
	}()
	return r
}

// waitReady waits until r logs both its listeners and answers /readyz.
func (c *replicaCluster) waitReady(t *testing.T, r *replica) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // a race-enabled binary starts slowly on a loaded machine
	for {
		select {
		case <-r.done:
			t.Fatalf("replica %d exited before it was ready (%v):\n%s", r.n, r.waitErr, r.log.String())
		default:
		}
		if r.addr == "" || r.admin == "" {
			r.addr, r.admin = r.log.addrs()
		}
		if r.addr != "" && r.admin != "" {
			resp, err := c.client.Get("http://" + r.addr + "/readyz")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %d not ready in 60s (check API %q, admin %q):\n%s", r.n, r.addr, r.admin, r.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends r gracefully (SIGTERM) and returns its exit code; a replica
// that does not stop in 20s is killed and the test fails.
func (r *replica) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
		return r.cmd.ProcessState.ExitCode()
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGTERM to replica %d: %v", r.n, err)
	}
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		t.Errorf("replica %d did not stop within 20s of SIGTERM", r.n)
	}
	return r.cmd.ProcessState.ExitCode()
}

// kill9 ends r with SIGKILL and waits for it to be gone.
func (r *replica) kill9(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL to replica %d: %v", r.n, err)
	}
	<-r.done
}

// stopAll stops every replica still running, and fails the test if any
// replica reported a data race; on failure it shows each replica's log.
func (c *replicaCluster) stopAll(t *testing.T) {
	for _, r := range c.replicas {
		r.stop(t)
	}
	for _, r := range c.replicas {
		logs := r.log.String()
		if strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("replica %d reported a data race:\n%s", r.n, logs)
		} else if t.Failed() {
			t.Logf("replica %d (%s) log:\n%s", r.n, r.cmd.ProcessState, tail(logs, 8000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// dropRedisPrefix deletes every key under prefix when the test ends.
func dropRedisPrefix(t *testing.T, addr, prefix string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl := redis.NewClient(&redis.Options{Addr: addr})
		defer cl.Close()
		it := cl.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			t.Logf("scan Redis keys %s*: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := cl.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Logf("delete Redis keys %s*: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
}

// replicaLog is a replica's stderr: its JSON log lines (and, should the
// race detector speak, its report). Safe for concurrent use.
type replicaLog struct {
	mu                  sync.Mutex
	b                   bytes.Buffer
	scanned             int
	listen, adminListen string
}

func (l *replicaLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	// Parse the complete lines not yet seen, for the listen addresses.
	for {
		rest := l.b.Bytes()[l.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		var m struct{ Msg, Addr string }
		if json.Unmarshal(rest[:i], &m) == nil {
			switch m.Msg {
			case "listening":
				l.listen = m.Addr
			case "admin listening":
				l.adminListen = m.Addr
			}
		}
		l.scanned += i + 1
	}
	return len(p), nil
}

func (l *replicaLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *replicaLog) addrs() (check, admin string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.listen, l.adminListen
}

// checkDoc is a POST /v1/check request document (internal/checkreq).
type checkDoc struct {
	Method        string   `json:"method"`
	Target        string   `json:"target"`
	Authorization string   `json:"authorization,omitempty"`
	DPoP          string   `json:"dpop,omitempty"`
	Peer          string   `json:"peer,omitempty"`
	XForwardedFor []string `json:"x_forwarded_for,omitempty"`
}

// viaProxy is a request from client that reached Provost's caller through
// the trusted proxy 127.0.0.1, which added client to X-Forwarded-For.
func viaProxy(method, target, authorization, client string) checkDoc {
	return checkDoc{Method: method, Target: target, Authorization: authorization, Peer: "127.0.0.1", XForwardedFor: []string{client}}
}

// checkAnswer is what the tests read of a /v1/check answer.
type checkAnswer struct {
	Replica    int    `json:"-"`
	Decision   string `json:"decision"`
	Provenance string `json:"provenance"`
	Binding    string `json:"binding"`
	Credential struct {
		Verdict      string `json:"verdict"`
		Reason       string `json:"reason"`
		Fingerprint  string `json:"fingerprint"`
		RevocationID string `json:"revocation_id"`
	} `json:"credential"`
	Checks []struct {
		Signal string `json:"signal"`
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"checks"`
	Findings []struct {
		Code string `json:"code"`
	} `json:"findings"`
	Reasons []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reasons"`
	Actions      []string `json:"actions"`
	RevocationID string   `json:"revocation_id"`
	RequestID    string   `json:"request_id"`
	Evidence     *struct {
		Index    int64  `json:"index"`
		LeafHash string `json:"leaf_hash"`
	} `json:"evidence"`
}

// has says whether c is one of the answer's reasons.
func (a *checkAnswer) has(c reason.Code) bool {
	for _, r := range a.Reasons {
		if r.Code == string(c) {
			return true
		}
	}
	return false
}

func (a *checkAnswer) finding(c reason.Code) bool {
	for _, f := range a.Findings {
		if f.Code == string(c) {
			return true
		}
	}
	return false
}

func (a *checkAnswer) codes() []string {
	out := make([]string, 0, len(a.Reasons))
	for _, r := range a.Reasons {
		out = append(out, r.Code)
	}
	return out
}

func (a *checkAnswer) String() string {
	return fmt.Sprintf("replica %d: %s (credential %s/%s, provenance %s, binding %q) reasons %v actions %v",
		a.Replica, a.Decision, a.Credential.Verdict, a.Credential.Reason, a.Provenance, a.Binding, a.codes(), a.Actions)
}

// tryCheck asks replica n (1-based) for a decision on doc. Safe for
// concurrent use.
func (c *replicaCluster) tryCheck(n int, doc checkDoc) (*checkAnswer, error) {
	r := c.replicas[n-1]
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Post("http://"+r.addr+"/v1/check", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("replica %d answered %s: %s", n, resp.Status, b)
	}
	a := &checkAnswer{Replica: n}
	if err := json.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("replica %d: answer: %v: %s", n, err, b)
	}
	if a.Evidence == nil {
		return nil, fmt.Errorf("replica %d answered a decision without its evidence record: %s", n, b)
	}
	return a, nil
}

// check is tryCheck, failing the test on error.
func (c *replicaCluster) check(t *testing.T, n int, doc checkDoc) *checkAnswer {
	t.Helper()
	a, err := c.tryCheck(n, doc)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// roundRobin is the cluster's client: each request goes to the next
// replica in turn; a replica that does not answer (connection refused,
// reset) is skipped for the next, as a load balancer's retry would. A
// request that reached a replica but got no answer is not answered: only
// answers count.
func (c *replicaCluster) roundRobin(doc checkDoc) (*checkAnswer, error) {
	first := int(c.next.Add(1)-1) % len(c.replicas)
	var errs []error
	for i := range c.replicas {
		a, err := c.tryCheck((first+i)%len(c.replicas)+1, doc)
		if err == nil {
			return a, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// adminRevoke revokes a fingerprint through replica n's admin API and
// returns the revocation's id.
func (c *replicaCluster) adminRevoke(t *testing.T, n int, fp string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"kind": "fingerprint", "value": fp, "reason": "replica test"})
	req, err := http.NewRequest(http.MethodPost, "http://"+c.replicas[n-1].admin+"/v1/revocations", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+replicaAdminToken)
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke through replica %d's admin API: %s %s", n, resp.Status, b)
	}
	var rev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &rev); err != nil || rev.ID == "" {
		t.Fatalf("revocation answer %s: %v", b, err)
	}
	return rev.ID
}
