package binding

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/credential"
)

// The scale fixtures: n bindings of five kinds, each kind matched by its own
// criterion, so that the credential of a kind matches exactly one binding.
// The last five bindings are one of each kind, in kind order; every binding
// also names a workload (exact for even i, a path prefix for odd i).
const (
	kindFingerprint = iota
	kindSubject
	kindAPIKey
	kindClaims
	kindWorkload
	numKinds
)

var kindNames = [numKinds]string{"fingerprint", "subject", "api_key", "issuer_claims_glob", "workload"}

const (
	scaleIssuerSubject = "https://issuer.example.com"
	scaleIssuerCI      = "https://token.actions.githubusercontent.com"
	scaleSharedRule    = `signals.request.method == "GET" || signals.workload.present`
)

// scaleKind is the kind of binding i of n.
func scaleKind(i, n int) int {
	if i >= n-numKinds {
		return i - (n - numKinds)
	}
	return i % numKinds
}

// scaleFingerprint is a valid fingerprint unique to i.
func scaleFingerprint(i int) string {
	sum := sha256.Sum256([]byte("binding-" + strconv.Itoa(i)))
	return "fp1:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func scaleWorkload(i int) string {
	if i%2 == 0 {
		return "spiffe://acme.internal/w/" + strconv.Itoa(i)
	}
	return "spiffe://acme.internal/ns/" + strconv.Itoa(i) + "/*"
}

// scaleBinding is binding i of n; every ruleEvery-th binding carries the
// shared CEL rule (0: none does).
func scaleBinding(i, n, ruleEvery int) bindingDoc {
	d := bindingDoc{Name: "b-" + strconv.Itoa(i), Require: RequireSpec{Workloads: []string{scaleWorkload(i)}}}
	s := strconv.Itoa(i)
	switch scaleKind(i, n) {
	case kindFingerprint:
		d.Match.Fingerprints = []string{scaleFingerprint(i)}
	case kindSubject:
		d.Match.Issuer, d.Match.Subject = scaleIssuerSubject, "service-"+s
	case kindAPIKey:
		d.Match.APIKey = "key-" + s
	case kindClaims:
		d.Match.Issuer = scaleIssuerCI
		d.Match.Claims = map[string]string{"repository": "acme/repo-" + s + "/*", "environment": "prod*"}
	case kindWorkload:
		d.Match.Issuer = "https://spire.example/" + s
	}
	if ruleEvery > 0 && i%ruleEvery == 0 {
		d.Require.Rule = scaleSharedRule
	}
	return d
}

// scaleCredential is the accepted credential that matches binding i of n.
func scaleCredential(i, n int) credential.Result {
	s := strconv.Itoa(i)
	c := credential.Result{Verdict: credential.Accepted, Kind: credential.KindJWT}
	switch scaleKind(i, n) {
	case kindFingerprint:
		c.Fingerprint = scaleFingerprint(i)
	case kindSubject:
		c.Metadata.Issuer, c.Metadata.Subject = scaleIssuerSubject, "service-"+s
	case kindAPIKey:
		c.Kind, c.Metadata.APIKey = credential.KindAPIKey, "key-"+s
	case kindClaims:
		c.Metadata.Issuer, c.Metadata.Subject = scaleIssuerCI, "repo:acme/repo-"+s+":ref:refs/heads/main"
		c.Metadata.Claims = map[string]any{"repository": "acme/repo-" + s + "/deploy", "environment": "prod-eu", "run_number": float64(7)}
	case kindWorkload:
		c.Metadata.Issuer = "https://spire.example/" + s
	}
	return c
}

// scaleWorkloadID is a SPIFFE ID only binding i names.
func scaleWorkloadID(i int) string {
	if i%2 == 0 {
		return "spiffe://acme.internal/w/" + strconv.Itoa(i)
	}
	return "spiffe://acme.internal/ns/" + strconv.Itoa(i) + "/api"
}

// scaleSet compiles n bindings without YAML.
func scaleSet(tb testing.TB, n int) *Set {
	tb.Helper()
	doc := &fileDoc{Version: Version, Bindings: make([]bindingDoc, n)}
	for i := range doc.Bindings {
		doc.Bindings[i] = scaleBinding(i, n, 0)
	}
	s, err := compile(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// writeScaleFile writes a bindings file of n bindings to w, in block style.
func writeScaleFile(w io.Writer, n, ruleEvery int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("# generated: " + strconv.Itoa(n) + " bindings\nversion: 1\nmode: enforce\nbindings:\n")
	for i := range n {
		d := scaleBinding(i, n, ruleEvery)
		fmt.Fprintf(bw, "  - name: %s\n    match:\n", d.Name)
		m := &d.Match
		if m.Fingerprints != nil {
			fmt.Fprintf(bw, "      fingerprints: [%s]\n", strings.Join(m.Fingerprints, ", "))
		}
		if m.Issuer != "" {
			fmt.Fprintf(bw, "      issuer: %s\n", m.Issuer)
		}
		if m.Subject != "" {
			fmt.Fprintf(bw, "      subject: %q\n", m.Subject)
		}
		if m.Claims != nil {
			fmt.Fprintf(bw, "      claims: {repository: %q, environment: %q}\n", m.Claims["repository"], m.Claims["environment"])
		}
		if m.APIKey != "" {
			fmt.Fprintf(bw, "      api_key: %s\n", m.APIKey)
		}
		fmt.Fprintf(bw, "    require:\n      workloads: [%q]\n", d.Require.Workloads[0])
		if d.Require.Rule != "" {
			fmt.Fprintf(bw, "      rule: '%s'\n", d.Require.Rule)
		}
	}
	return bw.Flush()
}

func writeScaleTemp(tb testing.TB, n, ruleEvery int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bindings.yaml")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := writeScaleFile(f, n, ruleEvery); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkMatchScale matches, in a set of N bindings, a credential of
// each kind against one of the last five bindings (the last one of its
// kind), and a workload named only by the last binding.
func BenchmarkMatchScale(b *testing.B) {
	for _, n := range []int{10, 1000, 100000, 1000000} {
		b.Run("bindings="+strconv.Itoa(n), func(b *testing.B) {
			s := scaleSet(b, n)
			for k := range numKinds {
				i := n - numKinds + k
				c := scaleCredential(i, n)
				name := kindNames[k]
				if k == kindWorkload {
					name = "issuer" // the binding of an issuer alone
				}
				b.Run("by="+name, func(b *testing.B) {
					if got := s.Match(&c); got == nil || got != s.Bindings[i] {
						b.Fatalf("Match = %v, want %s", got, s.Bindings[i].Name)
					}
					b.ReportAllocs()
					for b.Loop() {
						s.Match(&c)
					}
				})
			}
			id := scaleWorkloadID(n - 1)
			b.Run("by=workload", func(b *testing.B) {
				if !s.NamesWorkload(id) {
					b.Fatalf("%s is not named", id)
				}
				b.ReportAllocs()
				for b.Loop() {
					s.NamesWorkload(id)
				}
			})
		})
	}
}

// BenchmarkLoadScale loads a generated file of N bindings (every binding
// with a workload; rules=shared: every tenth with the same CEL rule) and
// reports the time of one load, the peak RSS while loading (VmHWM, reset
// before the load where the kernel allows) and the heap the Set keeps.
// Run it alone, so that the peak is the load's:
//
//	go test -run '^$' -bench 'LoadScale/bindings=1000000/' -benchtime=1x ./internal/binding/
func BenchmarkLoadScale(b *testing.B) {
	for _, n := range []int{100000, 1000000} {
		for _, rules := range []struct {
			name  string
			every int
		}{{"none", 0}, {"shared", 10}} {
			b.Run("bindings="+strconv.Itoa(n)+"/rules="+rules.name, func(b *testing.B) {
				path := writeScaleTemp(b, n, rules.every)
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				var s *Set
				var peak, kept uint64
				var took, cpu time.Duration
				for b.Loop() {
					s = nil
					runtime.GC()
					resetPeakRSS()
					start, cpu0 := time.Now(), cpuTime(b)
					s, err = LoadLimit(context.Background(), path, MaxFileBytesLimit)
					took, cpu = time.Since(start), cpuTime(b)-cpu0
					if err != nil {
						b.Fatal(err)
					}
					peak = peakRSS(b)
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					kept = ms.HeapAlloc
				}
				if len(s.Bindings) != n {
					b.Fatalf("%d bindings", len(s.Bindings))
				}
				b.ReportMetric(took.Seconds(), "s/load")
				b.ReportMetric(cpu.Seconds(), "s-cpu/load")
				b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-RSS")
				b.ReportMetric(float64(kept)/(1<<20), "MiB-heap-kept")
				b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-file")
				runtime.KeepAlive(s)
			})
		}
	}
}

// cpuTime is the user and system time the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the process's VmHWM (Linux 4.0+; ignored elsewhere).
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the process's VmHWM in bytes.
func peakRSS(tb testing.TB) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM")
	return 0
}
