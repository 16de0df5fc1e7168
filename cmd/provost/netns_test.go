package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/provosttest"
)

// Environment of the client process TestNetworkOriginFromSeparateHosts
// starts inside a network namespace: the test binary itself, run with
// -test.run=^TestNetnsClientHelper$.
const (
	netnsClientURL    = "PROVOST_NETNS_CLIENT_URL" // what to GET; the credential comes on stdin
	netnsResultPrefix = "NETNS-RESULT "
)

// netnsResult is what the client saw.
type netnsResult struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Error   string            `json:"error,omitempty"`
}

// TestNetworkOriginFromSeparateHosts (issue "Hardening"): the network
// origin comes from real separate hosts, not from a field a caller fills
// in. Two network namespaces, "approved" and "other", each reach
// `provost serve` (in the root namespace, on the approved host's veth
// link) over a veth pair of their own, from their own private address.
// The binding requires the approved host's address. The same token is
// allowed from the approved host and denied from the other one
// (network_not_approved, and copied_credential: a second origin within
// the concurrent window), and the evidence log's record of the denial
// names the other host's address and network.
//
// It needs root and iproute2 (`ip`): without them it is skipped, and on CI
// (CI set) it fails. scripts/test.sh installs iproute2 when missing.
func TestNetworkOriginFromSeparateHosts(t *testing.T) {
	ip := netnsAvailable(t)
	id := fmt.Sprintf("%06x", rand.IntN(1<<24))
	approvedNet, otherNet := freeSubnets(t, ip)
	approved := netnsHost(t, ip, "provost-"+id+"-approved", "pv"+id+"a", approvedNet, "")
	other := netnsHost(t, ip, "provost-"+id+"-other", "pv"+id+"o", otherNet, approved.gateway)

	bindings := fmt.Sprintf(`version: 1
mode: enforce
networks:
  approved-host: [%s/32]
detectors: {concurrent_window: 5m}
bindings:
  - name: netns-deploy
    match: {subject: "svc:netns-deploy"}
    require: {networks: [approved-host]}
`, approved.addr)
	w := provosttest.New(t, provosttest.Options{Bindings: bindings})
	w.Now = time.Now
	srv := startServeCapture(t, false, "--config", w.ConfigFile(), "--listen", approved.gateway+":0")
	url := "http://" + srv.api + "/v1/forward-auth/v1/deploy"
	tok := w.MustToken("svc:netns-deploy", nil)

	first := netnsGet(t, ip, approved.ns, url, tok)
	second := netnsGet(t, ip, other.ns, url, tok)
	third := netnsGet(t, ip, approved.ns, url, tok)
	for _, c := range []struct {
		name     string
		r        netnsResult
		status   int
		decision string
		reasons  []string
	}{
		{"from the approved host " + approved.addr, first, http.StatusOK, "allow", []string{"provenance_verified"}},
		{"from the other host " + other.addr, second, http.StatusForbidden, "deny", []string{"network_not_approved", "copied_credential"}},
		{"from the approved host again", third, http.StatusOK, "allow", []string{"provenance_verified"}},
	} {
		reasons := strings.Split(c.r.Headers["X-Provost-Reasons"], ",")
		if c.r.Error != "" || c.r.Status != c.status || c.r.Headers["X-Provost-Decision"] != c.decision {
			t.Errorf("%s: %+v; want %d, %s", c.name, c.r, c.status, c.decision)
		}
		for _, want := range c.reasons {
			if !slices.Contains(reasons, want) {
				t.Errorf("%s: reasons %v lack %s", c.name, reasons, want)
			}
		}
	}
	for _, r := range []struct {
		from string
		r    netnsResult
	}{{approved.addr, first}, {other.addr, second}, {approved.addr, third}} {
		t.Logf("from %s: %d %s [%s] evidence #%s", r.from, r.r.Status, r.r.Headers["X-Provost-Decision"], r.r.Headers["X-Provost-Reasons"],
			strings.SplitN(r.r.Headers["X-Provost-Evidence"], " ", 2)[0])
	}
	if got := first.Headers["X-Provost-Client"]; got != approved.addr {
		t.Errorf("the approved host's request was seen from %q, want %s", got, approved.addr)
	}
	if code := srv.stop(); code != exitOK {
		t.Errorf("provost serve exited %d:\n%s", code, srv.stderr.Bytes())
	}

	// The evidence: the denial is the one record from the other host's
	// network, and names its address and network.
	var entries []struct {
		Index  int64
		Record struct {
			Decision, Provenance, Binding string
			Signals                       struct {
				Network struct{ Peer, Client, Origin string }
			}
			Checks  []struct{ Signal, Status, Observed, Reason string }
			Reasons []struct{ Code string }
			Origin  struct{ Network string }
		}
	}
	code, out, stderr := runCLI(t, "", "trail", "show", "--config", w.ConfigFile(), "--json", "--network", otherNet+".0/24")
	if code != exitOK {
		t.Fatalf("provost trail show: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("provost trail show --json: %v\n%s", err, out)
	}
	if len(entries) != 1 {
		t.Fatalf("%d records from %s.0/24, want 1 (the denial):\n%s", len(entries), otherNet, out)
	}
	e := entries[0]
	r := e.Record
	if wantIndex := strings.Fields(second.Headers["X-Provost-Evidence"]); len(wantIndex) == 0 || wantIndex[0] != strconv.FormatInt(e.Index, 10) {
		t.Errorf("the record from the other host is #%d; the answer named %q", e.Index, second.Headers["X-Provost-Evidence"])
	}
	n := r.Signals.Network
	if r.Decision != "deny" || r.Provenance != "violated" || r.Binding != "netns-deploy" || n.Peer != other.addr || n.Client != other.addr ||
		n.Origin != otherNet+".0/24" || r.Origin.Network != otherNet+".0/24" {
		t.Errorf("the record of the denial: %s", out)
	}
	var codes []string
	for _, rc := range r.Reasons {
		codes = append(codes, rc.Code)
	}
	t.Logf("evidence record #%d: %s, peer %s, client %s, origin %s, reasons %v", e.Index, r.Decision, n.Peer, n.Client, n.Origin, codes)
	if !slices.Contains(codes, "network_not_approved") || !slices.Contains(codes, "copied_credential") {
		t.Errorf("the record's reasons %v lack network_not_approved or copied_credential", codes)
	}
	if !slices.ContainsFunc(r.Checks, func(c struct{ Signal, Status, Observed, Reason string }) bool {
		return c.Signal == "network" && c.Status == "fail" && c.Observed == other.addr && c.Reason == "network_not_approved"
	}) {
		t.Errorf("the record has no failed network check observing %s: %+v", other.addr, r.Checks)
	}
	code, out, stderr = runCLI(t, "", "trail", "show", "--config", w.ConfigFile(), "--json", "--network", approved.addr)
	if code != exitOK || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 ||
		entries[0].Record.Decision != "allow" || entries[1].Record.Decision != "allow" {
		t.Errorf("records from the approved host: exit %d %s\n%s", code, stderr, out)
	}
}

// TestNetnsClientHelper is the client of TestNetworkOriginFromSeparateHosts:
// run inside a network namespace, it GETs $PROVOST_NETNS_CLIENT_URL with
// the bearer token read from standard input, and prints what it saw.
func TestNetnsClientHelper(t *testing.T) {
	url := os.Getenv(netnsClientURL)
	if url == "" {
		t.Skip("the client process of TestNetworkOriginFromSeparateHosts; it runs only inside that test's network namespaces")
	}
	var res netnsResult
	tok, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err == nil {
		var req *http.Request
		if req, err = http.NewRequest(http.MethodGet, url, nil); err == nil {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
			var resp *http.Response
			cl := &http.Client{Timeout: 10 * time.Second}
			if resp, err = cl.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.Status, res.Headers = resp.StatusCode, map[string]string{}
				for k := range resp.Header {
					res.Headers[k] = resp.Header.Get(k)
				}
			}
		}
	}
	if err != nil {
		res.Error = err.Error()
	}
	b, _ := json.Marshal(res)
	fmt.Printf("\n%s%s\n", netnsResultPrefix, b)
}

// netnsGet runs the client helper in namespace ns and returns what it saw.
func netnsGet(t *testing.T, ip, ns, url, tok string) netnsResult {
	t.Helper()
	cmd := exec.Command(ip, "netns", "exec", ns, os.Args[0], "-test.run=^TestNetnsClientHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsClientURL+"="+url)
	cmd.Stdin = strings.NewReader(tok + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("client in %s: %v\n%s%s", ns, err, stdout.Bytes(), stderr.Bytes())
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, netnsResultPrefix); ok {
			var r netnsResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatalf("client in %s: %v: %s", ns, err, rest)
			}
			return r
		}
	}
	t.Fatalf("client in %s printed no result:\n%s%s", ns, stdout.Bytes(), stderr.Bytes())
	return netnsResult{}
}

// netnsAvailable returns the path of `ip` when this test can make network
// namespaces here: Linux, root, iproute2. Otherwise it skips, or fails on
// CI (CI set), saying why.
func netnsAvailable(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: CI must run the network namespace test (as root, with iproute2; scripts/test.sh installs it)", why)
		}
		t.Skipf("%s: the network namespace test needs Linux, root and iproute2 (run ./scripts/test.sh as root, which installs iproute2)", why)
	}
	if runtime.GOOS != "linux" {
		missing("not Linux")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				ip = p
				break
			}
		}
	}
	if ip == "" {
		missing("iproute2's ip is not installed")
	}
	if os.Geteuid() != 0 {
		missing("not root")
	}
	// Can this machine (or container) make one at all?
	probe := fmt.Sprintf("provost-probe-%06x", rand.IntN(1<<24))
	if out, err := exec.Command(ip, "netns", "add", probe).CombinedOutput(); err != nil {
		missing(fmt.Sprintf("ip netns add fails here (%v: %s)", err, bytes.TrimSpace(out)))
	}
	if out, err := exec.Command(ip, "netns", "del", probe).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del %s: %v: %s", probe, err, out)
	}
	return ip
}

// freeSubnets picks two /24s of 10.203.0.0/16 that no address or route of
// this machine uses, returned as their first three octets ("10.203.17").
func freeSubnets(t *testing.T, ip string) (string, string) {
	t.Helper()
	addrs, err1 := exec.Command(ip, "-4", "-o", "addr", "show").Output()
	routes, err2 := exec.Command(ip, "-4", "route", "show", "table", "all").Output()
	if err1 != nil || err2 != nil {
		t.Fatalf("ip addr / ip route: %v %v", err1, err2)
	}
	used := string(addrs) + string(routes)
	var picked []string
	for _, x := range rand.Perm(254) {
		net := fmt.Sprintf("10.203.%d", x+1)
		if !strings.Contains(used, net+".") {
			picked = append(picked, net)
		}
		if len(picked) == 2 {
			return picked[0], picked[1]
		}
	}
	t.Fatal("no free /24 in 10.203.0.0/16")
	return "", ""
}

// netnsLink is one client host: a namespace joined to the root namespace
// by a veth pair on its own /24.
type netnsLink struct {
	ns      string
	addr    string // the host's address, in the namespace (.2)
	gateway string // the root namespace's end of the link (.1)
}

// netnsHost makes namespace ns and a veth pair (prefix+"0" in the root
// namespace, prefix+"1" in ns) on subnet (three octets): .1 in the root
// namespace, .2 in ns. When via is set (an address of the root namespace
// on another link), ns routes it through its link. Everything is removed
// when the test ends, whatever happened.
func netnsHost(t *testing.T, ip, ns, prefix, subnet, via string) netnsLink {
	t.Helper()
	l := netnsLink{ns: ns, addr: subnet + ".2", gateway: subnet + ".1"}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	root, inner := prefix+"0", prefix+"1"
	t.Cleanup(func() {
		// Deleting the namespace removes the veth end inside it, and so
		// the pair; the link is deleted too in case the namespace never
		// got its end.
		if out, err := exec.Command(ip, "netns", "del", ns).CombinedOutput(); err != nil && !bytes.Contains(out, []byte("No such file")) {
			t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
		}
		exec.Command(ip, "link", "del", root).Run()
	})
	run("netns", "add", ns)
	run("link", "add", root, "type", "veth", "peer", "name", inner, "netns", ns)
	run("addr", "add", l.gateway+"/24", "dev", root)
	run("link", "set", root, "up")
	run("-n", ns, "link", "set", "lo", "up")
	run("-n", ns, "addr", "add", l.addr+"/24", "dev", inner)
	run("-n", ns, "link", "set", inner, "up")
	if via != "" {
		run("-n", ns, "route", "add", via+"/32", "via", l.gateway)
	}
	return l
}
