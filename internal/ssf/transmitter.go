package ssf

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/provost-dev/provost/revocation"
)

// Transmitter defaults.
const (
	DefaultQueueSize      = 256
	DefaultMaxAttempts    = 8
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultRequestTimeout = 10 * time.Second
)

// maxResponseBytes bounds how much of a receiver's answer is read.
const maxResponseBytes = 4 << 10

// Errors of the Transmitter.
var (
	// ErrQueueFull is wrapped by Notify's error when a stream's queue had no
	// room: that stream's SET went to the dead-letter record instead.
	ErrQueueFull = errors.New("ssf: stream queue is full")
	// ErrClosed is returned by Notify and SendVerification after Close.
	ErrClosed = errors.New("ssf: transmitter is closed")
	// ErrUnknownStream is returned by SendVerification for an unknown id.
	ErrUnknownStream = errors.New("ssf: unknown stream")
)

// defaultEvents are the event types a stream carries unless configured
// otherwise.
var defaultEvents = []string{EventCredentialChange, EventSessionRevoked}

// Stream is one SSF stream this Provost transmits on: one receiver's push
// endpoint (the SSF stream configuration's delivery and aud).
type Stream struct {
	// ID is the stream_id: it names the receiver in dead letters and stats.
	// 1 to 64 characters of A-Z a-z 0-9 . _ ~ -.
	ID string
	// EndpointURL is the receiver's RFC 8935 push endpoint
	// (delivery.endpoint_url): https, or http to a loopback address.
	EndpointURL string
	// Audience is the aud of every SET on this stream.
	Audience string
	// AuthorizationHeader, when set, is sent verbatim as the Authorization
	// header (delivery.authorization_header), e.g. "Bearer ...". The caller
	// reads it from a file. Never logged, never in a dead letter.
	AuthorizationHeader string
	// EventsDelivered are the event types sent on this stream
	// (events_delivered): credential-change and session-revoked when empty.
	EventsDelivered []string
	// SendReason adds the revocation's reason as CAEP reason_admin. Off by
	// default: reasons are free text written for your own operators.
	SendReason bool
}

// PublicKey is a retired signing key still published in the JWKS, so
// receivers verify SETs signed before a key rotation.
type PublicKey struct {
	KeyID string
	Key   crypto.PublicKey // *ecdsa.PublicKey (P-256) or ed25519.PublicKey
}

// TransmitterConfig configures a Transmitter.
type TransmitterConfig struct {
	// Issuer is the iss of every SET.
	Issuer string
	// Key signs SETs: an ECDSA P-256 key (ES256) or an Ed25519 key (EdDSA).
	Key crypto.Signer
	// KeyID is the kid of Key in the JWKS and in each SET's header.
	KeyID string
	// RetiredKeys are published in the JWKS but never sign.
	RetiredKeys []PublicKey
	// Streams are the receivers.
	Streams []Stream
	// Client sends the requests; a client without redirects when nil.
	// Redirects are never followed, whatever the client says.
	Client *http.Client
	// QueueSize bounds each stream's queue; DefaultQueueSize when zero.
	QueueSize int
	// MaxAttempts bounds the attempts per SET; DefaultMaxAttempts when zero.
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the wait between attempts: the
	// n-th wait is drawn from [d/2, d] with d = min(MaxBackoff,
	// InitialBackoff * 2^(n-1)), and is at least a receiver's Retry-After
	// (capped at MaxBackoff).
	InitialBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one attempt; DefaultRequestTimeout when zero.
	RequestTimeout time.Duration
	// DeadLetters keeps the SETs that were not delivered; an in-memory
	// record of 1000 when nil.
	DeadLetters DeadLetters
	// Observe, when set, is told the fate of every SET (delivered or dead).
	Observe func(Outcome)

	// For tests: the clock, the wait between attempts, the jitter (a
	// duration in [0, d]) and the randomness of jti and txn.
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(d time.Duration) time.Duration
	Rand   io.Reader
}

// Outcome is the fate of one SET.
type Outcome struct {
	Stream    string
	JTI       string
	Event     string
	Delivered bool
	Attempts  int
	// Dead is the dead letter recorded, when not delivered; RecordErr is
	// the error recording it, if any.
	Dead      *DeadLetter
	RecordErr error
}

// TransmitterStats counts what a Transmitter did.
type TransmitterStats struct {
	Queued           uint64 // SETs queued
	Delivered        uint64 // SETs a receiver accepted
	Retries          uint64 // attempts after the first
	DeadLettered     uint64 // SETs given up (any reason, queue full included)
	QueueFull        uint64 // SETs refused by a full queue
	DeadLetterErrors uint64 // dead letters that could not be recorded
}

// Transmitter pushes a signed SET to every configured stream on each
// revocation (RFC 8935), from one queue and one worker per stream, so a slow
// receiver never delays another.
type Transmitter struct {
	issuer  string
	signer  jose.Signer
	signMu  sync.Mutex
	jwks    []byte
	workers []*worker
	byID    map[string]*worker
	client  *http.Client
	dead    DeadLetters
	observe func(Outcome)

	maxAttempts             int
	initial, max, reqTimout time.Duration
	now                     func() time.Time
	sleep                   func(context.Context, time.Duration) error
	jitter                  func(time.Duration) time.Duration
	rand                    io.Reader
	randMu                  sync.Mutex

	mu     sync.RWMutex // guards closed and sends on the queues
	closed bool
	ctx    context.Context // canceled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queued, delivered, retries, deadLettered, queueFull, deadErrors atomic.Uint64
}

type worker struct {
	s        Stream
	endpoint string // scheme://host/path, for dead letters
	events   map[string]bool
	queue    chan job
}

type job struct {
	set  string
	meta DeadLetter // what a dead letter would say, Why and the rest unset
}

// NewTransmitter checks cfg, starts one worker per stream and returns the
// Transmitter. Close stops it.
func NewTransmitter(cfg TransmitterConfig) (*Transmitter, error) {
	if cfg.Issuer == "" || !printable(cfg.Issuer) {
		return nil, errors.New("ssf transmitter: issuer is required")
	}
	if cfg.Key == nil || cfg.KeyID == "" {
		return nil, errors.New("ssf transmitter: a signing key and its kid are required")
	}
	alg, err := signingAlg(cfg.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("ssf transmitter: %w", err)
	}
	pub := &jose.JSONWebKey{Key: cfg.Key.Public(), KeyID: cfg.KeyID, Algorithm: string(alg), Use: "sig"}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: keyedSigner{cryptosigner.Opaque(cfg.Key), pub}},
		(&jose.SignerOptions{}).WithType(TokenType),
	)
	if err != nil {
		return nil, fmt.Errorf("ssf transmitter: %w", err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{*pub}}
	for i, k := range cfg.RetiredKeys {
		a, err := signingAlg(k.Key)
		if err != nil || k.KeyID == "" {
			return nil, fmt.Errorf("ssf transmitter: retired key %d: needs a kid and a P-256 or Ed25519 public key", i)
		}
		if slices.ContainsFunc(set.Keys, func(p jose.JSONWebKey) bool { return p.KeyID == k.KeyID }) {
			return nil, fmt.Errorf("ssf transmitter: retired key %d: kid used twice", i)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Algorithm: string(a), Use: "sig"})
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("ssf transmitter: JWKS: %w", err)
	}
	if len(cfg.Streams) == 0 {
		return nil, errors.New("ssf transmitter: no streams configured")
	}
	if cfg.QueueSize < 0 || cfg.MaxAttempts < 0 || cfg.InitialBackoff < 0 || cfg.MaxBackoff < 0 || cfg.RequestTimeout < 0 {
		return nil, errors.New("ssf transmitter: negative limit")
	}
	t := &Transmitter{
		issuer:      cfg.Issuer,
		signer:      signer,
		jwks:        jwks,
		byID:        map[string]*worker{},
		dead:        cfg.DeadLetters,
		observe:     cfg.Observe,
		maxAttempts: cfg.MaxAttempts,
		initial:     cfg.InitialBackoff,
		max:         cfg.MaxBackoff,
		reqTimout:   cfg.RequestTimeout,
		now:         cfg.Now,
		sleep:       cfg.Sleep,
		jitter:      cfg.Jitter,
		rand:        cfg.Rand,
	}
	if t.dead == nil {
		t.dead = NewMemoryDeadLetters(0)
	}
	if t.maxAttempts == 0 {
		t.maxAttempts = DefaultMaxAttempts
	}
	if t.initial == 0 {
		t.initial = DefaultInitialBackoff
	}
	if t.max == 0 {
		t.max = DefaultMaxBackoff
	}
	if t.max < t.initial {
		t.max = t.initial
	}
	if t.reqTimout == 0 {
		t.reqTimout = DefaultRequestTimeout
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.sleep == nil {
		t.sleep = sleepContext
	}
	if t.jitter == nil {
		t.jitter = func(d time.Duration) time.Duration { return time.Duration(mrand.Int64N(int64(d) + 1)) }
	}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	client := http.Client{}
	if cfg.Client != nil {
		client = *cfg.Client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.client = &client
	queue := cfg.QueueSize
	if queue == 0 {
		queue = DefaultQueueSize
	}
	for i, s := range cfg.Streams {
		w, err := newWorker(s, queue)
		if err != nil {
			return nil, fmt.Errorf("ssf transmitter: stream %d: %w", i, err)
		}
		if _, dup := t.byID[s.ID]; dup {
			return nil, fmt.Errorf("ssf transmitter: stream %d: id %q used twice", i, s.ID)
		}
		t.byID[s.ID] = w
		t.workers = append(t.workers, w)
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for _, w := range t.workers {
		t.wg.Add(1)
		go t.run(w)
	}
	return t, nil
}

// keyedSigner gives a go-jose opaque signer its kid.
type keyedSigner struct {
	jose.OpaqueSigner
	pub *jose.JSONWebKey
}

func (k keyedSigner) Public() *jose.JSONWebKey { return k.pub }

func signingAlg(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return jose.ES256, nil
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", errors.New("signing key must be ECDSA P-256 (ES256) or Ed25519 (EdDSA)")
}

func newWorker(s Stream, queue int) (*worker, error) {
	if !validStreamID(s.ID) {
		return nil, errors.New("stream id must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -")
	}
	if s.Audience == "" || !printable(s.Audience) {
		return nil, errors.New("audience is required")
	}
	if !printable(s.AuthorizationHeader) {
		return nil, errors.New("authorization header has control characters")
	}
	u, err := url.Parse(s.EndpointURL)
	if err != nil {
		return nil, errors.New("endpoint URL does not parse")
	}
	switch {
	case u.User != nil:
		return nil, errors.New("endpoint URL must not carry credentials (use the authorization header)")
	case u.Host == "" || u.Fragment != "":
		return nil, errors.New("endpoint URL must be absolute, without a fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, errors.New("endpoint URL must use https (http only to a loopback address)")
	}
	w := &worker{
		s:        s,
		endpoint: u.Scheme + "://" + u.Host + u.Path,
		events:   map[string]bool{},
		queue:    make(chan job, queue),
	}
	events := s.EventsDelivered
	if len(events) == 0 {
		events = defaultEvents
	}
	for _, e := range events {
		if !slices.Contains(defaultEvents, e) {
			return nil, fmt.Errorf("event %q is not one Provost sends (credential-change, session-revoked)", e)
		}
		w.events[e] = true
	}
	return w, nil
}

func validStreamID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._~-", c) >= 0) {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// JWKS returns the transmitter's public keys as an RFC 7517 key set: the
// signing key first, then the retired ones. Receivers verify SETs with it.
func (t *Transmitter) JWKS() []byte { return slices.Clone(t.jwks) }

// Configuration returns the SSF transmitter configuration metadata
// (/.well-known/ssf-configuration) for a JWKS published at jwksURI. Provost
// has no stream management API: streams are configured on both sides.
func (t *Transmitter) Configuration(jwksURI string) []byte {
	b, _ := json.Marshal(struct {
		SpecVersion string   `json:"spec_version"`
		Issuer      string   `json:"issuer"`
		JWKSURI     string   `json:"jwks_uri,omitempty"`
		Methods     []string `json:"delivery_methods_supported"`
	}{"1_0", t.issuer, jwksURI, []string{DeliveryMethodPush}})
	return b
}

// StreamConfiguration is an SSF stream configuration, as far as a statically
// configured push stream has one. It never holds the authorization header.
type StreamConfiguration struct {
	StreamID        string   `json:"stream_id"`
	Iss             string   `json:"iss"`
	Aud             string   `json:"aud"`
	Delivery        Delivery `json:"delivery"`
	EventsSupported []string `json:"events_supported"`
	EventsDelivered []string `json:"events_delivered"`
}

// Delivery is the delivery member of an SSF stream configuration.
type Delivery struct {
	Method      string `json:"method"`
	EndpointURL string `json:"endpoint_url"`
}

// Streams returns the SSF configuration of every stream, in configuration
// order.
func (t *Transmitter) Streams() []StreamConfiguration {
	out := make([]StreamConfiguration, 0, len(t.workers))
	for _, w := range t.workers {
		var delivered []string
		for _, e := range defaultEvents {
			if w.events[e] {
				delivered = append(delivered, e)
			}
		}
		out = append(out, StreamConfiguration{
			StreamID:        w.s.ID,
			Iss:             t.issuer,
			Aud:             w.s.Audience,
			Delivery:        Delivery{Method: DeliveryMethodPush, EndpointURL: w.s.EndpointURL},
			EventsSupported: slices.Clone(defaultEvents),
			EventsDelivered: delivered,
		})
	}
	return out
}

// Stats returns a snapshot of the counters.
func (t *Transmitter) Stats() TransmitterStats {
	return TransmitterStats{
		Queued:           t.queued.Load(),
		Delivered:        t.delivered.Load(),
		Retries:          t.retries.Load(),
		DeadLettered:     t.deadLettered.Load(),
		QueueFull:        t.queueFull.Load(),
		DeadLetterErrors: t.deadErrors.Load(),
	}
}

// Notify builds one SET announcing rev for each stream that carries its
// event type, signs it and queues it; workers deliver them. It returns an
// error wrapping ErrNotShared for a revocation with no SET form (nothing is
// queued), one wrapping revocation.ErrInvalid for an invalid revocation,
// ErrClosed after Close, and one wrapping ErrQueueFull naming the streams
// whose queue was full (their SETs go to the dead-letter record; the other
// streams' SETs are queued).
func (t *Transmitter) Notify(ctx context.Context, rev revocation.Revocation) error {
	if err := rev.Validate(); err != nil {
		return err
	}
	now := t.now()
	if _, _, _, err := eventFor(rev, now, false); err != nil {
		return err
	}
	txn, err := t.newID()
	if err != nil {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	var full []string
	for _, w := range t.workers {
		typ, sub, body, _ := eventFor(rev, now, w.s.SendReason)
		if !w.events[typ] {
			continue
		}
		j, err := t.newJob(w, now, txn, typ, sub, body)
		if err != nil {
			return err
		}
		j.meta.RevocationID, j.meta.Kind, j.meta.Value, j.meta.Issuer = rev.ID, rev.Kind, rev.Value, rev.Issuer
		if !t.enqueue(ctx, w, j) {
			full = append(full, w.s.ID)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: %s", ErrQueueFull, strings.Join(full, ", "))
	}
	return nil
}

// SendVerification queues an SSF verification event on one stream, with
// state when it is not empty, so an operator can check the stream end to
// end.
func (t *Transmitter) SendVerification(ctx context.Context, streamID, state string) error {
	w, ok := t.byID[streamID]
	if !ok {
		return ErrUnknownStream
	}
	body := map[string]any{}
	if state != "" {
		body["state"] = state
	}
	txn, err := t.newID()
	if err != nil {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return ErrClosed
	}
	j, err := t.newJob(w, t.now(), txn, EventVerification, &SubjectID{Format: FormatOpaque, ID: streamID}, body)
	if err != nil {
		return err
	}
	if !t.enqueue(ctx, w, j) {
		return fmt.Errorf("%w: %s", ErrQueueFull, streamID)
	}
	return nil
}

// newJob signs one SET for stream w.
func (t *Transmitter) newJob(w *worker, now time.Time, txn, typ string, sub *SubjectID, body map[string]any) (job, error) {
	jti, err := t.newID()
	if err != nil {
		return job{}, err
	}
	set, err := t.sign(setClaims{
		Iss:    t.issuer,
		JTI:    jti,
		Iat:    now.Unix(),
		Aud:    w.s.Audience,
		Txn:    txn,
		SubID:  sub,
		Events: map[string]map[string]any{typ: body},
	})
	if err != nil {
		return job{}, err
	}
	return job{set: set, meta: DeadLetter{Stream: w.s.ID, Endpoint: w.endpoint, JTI: jti, Txn: txn, Event: typ}}, nil
}

// enqueue queues j on w without waiting; a full queue sends j to the dead
// letters and reports false. The caller holds t.mu for reading.
func (t *Transmitter) enqueue(ctx context.Context, w *worker, j job) bool {
	select {
	case w.queue <- j:
		t.queued.Add(1)
		return true
	default:
		t.queueFull.Add(1)
		t.bury(ctx, j, DeadQueueFull, 0, attemptResult{detail: "the stream's queue was full"})
		return false
	}
}

func (t *Transmitter) sign(c setClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("ssf: SET payload: %w", err)
	}
	t.signMu.Lock()
	obj, err := t.signer.Sign(payload)
	t.signMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("ssf: signing a SET: %w", err)
	}
	return obj.CompactSerialize()
}

// newID returns 128 random bits in hex: a jti or a txn.
func (t *Transmitter) newID() (string, error) {
	var b [16]byte
	t.randMu.Lock()
	_, err := io.ReadFull(t.rand, b[:])
	t.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("ssf: randomness: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Close stops accepting SETs and waits, until ctx is done, for the queues to
// drain. When ctx ends first it cancels the attempts in flight and the
// waits between attempts, records every SET not delivered as a dead letter
// (DeadClosed), and returns an error wrapping ctx.Err().
func (t *Transmitter) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for _, w := range t.workers {
		close(w.queue)
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		t.cancel()
		return nil
	case <-ctx.Done():
		t.cancel()
		<-done
		return fmt.Errorf("ssf: closed before every SET was delivered: %w", ctx.Err())
	}
}

func (t *Transmitter) run(w *worker) {
	defer t.wg.Done()
	for j := range w.queue {
		t.deliver(w, j)
	}
}

// attemptResult is what one delivery attempt learned.
type attemptResult struct {
	delivered  bool
	retry      bool // a later attempt may succeed
	noAnswer   bool // no HTTP answer came: the SET may have arrived
	duplicate  bool // the receiver says it has this jti already
	status     int
	retryAfter time.Duration
	detail     string
}

// deliver sends j until a receiver accepts it, a refusal is permanent, or
// the attempts run out; the last two end in the dead letters.
func (t *Transmitter) deliver(w *worker, j job) {
	var last attemptResult
	mayHaveArrived := false
	for attempt := 1; ; attempt++ {
		if t.ctx.Err() != nil {
			t.bury(context.Background(), j, DeadClosed, attempt-1, last)
			return
		}
		last = t.attempt(w, j.set)
		switch {
		case last.delivered, last.duplicate && mayHaveArrived:
			t.delivered.Add(1)
			if t.observe != nil {
				t.observe(Outcome{Stream: w.s.ID, JTI: j.meta.JTI, Event: j.meta.Event, Delivered: true, Attempts: attempt})
			}
			return
		case t.ctx.Err() != nil:
			t.bury(context.Background(), j, DeadClosed, attempt, last)
			return
		case !last.retry:
			t.bury(context.Background(), j, DeadPermanent, attempt, last)
			return
		case attempt >= t.maxAttempts:
			t.bury(context.Background(), j, DeadExhausted, attempt, last)
			return
		}
		mayHaveArrived = mayHaveArrived || last.noAnswer || last.status == http.StatusGatewayTimeout
		t.retries.Add(1)
		if err := t.sleep(t.ctx, t.backoff(attempt, last.retryAfter)); err != nil {
			t.bury(context.Background(), j, DeadClosed, attempt, last)
			return
		}
	}
}

// backoff is the wait after the n-th failed attempt: drawn from [d/2, d]
// with d = min(max, initial * 2^(n-1)), and at least Retry-After (capped at
// max).
func (t *Transmitter) backoff(n int, retryAfter time.Duration) time.Duration {
	d := t.initial
	for i := 1; i < n && d < t.max; i++ {
		d *= 2
	}
	d = min(d, t.max)
	half := d / 2
	j := t.jitter(d - half)
	if j < 0 || j > d-half {
		j = d - half
	}
	wait := half + j
	if retryAfter > wait {
		wait = min(retryAfter, t.max)
	}
	return wait
}

func (t *Transmitter) attempt(w *worker, set string) attemptResult {
	ctx, cancel := context.WithTimeout(t.ctx, t.reqTimout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.s.EndpointURL, strings.NewReader(set))
	if err != nil {
		return attemptResult{detail: "request: " + err.Error()}
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", "application/json")
	if w.s.AuthorizationHeader != "" {
		req.Header.Set("Authorization", w.s.AuthorizationHeader)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return attemptResult{retry: true, noAnswer: true, detail: transportError(err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return classify(resp.StatusCode, resp.Header, body, t.now())
}

// classify reads a receiver's answer (RFC 8935 section 2.2 and 2.3).
func classify(status int, h http.Header, body []byte, now time.Time) attemptResult {
	r := attemptResult{status: status}
	switch {
	case status >= 200 && status < 300:
		r.delivered = true
		return r
	case status == http.StatusBadRequest:
		var e struct {
			Err         string `json:"err"`
			Description string `json:"description"`
		}
		if json.Unmarshal(body, &e) != nil || e.Err == "" {
			r.detail = "HTTP 400 without an RFC 8935 error"
			return r
		}
		r.detail = sanitize(e.Err, 64) + ": " + sanitize(e.Description, 256)
		// invalid_key may be transient (RFC 8935: keys not yet
		// distributed); every other refusal would be refused again.
		r.retry = e.Err == CodeInvalidKey
		r.duplicate = e.Err == CodeInvalidRequest && e.Description == DuplicateDescription
		return r
	case status >= 300 && status < 400:
		r.detail = "the receiver redirected; redirects are not followed"
		return r
	}
	r.detail = "HTTP " + strconv.Itoa(status)
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		r.retry = true
	default:
		r.retry = status >= 500
	}
	if r.retry {
		r.retryAfter = parseRetryAfter(h.Get("Retry-After"), now)
	}
	return r
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(min(s, 86400)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return min(at.Sub(now), 24*time.Hour)
	}
	return 0
}

// transportError describes a failed request without its URL.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return sanitize("transport: "+err.Error(), 256)
}

// bury records j as a dead letter.
func (t *Transmitter) bury(ctx context.Context, j job, why string, attempts int, last attemptResult) {
	d := j.meta
	d.Time = t.now()
	d.Why = why
	d.Attempts = attempts
	d.LastStatus = last.status
	d.LastError = last.detail
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := t.dead.Record(rctx, d)
	t.deadLettered.Add(1)
	if err != nil {
		t.deadErrors.Add(1)
	}
	if t.observe != nil {
		t.observe(Outcome{Stream: d.Stream, JTI: d.JTI, Event: d.Event, Attempts: attempts, Dead: &d, RecordErr: err})
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
