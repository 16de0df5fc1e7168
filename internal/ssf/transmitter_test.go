package ssf

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/revocation"
)

const txIssuer = "https://provost.example"

// newTransmitter makes a Transmitter on a fake clock whose waits return at
// once, with full jitter off (each wait is its upper bound) unless mut
// changes it. It is closed at the end of the test.
func newTransmitter(t *testing.T, clock *fakeClock, mut func(*TransmitterConfig), streams ...Stream) (*Transmitter, *MemoryDeadLetters) {
	t.Helper()
	dead := NewMemoryDeadLetters(0)
	cfg := TransmitterConfig{
		Issuer:      txIssuer,
		Key:         newP256(t),
		KeyID:       "provost-1",
		Streams:     streams,
		DeadLetters: dead,
		Now:         clock.Now,
		Sleep:       clock.Sleep,
		Jitter:      func(d time.Duration) time.Duration { return d },
	}
	if mut != nil {
		mut(&cfg)
	}
	tx, err := NewTransmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tx.Close(ctx)
	})
	return tx, dead
}

// closeNow drains tx (the fake sleeps return at once, so it is quick).
func closeNow(t *testing.T, tx *Transmitter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tx.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRoundTrip sends each kind of revocation from a Transmitter to a
// Receiver over loopback HTTP and checks the receiver's revocation.
func TestRoundTrip(t *testing.T) {
	clock := newFakeClock()
	created := t0.Add(-time.Minute)
	before := t0.Add(-time.Hour)
	fpv := fp(t, "ci-token-copied-to-a-laptop")
	cases := []struct {
		name       string
		rev        revocation.Revocation
		sendReason bool
		want       revocation.Revocation
		reason     string
	}{
		{
			name:   "fingerprint",
			rev:    revocation.Revocation{ID: "rev_1", Kind: revocation.KindFingerprint, Value: fpv, Reason: "used from an unapproved host", CreatedAt: created},
			want:   revocation.Revocation{Kind: revocation.KindFingerprint, Value: fpv},
			reason: "SSF credential-change from " + txIssuer,
		},
		{
			name:       "fingerprint with its reason",
			rev:        revocation.Revocation{Kind: revocation.KindFingerprint, Value: fpv, Reason: "used from an unapproved host"},
			sendReason: true,
			want:       revocation.Revocation{Kind: revocation.KindFingerprint, Value: fpv},
			reason:     "SSF credential-change from " + txIssuer + ": used from an unapproved host",
		},
		{
			name: "jti",
			rev:  revocation.Revocation{Kind: revocation.KindJTI, Value: "4f1c2a", Issuer: "https://sts.acme.test"},
			want: revocation.Revocation{Kind: revocation.KindJTI, Value: "4f1c2a", Issuer: "https://sts.acme.test"},
		},
		{
			name: "subject issued before",
			rev:  revocation.Revocation{Kind: revocation.KindSubject, Value: "repo:acme/deploy:ref:main", Issuer: "https://token.actions.example", IssuedBefore: before},
			want: revocation.Revocation{Kind: revocation.KindSubject, Value: "repo:acme/deploy:ref:main", Issuer: "https://token.actions.example", IssuedBefore: before},
		},
		{
			name: "subject without issued_before is sent as of its creation",
			rev:  revocation.Revocation{Kind: revocation.KindSubject, Value: "agent-7", Issuer: "https://sts.acme.test", CreatedAt: created},
			want: revocation.Revocation{Kind: revocation.KindSubject, Value: "agent-7", Issuer: "https://sts.acme.test", IssuedBefore: created},
		},
		{
			name: "issuer",
			rev:  revocation.Revocation{Kind: revocation.KindIssuer, Value: "https://old-sts.acme.test"},
			want: revocation.Revocation{Kind: revocation.KindIssuer, Value: "https://old-sts.acme.test"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The receiver trusts the transmitter's published JWKS; it is
			// created first so its URL can be the stream's endpoint.
			col := newCollector()
			var rx http.Handler
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rx.ServeHTTP(w, r) }))
			defer srv.Close()
			tx, dead := newTransmitter(t, clock, nil, Stream{ID: "rx", EndpointURL: srv.URL + "/ssf/events", Audience: "https://rx.example", SendReason: tc.sendReason})
			recv, err := NewReceiver(ReceiverConfig{
				Transmitters: []TrustedTransmitter{{
					Issuer: txIssuer, Audience: "https://rx.example", JWKS: tx.JWKS(),
					AcceptKinds: []revocation.Kind{revocation.KindFingerprint, revocation.KindJTI, revocation.KindSubject, revocation.KindIssuer},
				}},
				Replay:       replay.NewMemory(replay.MemoryConfig{Now: clock.Now}),
				OnRevocation: col.add,
				Now:          clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			rx = recv
			if err := tx.Notify(context.Background(), tc.rev); err != nil {
				t.Fatal(err)
			}
			closeNow(t, tx)
			got := col.list()
			if len(got) != 1 {
				d, _ := dead.List()
				t.Fatalf("received %+v (dead letters %+v)", got, d)
			}
			g := got[0]
			if g.Kind != tc.want.Kind || g.Value != tc.want.Value || g.Issuer != tc.want.Issuer ||
				!g.IssuedBefore.Equal(tc.want.IssuedBefore) || !g.ExpiresAt.IsZero() {
				t.Fatalf("received %+v, want %+v", g, tc.want)
			}
			if tc.reason != "" && g.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", g.Reason, tc.reason)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			if st := tx.Stats(); st.Queued != 1 || st.Delivered != 1 || st.Retries != 0 || st.DeadLettered != 0 {
				t.Fatalf("transmitter stats %+v", st)
			}
			if st := recv.Stats(); st.Accepted != 1 || st.Revocations != 1 {
				t.Fatalf("receiver stats %+v", st)
			}
		})
	}
}

func TestNotifyNotShared(t *testing.T) {
	tx, _ := newTransmitter(t, newFakeClock(), nil, Stream{ID: "rx", EndpointURL: "http://127.0.0.1:9/", Audience: "a"})
	for _, rev := range []revocation.Revocation{
		{Kind: revocation.KindBinding, Value: "ci-runners"},
		{Kind: revocation.KindSubject, Value: "agent-7"},
		{Kind: revocation.KindJTI, Value: "4f1c2a"},
	} {
		if err := tx.Notify(context.Background(), rev); !errors.Is(err, ErrNotShared) {
			t.Errorf("%s without issuer: %v, want ErrNotShared", rev.Kind, err)
		}
	}
	err := tx.Notify(context.Background(), revocation.Revocation{Kind: revocation.KindFingerprint, Value: "raw-token-pasted-by-mistake"})
	if !errors.Is(err, revocation.ErrInvalid) {
		t.Errorf("invalid revocation: %v", err)
	}
	if st := tx.Stats(); st.Queued != 0 {
		t.Fatalf("queued %d", st.Queued)
	}
}

// TestRetries: a receiver that fails three times, then accepts, gets the
// SET (the same SET each time) after three waits that double, measured on
// the fake clock.
func TestRetries(t *testing.T) {
	cases := []struct {
		name    string
		fail    func(w http.ResponseWriter)
		jitter  func(time.Duration) time.Duration
		want    []time.Duration // exact waits; nil: check the bounds
		initial time.Duration
	}{
		{
			name:   "503, jitter at its top",
			fail:   func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
			jitter: func(d time.Duration) time.Duration { return d },
			want:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name:   "500, no jitter: half of each bound",
			fail:   func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) },
			jitter: func(time.Duration) time.Duration { return 0 },
			want:   []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
		},
		{
			name: "random jitter",
			fail: func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) },
		},
		{
			name: "429 with Retry-After",
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			jitter: func(d time.Duration) time.Duration { return d },
			want:   []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second},
		},
		{
			name: "invalid_key (keys not yet distributed)",
			fail: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"err":"invalid_key","description":"unknown kid"}`)
			},
			jitter:  func(d time.Duration) time.Duration { return d },
			want:    []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second},
			initial: 2 * time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []string
			var auths, types []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				auths = append(auths, r.Header.Get("Authorization"))
				types = append(types, r.Header.Get("Content-Type"))
				n := len(bodies)
				mu.Unlock()
				if n <= 3 {
					tc.fail(w)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			clock := newFakeClock()
			var outcomes []Outcome
			tx, dead := newTransmitter(t, clock, func(c *TransmitterConfig) {
				c.Jitter = tc.jitter
				c.InitialBackoff = tc.initial
				c.Observe = func(o Outcome) { outcomes = append(outcomes, o) }
			}, Stream{ID: "flaky", EndpointURL: srv.URL, Audience: "https://rx.example", AuthorizationHeader: "Bearer tx-to-rx"})
			if err := tx.Notify(context.Background(), revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp(t, "x")}); err != nil {
				t.Fatal(err)
			}
			closeNow(t, tx)

			if len(bodies) != 4 {
				t.Fatalf("%d attempts, want 4", len(bodies))
			}
			for i := range bodies {
				if bodies[i] != bodies[0] {
					t.Fatal("a retry sent another SET; RFC 8935 retransmits the same one")
				}
				if auths[i] != "Bearer tx-to-rx" || types[i] != ContentType {
					t.Fatalf("attempt %d: Authorization %q, Content-Type %q", i+1, auths[i], types[i])
				}
			}
			sleeps := clock.Sleeps()
			if tc.want != nil {
				if !reflect.DeepEqual(sleeps, tc.want) {
					t.Fatalf("waits %v, want %v", sleeps, tc.want)
				}
			} else {
				if len(sleeps) != 3 {
					t.Fatalf("waits %v", sleeps)
				}
				for i, s := range sleeps {
					hi := time.Second << i
					if s < hi/2 || s > hi {
						t.Fatalf("wait %d is %v, want within [%v, %v]", i+1, s, hi/2, hi)
					}
				}
			}
			var total time.Duration
			for _, s := range sleeps {
				total += s
			}
			if got := clock.Now().Sub(t0); got != total {
				t.Fatalf("the fake clock moved %v, the waits add to %v", got, total)
			}
			if st := tx.Stats(); st.Delivered != 1 || st.Retries != 3 || st.DeadLettered != 0 {
				t.Fatalf("stats %+v", st)
			}
			if d, _ := dead.List(); len(d) != 0 {
				t.Fatalf("dead letters %+v", d)
			}
			if len(outcomes) != 1 || !outcomes[0].Delivered || outcomes[0].Attempts != 4 {
				t.Fatalf("outcomes %+v", outcomes)
			}
		})
	}
}

func TestBackoffIsCapped(t *testing.T) {
	tx, _ := newTransmitter(t, newFakeClock(), func(c *TransmitterConfig) {
		c.MaxBackoff = 10 * time.Second
	}, Stream{ID: "rx", EndpointURL: "https://rx.example/", Audience: "a"})
	want := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for i, w := range want {
		if got := tx.backoff(i+1, 0); got != w*time.Second {
			t.Errorf("wait %d: %v, want %v", i+1, got, w*time.Second)
		}
	}
	if got := tx.backoff(1, time.Hour); got != 10*time.Second {
		t.Errorf("Retry-After beyond the cap: %v", got)
	}
	if got := tx.backoff(200, 0); got != 10*time.Second {
		t.Errorf("many attempts: %v", got)
	}
}

// TestDeadLetters: a receiver that never accepts ends in the dead-letter
// record, after every attempt or at once, as its answer says.
func TestDeadLetters(t *testing.T) {
	stopped := httptest.NewServer(http.NotFoundHandler())
	stoppedURL := stopped.URL
	stopped.Close()
	var redirected bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirected = true }))
	defer elsewhere.Close()

	jsonErr := func(code, desc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"err": code, "description": desc})
		}
	}
	cases := []struct {
		name     string
		handler  http.HandlerFunc // nil: no server at all
		why      string
		attempts int
		status   int
		errHas   string
	}{
		{"always 500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, DeadExhausted, 4, 500, "HTTP 500"},
		{"invalid_key every time", jsonErr(CodeInvalidKey, "unknown kid"), DeadExhausted, 4, 400, "invalid_key: unknown kid"},
		{"invalid_audience", jsonErr(CodeInvalidAudience, "the SET aud does not name this receiver"), DeadPermanent, 1, 400, "invalid_audience"},
		{"access_denied", jsonErr(CodeAccessDenied, "no"), DeadPermanent, 1, 400, "access_denied: no"},
		{"duplicate on the first attempt", jsonErr(CodeInvalidRequest, DuplicateDescription), DeadPermanent, 1, 400, "duplicate SET"},
		{"description with control characters", jsonErr(CodeInvalidRequest, "bad\r\nX-Injected: 1"), DeadPermanent, 1, 400, "invalid_request: badX-Injected: 1"},
		{"401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, DeadPermanent, 1, 401, "HTTP 401"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
		}, DeadPermanent, 1, 307, "redirects are not followed"},
		{"nobody listening", nil, DeadExhausted, 4, 0, "transport:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := stoppedURL
			var sets []string
			if tc.handler != nil {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					b, _ := io.ReadAll(r.Body)
					sets = append(sets, string(b))
					tc.handler(w, r)
				}))
				defer srv.Close()
				url = srv.URL
			}
			clock := newFakeClock()
			file := NewFileDeadLetters(filepath.Join(t.TempDir(), "dead.jsonl"))
			const authz = "Bearer do-not-leak-this"
			tx, _ := newTransmitter(t, clock, func(c *TransmitterConfig) {
				c.MaxAttempts = 4
				c.DeadLetters = file
			}, Stream{ID: "broken", EndpointURL: url + "/ssf?tenant=7", Audience: "https://rx.example", AuthorizationHeader: authz})
			rev := revocation.Revocation{ID: "rev_9", Kind: revocation.KindFingerprint, Value: fp(t, "stolen")}
			if err := tx.Notify(context.Background(), rev); err != nil {
				t.Fatal(err)
			}
			closeNow(t, tx)
			letters, err := file.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(letters) != 1 {
				t.Fatalf("dead letters %+v", letters)
			}
			d := letters[0]
			if d.Why != tc.why || d.Attempts != tc.attempts || d.LastStatus != tc.status || !strings.Contains(d.LastError, tc.errHas) {
				t.Fatalf("dead letter %+v, want why %s, %d attempts, status %d, error with %q", d, tc.why, tc.attempts, tc.status, tc.errHas)
			}
			if d.Stream != "broken" || d.Endpoint != url+"/ssf" || d.Event != EventCredentialChange || len(d.JTI) != 32 || len(d.Txn) != 32 ||
				d.RevocationID != "rev_9" || d.Kind != revocation.KindFingerprint || d.Value != rev.Value || !d.Time.Equal(clock.Now()) {
				t.Fatalf("dead letter %+v", d)
			}
			if got := len(clock.Sleeps()); got != tc.attempts-1 {
				t.Fatalf("%d waits for %d attempts", got, tc.attempts)
			}
			raw, _ := os.ReadFile(filepath.Join(filepath.Dir(file.path), "dead.jsonl"))
			if strings.Contains(string(raw), "do-not-leak-this") || strings.Contains(string(raw), "tenant=7") {
				t.Fatal("the dead letter holds the authorization header or the query")
			}
			for _, set := range sets {
				if strings.Contains(string(raw), set) {
					t.Fatal("the dead letter holds the SET")
				}
			}
			if redirected {
				t.Fatal("the redirect was followed")
			}
			if st := tx.Stats(); st.DeadLettered != 1 || st.Delivered != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// When the first attempt got no answer (the receiver may have it), a later
// "duplicate" answer means it does: delivered, not dead.
func TestDuplicateAfterLostAnswerIsDelivered(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"err": CodeInvalidRequest, "description": DuplicateDescription})
	}))
	defer srv.Close()
	tx, dead := newTransmitter(t, newFakeClock(), nil, Stream{ID: "rx", EndpointURL: srv.URL, Audience: "a"})
	if err := tx.Notify(context.Background(), revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp(t, "x")}); err != nil {
		t.Fatal(err)
	}
	closeNow(t, tx)
	if st := tx.Stats(); st.Delivered != 1 || st.DeadLettered != 0 || n != 2 {
		d, _ := dead.List()
		t.Fatalf("stats %+v after %d attempts, dead %+v", st, n, d)
	}
}

// TestQueueFull: a stream whose queue is full makes Notify fail loudly and
// records a dead letter, while the other streams still get the SET.
func TestQueueFull(t *testing.T) {
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(http.StatusAccepted)
	}))
	defer slow.Close()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	var fastN int
	var mu sync.Mutex
	fastGot := make(chan struct{}, 8)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fastN++
		mu.Unlock()
		fastGot <- struct{}{}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer fast.Close()
	tx, dead := newTransmitter(t, newFakeClock(), func(c *TransmitterConfig) { c.QueueSize = 1 },
		Stream{ID: "slow", EndpointURL: slow.URL, Audience: "a"},
		Stream{ID: "fast", EndpointURL: fast.URL, Audience: "b"},
	)
	notify := func(raw string) error {
		return tx.Notify(context.Background(), revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp(t, raw)})
	}
	if err := notify("1"); err != nil {
		t.Fatal(err)
	}
	<-arrived // the slow worker holds SET 1; its queue is empty
	<-fastGot // so does the fast one
	if err := notify("2"); err != nil {
		t.Fatal(err)
	}
	<-fastGot // the fast stream has taken SET 2 too: its queue is empty
	err := notify("3")
	if !errors.Is(err, ErrQueueFull) || !strings.Contains(err.Error(), "slow") || strings.Contains(err.Error(), "fast") {
		t.Fatalf("third notify: %v (stats %+v)", err, tx.Stats())
	}
	letters, _ := dead.List()
	if len(letters) != 1 || letters[0].Why != DeadQueueFull || letters[0].Stream != "slow" || letters[0].Value != fp(t, "3") {
		t.Fatalf("dead letters %+v", letters)
	}
	unblock()
	closeNow(t, tx)
	if st := tx.Stats(); st.Delivered != 5 || st.QueueFull != 1 || st.Queued != 5 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if fastN != 3 {
		t.Fatalf("the fast stream got %d SETs, want 3", fastN)
	}
}

// TestCloseDeadline: Close drains with a deadline; what is not delivered by
// then is a dead letter, and Notify then fails.
func TestCloseDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	dead := NewMemoryDeadLetters(0)
	tx, err := NewTransmitter(TransmitterConfig{
		Issuer: txIssuer, Key: newP256(t), KeyID: "k", DeadLetters: dead,
		InitialBackoff: time.Hour, MaxBackoff: time.Hour, // real waits: far longer than the test
		Streams: []Stream{{ID: "down", EndpointURL: srv.URL, Audience: "a"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"1", "2", "3"} {
		if err := tx.Notify(context.Background(), revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp(t, raw)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = tx.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v", took)
	}
	letters, _ := dead.List()
	if len(letters) != 3 {
		t.Fatalf("dead letters %+v", letters)
	}
	if l := letters[0]; l.Why != DeadClosed || l.Attempts != 1 || l.LastStatus != 503 {
		t.Fatalf("in-flight SET: %+v", l)
	}
	for _, l := range letters[1:] {
		if l.Why != DeadClosed || l.Attempts != 0 {
			t.Fatalf("queued SET: %+v", l)
		}
	}
	if err := tx.Notify(context.Background(), revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp(t, "4")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Notify after Close: %v", err)
	}
	if err := tx.SendVerification(context.Background(), "down", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendVerification after Close: %v", err)
	}
	if err := tx.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestEventsDeliveredFilter(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n++; w.WriteHeader(202) }))
	defer srv.Close()
	tx, _ := newTransmitter(t, newFakeClock(), nil, Stream{ID: "sessions-only", EndpointURL: srv.URL, Audience: "a", EventsDelivered: []string{EventSessionRevoked}})
	ctx := context.Background()
	if err := tx.Notify(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp(t, "x")}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Notify(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "s", Issuer: "https://sts.example"}); err != nil {
		t.Fatal(err)
	}
	closeNow(t, tx)
	if n != 1 {
		t.Fatalf("%d SETs sent, want 1 (session-revoked only)", n)
	}
}

func TestSendVerification(t *testing.T) {
	clock := newFakeClock()
	var rx *Receiver
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rx.ServeHTTP(w, r) }))
	defer srv.Close()
	tx, _ := newTransmitter(t, clock, nil, Stream{ID: "rx-1", EndpointURL: srv.URL, Audience: "aud"})
	col := newCollector()
	var err error
	rx, err = NewReceiver(ReceiverConfig{
		Transmitters: []TrustedTransmitter{{Issuer: txIssuer, Audience: "aud", JWKS: tx.JWKS()}},
		Replay:       replay.NewMemory(replay.MemoryConfig{Now: clock.Now}),
		OnRevocation: col.add, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SendVerification(context.Background(), "nope", "x"); !errors.Is(err, ErrUnknownStream) {
		t.Fatalf("unknown stream: %v", err)
	}
	if err := tx.SendVerification(context.Background(), "rx-1", "c3RhdGU"); err != nil {
		t.Fatal(err)
	}
	closeNow(t, tx)
	if st := rx.Stats(); st.Verifications != 1 || st.Accepted != 1 || len(col.list()) != 0 {
		t.Fatalf("receiver stats %+v", st)
	}
}

func TestJWKSAndMetadata(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	tx, _ := newTransmitter(t, newFakeClock(), func(c *TransmitterConfig) {
		c.RetiredKeys = []PublicKey{{KeyID: "provost-0", Key: pub}}
	}, Stream{ID: "rx", EndpointURL: "https://rx.example/ssf", Audience: "https://rx.example", AuthorizationHeader: "Bearer secret"})
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(tx.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	for i, want := range []struct{ kid, alg string }{{"provost-1", "ES256"}, {"provost-0", "EdDSA"}} {
		k := set.Keys[i]
		if !k.IsPublic() || k.KeyID != want.kid || k.Algorithm != want.alg || k.Use != "sig" {
			t.Fatalf("key %d: %+v", i, k)
		}
	}
	if strings.Contains(string(tx.JWKS()), `"d"`) {
		t.Fatal("the JWKS holds private key material")
	}

	var meta map[string]any
	if err := json.Unmarshal(tx.Configuration("https://provost.example/ssf/jwks.json"), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["issuer"] != txIssuer || meta["jwks_uri"] != "https://provost.example/ssf/jwks.json" ||
		!reflect.DeepEqual(meta["delivery_methods_supported"], []any{DeliveryMethodPush}) || meta["spec_version"] != "1_0" {
		t.Fatalf("metadata %v", meta)
	}
	streams, _ := json.Marshal(tx.Streams())
	want := `[{"stream_id":"rx","iss":"https://provost.example","aud":"https://rx.example","delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://rx.example/ssf"},` +
		`"events_supported":["` + EventCredentialChange + `","` + EventSessionRevoked + `"],"events_delivered":["` + EventCredentialChange + `","` + EventSessionRevoked + `"]}]`
	if string(streams) != want {
		t.Fatalf("streams\n got %s\nwant %s", streams, want)
	}
}

func TestNewTransmitterRejects(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ok := Stream{ID: "rx", EndpointURL: "https://rx.example/ssf", Audience: "a"}
	cases := map[string]func(*TransmitterConfig){
		"no issuer":             func(c *TransmitterConfig) { c.Issuer = "" },
		"no kid":                func(c *TransmitterConfig) { c.KeyID = "" },
		"RSA key":               func(c *TransmitterConfig) { c.Key = rsaKey },
		"no streams":            func(c *TransmitterConfig) { c.Streams = nil },
		"http to a remote host": func(c *TransmitterConfig) { c.Streams[0].EndpointURL = "http://rx.example/ssf" },
		"credentials in URL":    func(c *TransmitterConfig) { c.Streams[0].EndpointURL = "https://u:p@rx.example/ssf" },
		"relative URL":          func(c *TransmitterConfig) { c.Streams[0].EndpointURL = "/ssf" },
		"bad stream id":         func(c *TransmitterConfig) { c.Streams[0].ID = "rx one" },
		"stream id twice":       func(c *TransmitterConfig) { c.Streams = append(c.Streams, ok) },
		"no audience":           func(c *TransmitterConfig) { c.Streams[0].Audience = "" },
		"header injection":      func(c *TransmitterConfig) { c.Streams[0].AuthorizationHeader = "Bearer x\r\nX-Evil: 1" },
		"unknown event":         func(c *TransmitterConfig) { c.Streams[0].EventsDelivered = []string{EventVerification} },
		"retired kid reused":    func(c *TransmitterConfig) { c.RetiredKeys = []PublicKey{{KeyID: "k", Key: &rsaKey.PublicKey}} },
		"negative queue":        func(c *TransmitterConfig) { c.QueueSize = -1 },
	}
	for name, mut := range cases {
		cfg := TransmitterConfig{Issuer: txIssuer, Key: newP256(t), KeyID: "k", Streams: []Stream{ok}}
		mut(&cfg)
		if tx, err := NewTransmitter(cfg); err == nil {
			_ = tx.Close(context.Background())
			t.Errorf("%s: accepted", name)
		}
	}
	// http to loopback is allowed (tests, sidecars).
	cfg := TransmitterConfig{Issuer: txIssuer, Key: newP256(t), KeyID: "k", Streams: []Stream{{ID: "rx", EndpointURL: "http://[::1]:8080/ssf", Audience: "a"}}}
	tx, err := NewTransmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = tx.Close(context.Background())
}

func TestMemoryDeadLettersBounded(t *testing.T) {
	m := NewMemoryDeadLetters(2)
	for _, jti := range []string{"a", "b", "c"} {
		_ = m.Record(context.Background(), DeadLetter{JTI: jti})
	}
	got, dropped := m.List()
	if len(got) != 2 || got[0].JTI != "b" || got[1].JTI != "c" || dropped != 1 {
		t.Fatalf("%+v, dropped %d", got, dropped)
	}
}

func TestFileDeadLetters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	f := NewFileDeadLetters(path)
	if got, err := f.List(); err != nil || got != nil {
		t.Fatalf("missing file: %v %v", got, err)
	}
	want := []DeadLetter{
		{Time: t0, Stream: "rx", JTI: "a", Event: EventCredentialChange, Kind: revocation.KindFingerprint, Value: fp(t, "x"), Why: DeadExhausted, Attempts: 8, LastStatus: 503, LastError: "HTTP 503"},
		{Time: t0.Add(time.Second), Stream: "rx", JTI: "b", Event: EventSessionRevoked, Why: DeadQueueFull},
	}
	for _, d := range want {
		if err := f.Record(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Time.Equal(want[0].Time) || got[0].Value != want[0].Value || got[1].Why != DeadQueueFull {
		t.Fatalf("%+v", got)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
}

// TestConcurrentNotify: many revocations notified at once reach two
// receivers, each exactly once.
func TestConcurrentNotify(t *testing.T) {
	clock := newFakeClock()
	var rxs [2]*Receiver
	var cols [2]*collector
	var srvs [2]*httptest.Server
	for i := range srvs {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rxs[i].ServeHTTP(w, r) }))
		defer srvs[i].Close()
	}
	tx, dead := newTransmitter(t, clock, func(c *TransmitterConfig) { c.QueueSize = 128 },
		Stream{ID: "a", EndpointURL: srvs[0].URL, Audience: "aud-a"},
		Stream{ID: "b", EndpointURL: srvs[1].URL, Audience: "aud-b"},
	)
	for i, aud := range []string{"aud-a", "aud-b"} {
		cols[i] = &collector{got: make(chan revocation.Revocation, 128)}
		rx, err := NewReceiver(ReceiverConfig{
			Transmitters: []TrustedTransmitter{{Issuer: txIssuer, Audience: aud, JWKS: tx.JWKS()}},
			Replay:       replay.NewMemory(replay.MemoryConfig{Now: clock.Now}),
			OnRevocation: cols[i].add, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		rxs[i] = rx
	}
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rev := revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp(t, "token-"+string(rune('A'+i%26))+strings.Repeat("x", i))}
			if err := tx.Notify(context.Background(), rev); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	closeNow(t, tx)
	for i, col := range cols {
		got := col.list()
		seen := map[string]bool{}
		for _, r := range got {
			seen[r.Value] = true
		}
		if len(got) != n || len(seen) != n {
			d, _ := dead.List()
			t.Fatalf("receiver %d: %d revocations (%d distinct), want %d; dead %+v", i, len(got), len(seen), n, d)
		}
	}
	if st := tx.Stats(); st.Delivered != 2*n || st.DeadLettered != 0 {
		t.Fatalf("stats %+v", st)
	}
}
