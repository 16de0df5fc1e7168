package fingerprint

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
)

func newSecret(t testing.TB) []byte {
	t.Helper()
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func reference(secret []byte, raw string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(raw))
	return Prefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestOfMatchesReference(t *testing.T) {
	secret := newSecret(t)
	f, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, raw string }{
		{"empty", ""},
		{"short", "abc"},
		{"jwt-like", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln"},
		{"large", strings.Repeat("x", 20000)}, // larger than the pooled buffer bound
		{"after large", "tiny"},
		{"non-ascii", "ключ\x00\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.Of(tt.raw)
			if want := reference(secret, tt.raw); got != want {
				t.Fatalf("Of = %q, want %q", got, want)
			}
			if !Valid(got) {
				t.Fatalf("Valid(%q) = false", got)
			}
			if strings.Contains(got, tt.raw) && tt.raw != "" {
				t.Fatalf("fingerprint contains the raw credential")
			}
		})
	}
}

func TestEncodedLen(t *testing.T) {
	if want := len(Prefix) + base64.RawURLEncoding.EncodedLen(sha256.Size); encodedLen != want {
		t.Fatalf("encodedLen = %d, want %d", encodedLen, want)
	}
}

func TestOfDependsOnSecret(t *testing.T) {
	a, _ := New(newSecret(t))
	b, _ := New(newSecret(t))
	if a.Of("token") == b.Of("token") {
		t.Fatal("different secrets gave the same fingerprint")
	}
	if first, again := a.Of("token"), a.Of("token"); first != again {
		t.Fatal("same secret gave different fingerprints")
	}
	if a.Of("token") == a.Of("token2") {
		t.Fatal("different credentials gave the same fingerprint")
	}
}

func TestNewCopiesSecret(t *testing.T) {
	secret := newSecret(t)
	f, _ := New(secret)
	before := f.Of("t")
	secret[0] ^= 0xff
	if f.Of("t") != before {
		t.Fatal("changing the caller's slice changed the fingerprint")
	}
}

func TestNewRejectsShortSecret(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with %d-byte secret: no error", n)
		}
	}
	if _, err := New(make([]byte, 64)); err != nil {
		t.Errorf("New with 64-byte secret: %v", err)
	}
}

func TestOfConcurrent(t *testing.T) {
	secret := newSecret(t)
	f, _ := New(secret)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				raw := strings.Repeat(string(rune('a'+g)), i)
				if got, want := f.Of(raw), reference(secret, raw); got != want {
					t.Errorf("goroutine %d: Of(%d bytes) mismatch", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestValid(t *testing.T) {
	f, _ := New(newSecret(t))
	good := f.Of("x")
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"fingerprint", good, true},
		{"empty", "", false},
		{"no prefix", good[len(Prefix):], false},
		{"other version", "fp2:" + good[len(Prefix):], false},
		{"truncated", good[:len(good)-1], false},
		{"too long", good + "A", false},
		{"padding", good[:len(good)-1] + "=", false},
		{"std alphabet", good[:len(good)-1] + "+", false},
		{"raw jwt", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.s); got != tt.want {
			t.Errorf("%s: Valid(%q) = %v, want %v", tt.name, tt.s, got, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"fp1:abc", "fp1:abc", true},
		{"fp1:abc", "fp1:abd", false},
		{"fp1:abc", "fp1:ab", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestOfAllocs(t *testing.T) {
	f, _ := New(newSecret(t))
	raw := strings.Repeat("t", 900)
	f.Of(raw) // warm the pool
	allocs := testing.AllocsPerRun(100, func() { _ = f.Of(raw) })
	// One allocation: the returned string. The race detector's sync.Pool
	// drops items at random, so allow for that there.
	if allocs > 1 && !raceEnabled {
		t.Fatalf("Of allocates %v times per call, want 1", allocs)
	}
}

func BenchmarkOf(b *testing.B) {
	f, _ := New(newSecret(b))
	raw := strings.Repeat("t", 900) // a typical JWT access token size
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = f.Of(raw)
		}
	})
}

// BenchmarkOfHMACNew is the alternative design, a new HMAC per call, kept to
// show why Of pools its state.
func BenchmarkOfHMACNew(b *testing.B) {
	secret := newSecret(b)
	raw := strings.Repeat("t", 900)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = reference(secret, raw)
		}
	})
}
