package ssf

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/jws"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/revocation"
)

// RFC 8935 section 2.4 error codes (the IANA "Security Event Token Error
// Codes" registry), the "err" member of a failure response.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidKey           = "invalid_key"
	CodeInvalidIssuer        = "invalid_issuer"
	CodeInvalidAudience      = "invalid_audience"
	CodeAuthenticationFailed = "authentication_failed"
	CodeAccessDenied         = "access_denied"
)

// Receiver defaults.
const (
	DefaultMaxBodyBytes = 64 << 10
	DefaultLeeway       = time.Minute
	DefaultMaxAge       = time.Hour
)

// Limits on a received SET.
const (
	maxEvents   = 8
	maxJTIBytes = 256
)

// receiverAlgs are the JWS algorithms a Receiver can accept at all, and the
// default allow-list of a TrustedTransmitter. HS* and "none" never are.
var receiverAlgs = []string{"ES256", jws.AlgEdDSA, "RS256"}

// defaultAcceptKinds are the revocation kinds a transmitter may send unless
// its configuration says otherwise. Issuer revocations (everything an
// issuer ever signed) must be allowed explicitly.
var defaultAcceptKinds = []revocation.Kind{revocation.KindFingerprint, revocation.KindJTI, revocation.KindSubject}

// ReplayCache remembers SET ids. Provost's replay cache
// (internal/replay.Cache) has this method.
type ReplayCache interface {
	// Seen records key until `until` and reports whether key was already
	// recorded and still live (true means a replay), as one atomic step.
	// An error means the answer is unknown: the receiver fails closed.
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}

// TrustedTransmitter is one SSF stream this Provost receives: who may push
// SETs, with which keys, to which audience, and what they may revoke.
type TrustedTransmitter struct {
	// Issuer is the transmitter's iss, compared exactly.
	Issuer string
	// Audience is this receiver's aud in the stream, compared exactly with
	// the SET's aud (a string, or one member of an array).
	Audience string
	// JWKS is the transmitter's public key set (RFC 7517 JSON), given by the
	// caller (a file); it is never fetched. Private keys are refused.
	JWKS []byte
	// Algorithms is the JWS alg allow-list, a subset of ES256, EdDSA and
	// RS256; all three when empty.
	Algorithms []string
	// AuthorizationHeader, when set, is the exact Authorization header value
	// the transmitter must send (SSF delivery.authorization_header). Compared
	// in constant time; never logged or echoed.
	AuthorizationHeader string
	// AcceptKinds are the revocation kinds this transmitter may create;
	// fingerprint, jti and subject when empty. An event of another kind is
	// refused with access_denied.
	AcceptKinds []revocation.Kind
	// TokenIssuers, when set, scopes the transmitter: jti and subject
	// revocations must name one of these token issuers, and issuer
	// revocations one of them; others are refused with access_denied.
	TokenIssuers []string
	// RevocationTTL, when positive, makes received revocations expire that
	// long after they arrive. CAEP events carry no end time.
	RevocationTTL time.Duration
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Transmitters are the configured streams, one per transmitter issuer.
	Transmitters []TrustedTransmitter
	// Replay remembers SET jtis until they are too old to be accepted.
	// Required.
	Replay ReplayCache
	// OnRevocation receives each revocation a SET carries (the caller adds
	// it to its revocation store). An error answers 503, so the transmitter
	// sends the SET again. Required.
	OnRevocation func(ctx context.Context, rev revocation.Revocation) error
	// Observe, when set, is told the outcome of every request (for logs
	// and metrics). It never sees the SET.
	Observe func(Received)
	// MaxBodyBytes bounds the request body; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// Leeway is how far in the future a SET's iat may be; DefaultLeeway
	// when zero.
	Leeway time.Duration
	// MaxAge is how old a SET's iat may be; DefaultMaxAge when zero. Keep
	// it longer than the transmitter's retry horizon.
	MaxAge time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Received describes the outcome of one push request.
type Received struct {
	// Issuer is the configured transmitter the SET named (empty when it
	// named none, or could not be read: an unknown iss is never repeated).
	Issuer string
	// JTI is the SET's id, set once its signature verified.
	JTI string
	// Status is the HTTP status answered.
	Status int
	// Err and Description are the RFC 8935 error, when Status is not 202.
	Err, Description string
	// Revocations is how many revocations were handed to OnRevocation.
	Revocations int
	// Ignored names the events acknowledged without action (an unsupported
	// event type, a subject Provost cannot act on, a credential change that
	// is not a revocation).
	Ignored []string
	// Verification reports an SSF verification event.
	Verification bool
}

// ReceiverStats counts what a Receiver did.
type ReceiverStats struct {
	Accepted      uint64            // SETs answered 202
	Revocations   uint64            // revocations handed to OnRevocation
	Verifications uint64            // SSF verification events acknowledged
	Ignored       map[string]uint64 // events acknowledged without action, by why
	Refused       map[string]uint64 // requests refused, by RFC 8935 err code
	Unavailable   uint64            // 503 answers: replay cache or OnRevocation failed
}

// SETError is a refusal: the HTTP status and the RFC 8935 error. The
// description never repeats the SET or any value from it.
type SETError struct {
	Status      int
	Code        string
	Description string
}

func (e *SETError) Error() string { return e.Code + ": " + e.Description }

func refuse(status int, code, desc string) *SETError {
	return &SETError{Status: status, Code: code, Description: desc}
}

func invalidRequest(desc string) *SETError {
	return refuse(http.StatusBadRequest, CodeInvalidRequest, desc)
}

func invalidKey(desc string) *SETError {
	return refuse(http.StatusBadRequest, CodeInvalidKey, desc)
}

func accessDenied(desc string) *SETError {
	return refuse(http.StatusBadRequest, CodeAccessDenied, desc)
}

// Receiver is the RFC 8935 push endpoint: an http.Handler that verifies
// pushed SETs and turns the CAEP events it supports into revocations.
type Receiver struct {
	byIssuer map[string]*trusted
	replay   ReplayCache
	onRev    func(context.Context, revocation.Revocation) error
	observe  func(Received)
	maxBody  int64
	leeway   time.Duration
	maxAge   time.Duration
	now      func() time.Time
	failed   failedMemo

	accepted, revocations, verifications, unavailable atomic.Uint64
	statsMu                                           sync.Mutex
	ignored, refused                                  map[string]uint64
}

type trusted struct {
	cfg     TrustedTransmitter
	keys    []jose.JSONWebKey
	algs    []string
	kinds   map[revocation.Kind]bool
	issuers map[string]bool // nil: unscoped
}

// NewReceiver checks cfg and returns a Receiver.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Replay == nil {
		return nil, errors.New("ssf receiver: a replay cache is required")
	}
	if cfg.OnRevocation == nil {
		return nil, errors.New("ssf receiver: OnRevocation is required")
	}
	if len(cfg.Transmitters) == 0 {
		return nil, errors.New("ssf receiver: no transmitters configured")
	}
	r := &Receiver{
		byIssuer: map[string]*trusted{},
		replay:   cfg.Replay,
		onRev:    cfg.OnRevocation,
		observe:  cfg.Observe,
		maxBody:  orDefault(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		leeway:   orDefault(cfg.Leeway, DefaultLeeway),
		maxAge:   orDefault(cfg.MaxAge, DefaultMaxAge),
		now:      cfg.Now,
		failed:   failedMemo{max: 1024},
		ignored:  map[string]uint64{},
		refused:  map[string]uint64{},
	}
	if r.now == nil {
		r.now = time.Now
	}
	if cfg.MaxBodyBytes < 0 || cfg.Leeway < 0 || cfg.MaxAge < 0 {
		return nil, errors.New("ssf receiver: negative limit")
	}
	for i, tc := range cfg.Transmitters {
		t, err := newTrusted(tc)
		if err != nil {
			return nil, fmt.Errorf("ssf receiver: transmitter %d: %w", i, err)
		}
		if _, dup := r.byIssuer[tc.Issuer]; dup {
			return nil, fmt.Errorf("ssf receiver: transmitter %d: issuer configured twice", i)
		}
		r.byIssuer[tc.Issuer] = t
	}
	return r, nil
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func newTrusted(tc TrustedTransmitter) (*trusted, error) {
	if tc.Issuer == "" || tc.Audience == "" {
		return nil, errors.New("issuer and audience are required")
	}
	t := &trusted{cfg: tc, kinds: map[revocation.Kind]bool{}}
	algs := tc.Algorithms
	if len(algs) == 0 {
		algs = receiverAlgs
	}
	for _, a := range algs {
		if !jws.AlgAllowed(receiverAlgs, a) {
			return nil, fmt.Errorf("algorithm %q is not accepted (ES256, EdDSA, RS256)", a)
		}
	}
	t.algs = slices.Clone(algs)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(tc.JWKS, &set); err != nil {
		return nil, fmt.Errorf("JWKS does not parse: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("JWKS has no keys")
	}
	kids := map[string]bool{}
	for i, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("JWKS key %d holds private key material", i)
		}
		switch k.Key.(type) {
		case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
		default:
			return nil, fmt.Errorf("JWKS key %d is not an EC, OKP or RSA public key", i)
		}
		if len(set.Keys) > 1 && k.KeyID == "" {
			return nil, fmt.Errorf("JWKS key %d has no kid (required when the set has several keys)", i)
		}
		if kids[k.KeyID] {
			return nil, fmt.Errorf("JWKS has kid %q twice", k.KeyID)
		}
		kids[k.KeyID] = true
	}
	t.keys = set.Keys
	kinds := tc.AcceptKinds
	if len(kinds) == 0 {
		kinds = defaultAcceptKinds
	}
	for _, k := range kinds {
		if !slices.Contains(revocation.Kinds(), k) || k == revocation.KindBinding {
			return nil, fmt.Errorf("accept kind %q is not one SSF can carry (fingerprint, jti, subject, issuer)", k)
		}
		t.kinds[k] = true
	}
	if len(tc.TokenIssuers) > 0 {
		t.issuers = map[string]bool{}
		for _, iss := range tc.TokenIssuers {
			t.issuers[iss] = true
		}
	}
	if tc.RevocationTTL < 0 {
		return nil, errors.New("negative revocation TTL")
	}
	return t, nil
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() ReceiverStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	s := ReceiverStats{
		Accepted:      r.accepted.Load(),
		Revocations:   r.revocations.Load(),
		Verifications: r.verifications.Load(),
		Unavailable:   r.unavailable.Load(),
		Ignored:       map[string]uint64{},
		Refused:       map[string]uint64{},
	}
	for k, v := range r.ignored {
		s.Ignored[k] = v
	}
	for k, v := range r.refused {
		s.Refused[k] = v
	}
	return s
}

// ServeHTTP handles one RFC 8935 push: POST, Content-Type
// application/secevent+jwt, one compact JWS SET as the body. It answers 202
// with no body, or an RFC 8935 JSON error.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	out := r.handle(w, req)
	if r.observe != nil {
		r.observe(out)
	}
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) Received {
	var out Received
	fail := func(e *SETError) Received {
		r.count(r.refused, e.Code)
		writeError(w, e)
		out.Status, out.Err, out.Description = e.Status, e.Code, e.Description
		return out
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(refuse(http.StatusMethodNotAllowed, CodeInvalidRequest, "SETs are pushed with POST"))
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != ContentType {
		return fail(refuse(http.StatusUnsupportedMediaType, CodeInvalidRequest, "Content-Type must be "+ContentType))
	}
	if req.ContentLength > r.maxBody {
		return fail(refuse(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body is larger than "+strconv.FormatInt(r.maxBody, 10)+" bytes"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fail(refuse(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body is larger than "+strconv.FormatInt(r.maxBody, 10)+" bytes"))
		}
		return fail(invalidRequest("the request body could not be read"))
	}
	token := strings.Trim(string(body), " \t\r\n")

	ctx := req.Context()
	c, serr := r.check(token, req.Header.Get("Authorization"))
	if c != nil {
		out.Issuer = c.iss
		out.JTI = c.jti
	}
	if serr != nil {
		return fail(serr)
	}

	key := replayKey(c.iss, c.jti)
	sum := sha256.Sum256([]byte(token))
	replayed, err := r.replay.Seen(ctx, key, c.iat.Add(r.maxAge+r.leeway))
	if err != nil {
		return r.unavailableAnswer(w, &out, "the replay cache cannot answer; send the SET again later")
	}
	if replayed && !r.failed.take(key, sum) {
		return fail(invalidRequest(DuplicateDescription))
	}
	for i, rev := range c.revs {
		if err := r.onRev(ctx, rev); err != nil {
			// The jti is recorded: remember that this exact SET was not
			// applied, so its retransmission is let through once.
			r.failed.add(key, sum)
			out.Revocations = i
			return r.unavailableAnswer(w, &out, "the revocation could not be stored; send the SET again later")
		}
		r.revocations.Add(1)
	}
	for _, why := range c.ignored {
		r.count(r.ignored, why)
	}
	if c.verification {
		r.verifications.Add(1)
	}
	r.accepted.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	out.Status = http.StatusAccepted
	out.Revocations = len(c.revs)
	out.Ignored = c.ignored
	out.Verification = c.verification
	return out
}

// DuplicateDescription is the description of the invalid_request answer to
// a SET whose jti was already received. A Provost transmitter that gets it
// for a SET it sent before without a clear answer counts the SET delivered.
const DuplicateDescription = "duplicate SET: this jti was already received"

func (r *Receiver) unavailableAnswer(w http.ResponseWriter, out *Received, desc string) Received {
	r.unavailable.Add(1)
	w.Header().Set("Retry-After", "10")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]string{"description": desc})
	out.Status, out.Description = http.StatusServiceUnavailable, desc
	return *out
}

func (r *Receiver) count(m map[string]uint64, key string) {
	r.statsMu.Lock()
	m[key]++
	r.statsMu.Unlock()
}

func writeError(w http.ResponseWriter, e *SETError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Err         string `json:"err"`
		Description string `json:"description"`
	}{e.Code, e.Description})
}

func replayKey(iss, jti string) string {
	return "ssf:" + strconv.Itoa(len(iss)) + ":" + iss + ":" + jti
}

// checked is a SET that passed every check but the replay check.
type checked struct {
	iss, jti     string // iss is set once it names a configured transmitter
	iat          time.Time
	revs         []revocation.Revocation
	ignored      []string
	verification bool
}

// parsedSET is a SET whose shape is checked and whose signature is not.
type parsedSET struct {
	tok    *jws.Token
	claims map[string]json.RawMessage
	iss    string
}

// parseSET checks a SET's form: one compact JWS (never JWE, never the JSON
// serialization), typ secevent+jwt, no nested JWT, no key in the header, an
// alg Provost accepts (never none, never HS*), and a payload that is one
// strict JSON object (no duplicate members) with a string iss.
func parseSET(token string, maxBytes int) (*parsedSET, *SETError) {
	tok, err := jws.Parse(token, maxBytes)
	if err != nil {
		switch reason.Of(err) {
		case reason.JWSAlgNone:
			return nil, invalidRequest(`unsecured SETs (alg "none" or no alg) are not accepted`)
		case reason.JWSSegmentCount:
			if strings.Count(token, ".") == 4 {
				return nil, invalidRequest("encrypted SETs (JWE) are not supported")
			}
		case reason.JWSJSONSerialization:
			return nil, invalidRequest("the JWS JSON serialization is not accepted; send the compact form")
		}
		return nil, invalidRequest("the body is not a well-formed compact JWS (" + string(reason.Of(err)) + ")")
	}
	h := &tok.Header
	switch typ := strings.ToLower(h.Typ); {
	case typ != TokenType && typ != "application/"+TokenType:
		return nil, invalidRequest(`JOSE header typ must be "secevent+jwt"`)
	case h.Cty != "":
		return nil, invalidRequest("nested JWTs (cty) are not accepted")
	case h.KeyMaterial() != "":
		return nil, invalidKey("keys carried in the SET header are never trusted")
	case strings.HasPrefix(h.Alg, "HS"):
		return nil, invalidKey("symmetric (HS*) signatures are never accepted")
	case !jws.AlgAllowed(receiverAlgs, h.Alg):
		return nil, invalidKey("JWS alg is not accepted (ES256, EdDSA, RS256)")
	}
	var claims map[string]json.RawMessage
	if err := jws.DecodeObject(tok.Payload, &claims); err != nil {
		return nil, invalidRequest("the SET payload is not one strict JSON object")
	}
	iss, err := optString(claims, "iss")
	if err != nil || iss == "" {
		return nil, invalidRequest("the SET has no iss string")
	}
	return &parsedSET{tok: tok, claims: claims, iss: iss}, nil
}

// check runs every check on a SET but the replay check, and maps its events.
// authz is the request's Authorization header.
func (r *Receiver) check(token, authz string) (*checked, *SETError) {
	if token == "" {
		return nil, invalidRequest("the request body is empty")
	}
	p, serr := parseSET(token, int(r.maxBody))
	if serr != nil {
		return nil, serr
	}
	t, ok := r.byIssuer[p.iss]
	if !ok {
		return nil, refuse(http.StatusBadRequest, CodeInvalidIssuer, "the SET iss is not a configured transmitter")
	}
	c := &checked{iss: p.iss}
	if want := t.cfg.AuthorizationHeader; want != "" && subtle.ConstantTimeCompare([]byte(authz), []byte(want)) != 1 {
		return c, refuse(http.StatusBadRequest, CodeAuthenticationFailed, "the Authorization header is missing or wrong for this transmitter")
	}
	if !jws.AlgAllowed(t.algs, p.tok.Header.Alg) {
		return c, invalidKey("JWS alg is not allowed for this transmitter")
	}
	key, serr := t.key(p.tok.Header.Kid)
	if serr != nil {
		return c, serr
	}
	if err := jws.Verify(p.tok, t.algs, key); err != nil {
		return c, invalidKey("the SET signature does not verify with the transmitter's keys (" + string(reason.Of(err)) + ")")
	}

	// The SET is the transmitter's: check its claims.
	cl := p.claims
	jti, err := optString(cl, "jti")
	if err != nil || jti == "" || len(jti) > maxJTIBytes || !printable(jti) {
		return c, invalidRequest("the SET jti must be a printable string of 1 to 256 bytes")
	}
	c.jti = jti
	if !hasAudience(cl["aud"], t.cfg.Audience) {
		return c, refuse(http.StatusBadRequest, CodeInvalidAudience, "the SET aud does not name this receiver")
	}
	if _, ok := cl["sub"]; ok {
		return c, invalidRequest("an SSF SET must not have a sub claim (the subject is sub_id)")
	}
	if _, ok := cl["exp"]; ok {
		return c, invalidRequest("an SSF SET must not have an exp claim")
	}
	raw, ok := cl["iat"]
	if !ok {
		return c, invalidRequest("the SET has no iat")
	}
	iat, err := numericDate(raw)
	if err != nil {
		return c, invalidRequest("the SET iat is not a NumericDate")
	}
	now := r.now()
	switch {
	case iat.After(now.Add(r.leeway)):
		return c, invalidRequest("the SET iat is in the future")
	case iat.Before(now.Add(-r.maxAge)):
		return c, invalidRequest("the SET is older than this receiver accepts")
	}
	c.iat = iat
	if raw, ok := cl["txn"]; ok {
		var txn string
		if decodeJSON(raw, &txn) != nil {
			return c, invalidRequest("the SET txn is not a string")
		}
	}
	var sub map[string]json.RawMessage
	if raw, ok := cl["sub_id"]; ok {
		if decodeJSON(raw, &sub) != nil || sub == nil {
			return c, invalidRequest("the SET sub_id is not an object")
		}
	}
	var events map[string]json.RawMessage
	if raw, ok := cl["events"]; !ok || decodeJSON(raw, &events) != nil || len(events) == 0 {
		return c, invalidRequest("the SET events claim must be an object with at least one event")
	}
	if len(events) > maxEvents {
		return c, invalidRequest("the SET carries more than 8 events")
	}
	types := make([]string, 0, len(events))
	for typ := range events {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		var body map[string]json.RawMessage
		if decodeJSON(events[typ], &body) != nil || body == nil {
			return c, invalidRequest("each event in the SET events claim must be an object")
		}
		m, serr := mapEvent(typ, body, sub, iat)
		if serr != nil {
			return c, serr
		}
		switch {
		case m.verify:
			c.verification = true
		case m.rev == nil:
			c.ignored = append(c.ignored, m.ignored)
		default:
			rev := *m.rev
			if serr := t.allows(rev); serr != nil {
				return c, serr
			}
			rev.Reason = receivedReason(typ, p.iss, body)
			if t.cfg.RevocationTTL > 0 {
				rev.ExpiresAt = now.Add(t.cfg.RevocationTTL)
			}
			if err := rev.Validate(); err != nil {
				return c, invalidRequest("the event does not make a valid revocation: " + err.Error())
			}
			c.revs = append(c.revs, rev)
		}
	}
	return c, nil
}

// key returns the verification key for kid.
func (t *trusted) key(kid string) (*jose.JSONWebKey, *SETError) {
	if kid == "" {
		if len(t.keys) == 1 {
			return &t.keys[0], nil
		}
		return nil, invalidKey("the SET has no kid and the transmitter has several keys")
	}
	for i := range t.keys {
		if t.keys[i].KeyID == kid {
			return &t.keys[i], nil
		}
	}
	return nil, invalidKey("the SET kid is not in the transmitter's key set")
}

// allows applies the transmitter's authorization: the kinds it may revoke
// and the token issuers it speaks for.
func (t *trusted) allows(rev revocation.Revocation) *SETError {
	if !t.kinds[rev.Kind] {
		return accessDenied("this transmitter may not create " + string(rev.Kind) + " revocations")
	}
	if t.issuers == nil {
		return nil
	}
	switch rev.Kind {
	case revocation.KindJTI, revocation.KindSubject:
		if !t.issuers[rev.Issuer] {
			return accessDenied("this transmitter may not revoke tokens of that issuer")
		}
	case revocation.KindIssuer:
		if !t.issuers[rev.Value] {
			return accessDenied("this transmitter may not revoke that issuer")
		}
	}
	return nil
}

func hasAudience(raw json.RawMessage, want string) bool {
	if raw == nil {
		return false
	}
	var one string
	if decodeJSON(raw, &one) == nil {
		return one == want
	}
	var many []string
	if decodeJSON(raw, &many) != nil {
		return false
	}
	return slices.Contains(many, want)
}

// numericDate decodes an RFC 7519 NumericDate (seconds since the epoch,
// fractions dropped) between 1970 and 9999.
func numericDate(raw json.RawMessage) (time.Time, error) {
	var f float64
	if err := decodeJSON(raw, &f); err != nil {
		return time.Time{}, err
	}
	if math.IsNaN(f) || f < 0 || f >= 253402300800 {
		return time.Time{}, errors.New("NumericDate out of range")
	}
	return time.Unix(int64(f), 0), nil
}

// decodeJSON decodes a member of a payload that jws.DecodeObject already
// checked as a whole (strict JSON, no duplicate member names at any depth).
func decodeJSON(raw json.RawMessage, v any) error {
	return json.Unmarshal(raw, v)
}

func isFingerprint(s string) bool { return fingerprint.Valid(s) }

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// failedMemo remembers, on this replica, the SETs whose jti was recorded but
// whose revocations could not be stored, so that the transmitter's
// retransmission of that exact SET is processed once more instead of being
// refused as a replay. Bounded: the oldest entry leaves first.
type failedMemo struct {
	mu    sync.Mutex
	max   int
	m     map[string][sha256.Size]byte
	order []string
}

func (f *failedMemo) add(key string, sum [sha256.Size]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string][sha256.Size]byte{}
	}
	if _, ok := f.m[key]; !ok {
		f.order = append(f.order, key)
	}
	f.m[key] = sum
	for len(f.order) > f.max {
		delete(f.m, f.order[0])
		f.order = f.order[1:]
	}
}

// take reports whether key was remembered with sum, and forgets it.
func (f *failedMemo) take(key string, sum [sha256.Size]byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	got, ok := f.m[key]
	if !ok || got != sum {
		return false
	}
	delete(f.m, key)
	f.order = slices.DeleteFunc(f.order, func(k string) bool { return k == key })
	return true
}
