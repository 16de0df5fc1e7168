package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// SSF shares revocations with other parties over the OpenID Shared
// Signals Framework (docs/ssf.md). Unset, nothing is sent or received.
type SSF struct {
	// Transmitter, when set, pushes a signed SET (RFC 8417, CAEP) to every
	// stream on each revocation made here.
	Transmitter *SSFTransmitter `yaml:"transmitter"`
	// Receiver, when set, accepts SETs pushed to POST /v1/ssf/events by
	// the transmitters it trusts, and adds the revocations they carry.
	Receiver *SSFReceiver `yaml:"receiver"`
}

// SSFTransmitter configures the transmitter (ssf.TransmitterConfig).
type SSFTransmitter struct {
	// Issuer is the iss of every SET; an https URL also names where the
	// JWKS is published (Issuer + /v1/ssf/jwks).
	Issuer string `yaml:"issuer"`
	// KeyFile is the signing key: PKCS#8 PEM, ECDSA P-256 (ES256) or
	// Ed25519 (EdDSA). KeyID is its kid.
	KeyFile string `yaml:"key_file"`
	KeyID   string `yaml:"key_id"`
	// Streams are the receivers, one each.
	Streams []SSFStream `yaml:"streams"`
	// QueueSize bounds each stream's queue (default 256), MaxAttempts the
	// attempts per SET (default 8); InitialBackoff (1s) and MaxBackoff (1m)
	// bound the waits between attempts.
	QueueSize      int      `yaml:"queue_size"`
	MaxAttempts    int      `yaml:"max_attempts"`
	InitialBackoff Duration `yaml:"initial_backoff"`
	MaxBackoff     Duration `yaml:"max_backoff"`
	// DeadLetterFile records the SETs not delivered (JSON lines); in
	// memory when empty.
	DeadLetterFile string `yaml:"dead_letter_file"`
}

// SSFStream is one receiver's push endpoint.
type SSFStream struct {
	// ID is the stream_id: 1 to 64 characters of A-Z a-z 0-9 . _ ~ -.
	ID string `yaml:"id"`
	// Endpoint is the receiver's RFC 8935 push URL: https, or http to a
	// loopback address.
	Endpoint string `yaml:"endpoint"`
	// Audience is the aud of the SETs on this stream.
	Audience string `yaml:"audience"`
	// AuthorizationFile holds the Authorization header value sent with
	// each SET (e.g. "Bearer ..."), on one line.
	AuthorizationFile string `yaml:"authorization_file"`
	// EventsDelivered are credential-change and/or session-revoked (both
	// when empty).
	EventsDelivered []string `yaml:"events_delivered"`
	// SendReason adds the revocation's reason (reason_admin).
	SendReason bool `yaml:"send_reason"`
}

// SSFReceiver configures the receiver (ssf.ReceiverConfig).
type SSFReceiver struct {
	Transmitters []SSFTrusted `yaml:"transmitters"`
}

// SSFTrusted is one transmitter this Provost accepts SETs from.
type SSFTrusted struct {
	// Issuer is the transmitter's iss (exact).
	Issuer string `yaml:"issuer"`
	// Audience is this Provost's aud in that stream (exact).
	Audience string `yaml:"audience"`
	// JWKSFile is the transmitter's public key set; never fetched.
	JWKSFile string `yaml:"jwks_file"`
	// Algorithms is a subset of ES256, EdDSA, RS256 (all three when empty).
	Algorithms []string `yaml:"algorithms"`
	// AuthorizationFile holds the Authorization header value the
	// transmitter must send, on one line.
	AuthorizationFile string `yaml:"authorization_file"`
	// AcceptKinds are the revocation kinds it may create: fingerprint,
	// jti, subject (the default) and issuer.
	AcceptKinds []string `yaml:"accept_kinds"`
	// TokenIssuers, when set, are the only token issuers its jti, subject
	// and issuer revocations may name.
	TokenIssuers []string `yaml:"token_issuers"`
}

// SSFEvents maps the events_delivered names to their event type URIs.
var SSFEvents = map[string]string{
	"credential-change": "https://schemas.openid.net/secevent/caep/event-type/credential-change",
	"session-revoked":   "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
}

var (
	ssfAlgorithms  = []string{"ES256", "EdDSA", "RS256"}
	ssfAcceptKinds = []string{"fingerprint", "jti", "subject", "issuer"}
)

func (s *SSF) check() error {
	if t := s.Transmitter; t != nil {
		if err := t.check("ssf.transmitter"); err != nil {
			return err
		}
	}
	if r := s.Receiver; r != nil {
		if err := r.check("ssf.receiver"); err != nil {
			return err
		}
	}
	return nil
}

func (t *SSFTransmitter) check(p string) error {
	if t.Issuer == "" {
		return bad(p+".issuer", "is required")
	}
	if t.KeyFile == "" {
		return bad(p+".key_file", "is required (PKCS#8 PEM, ECDSA P-256 or Ed25519)")
	}
	if t.KeyID == "" {
		return bad(p+".key_id", "is required")
	}
	if len(t.Streams) == 0 {
		return bad(p+".streams", "needs at least one stream")
	}
	if t.QueueSize < 0 || t.QueueSize > 1<<20 {
		return bad(p+".queue_size", "must be between 1 and 1048576")
	}
	if t.MaxAttempts < 0 || t.MaxAttempts > 100 {
		return bad(p+".max_attempts", "must be between 1 and 100")
	}
	if t.MaxBackoff != 0 && t.MaxBackoff < t.InitialBackoff {
		return bad(p+".max_backoff", "must not be shorter than initial_backoff")
	}
	ids := map[string]bool{}
	for i, s := range t.Streams {
		sp := fmt.Sprintf("%s.streams[%d]", p, i)
		if !validSSFStreamID(s.ID) {
			return bad(sp+".id", "must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -")
		}
		if ids[s.ID] {
			return bad(sp+".id", "stream %q is configured twice", s.ID)
		}
		ids[s.ID] = true
		if err := checkPushEndpoint(s.Endpoint); err != nil {
			return bad(sp+".endpoint", "%v", err)
		}
		if s.Audience == "" {
			return bad(sp+".audience", "is required")
		}
		if s.AuthorizationFile == "" {
			return bad(sp+".authorization_file", "is required: the file holding the Authorization header the receiver expects")
		}
		for j, e := range s.EventsDelivered {
			if _, ok := SSFEvents[e]; !ok {
				return bad(fmt.Sprintf("%s.events_delivered[%d]", sp, j), "%q is not credential-change or session-revoked", e)
			}
		}
	}
	return nil
}

func (r *SSFReceiver) check(p string) error {
	if len(r.Transmitters) == 0 {
		return bad(p+".transmitters", "needs at least one transmitter")
	}
	issuers := map[string]bool{}
	for i, t := range r.Transmitters {
		tp := fmt.Sprintf("%s.transmitters[%d]", p, i)
		if t.Issuer == "" {
			return bad(tp+".issuer", "is required")
		}
		if issuers[t.Issuer] {
			return bad(tp+".issuer", "transmitter %q is configured twice", t.Issuer)
		}
		issuers[t.Issuer] = true
		if t.Audience == "" {
			return bad(tp+".audience", "is required")
		}
		if t.JWKSFile == "" {
			return bad(tp+".jwks_file", "is required: the transmitter's keys are never fetched")
		}
		if t.AuthorizationFile == "" {
			return bad(tp+".authorization_file", "is required: the file holding the Authorization header the transmitter sends")
		}
		for j, a := range t.Algorithms {
			if !slices.Contains(ssfAlgorithms, a) {
				return bad(fmt.Sprintf("%s.algorithms[%d]", tp, j), "%q is not accepted (%s)", a, strings.Join(ssfAlgorithms, ", "))
			}
		}
		for j, k := range t.AcceptKinds {
			if !slices.Contains(ssfAcceptKinds, k) {
				return bad(fmt.Sprintf("%s.accept_kinds[%d]", tp, j), "%q is not a kind SSF can carry (%s)", k, strings.Join(ssfAcceptKinds, ", "))
			}
		}
		for j, iss := range t.TokenIssuers {
			if iss == "" {
				return bad(fmt.Sprintf("%s.token_issuers[%d]", tp, j), "is empty")
			}
		}
	}
	return nil
}

func validSSFStreamID(id string) bool {
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

// checkPushEndpoint accepts an absolute https URL, or http to a loopback
// address, without credentials or fragment.
func checkPushEndpoint(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return fmt.Errorf("is required")
	case err != nil || u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", s)
	case u.User != nil:
		return fmt.Errorf("must not carry credentials (use authorization_file)")
	case u.Fragment != "":
		return fmt.Errorf("must not have a fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q must use https (http only to a loopback address)", s)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
