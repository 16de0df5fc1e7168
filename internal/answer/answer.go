// Package answer renders a decision as an HTTP answer, the same way for
// every HTTP transport (forward-auth, the reverse proxy, the middleware):
//
//   - allow: 200, with identity headers for the upstream;
//   - a rejected credential: 401 with a WWW-Authenticate challenge
//     (RFC 6750, RFC 9449): error="invalid_token", or for a missing
//     credential no error, or error="use_dpop_nonce" with a DPoP-Nonce;
//   - step_up: 401 with error="invalid_token" and a description asking
//     the caller to re-authenticate from its approved context;
//   - deny: 403;
//   - a method or target refused before any rule (request_method_invalid,
//     request_target_invalid): 400.
//
// The challenge never echoes the credential.
package answer

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// Identity headers set on allowed requests for the upstream. Transports
// strip any incoming header with these names before forwarding.
const (
	HeaderDecision    = "X-Provost-Decision"
	HeaderCredential  = "X-Provost-Credential" // accepted | rejected
	HeaderProvenance  = "X-Provost-Provenance" // verified | violated | insufficient
	HeaderFingerprint = "X-Provost-Fingerprint"
	HeaderSubject     = "X-Provost-Subject"
	HeaderIssuer      = "X-Provost-Issuer"
	HeaderWorkload    = "X-Provost-Workload"
	HeaderBinding     = "X-Provost-Binding"
	HeaderClient      = "X-Provost-Client"
	HeaderReasons     = "X-Provost-Reasons"
	HeaderActions     = "X-Provost-Actions" // revoke, alert
	// HeaderEvidence names the decision's evidence record: "INDEX LEAFHASH"
	// (the leaf hash in base64), for a receipt from GET /v1/log/receipt.
	HeaderEvidence = "X-Provost-Evidence"
)

// IdentityHeaders lists every header Provost sets for the upstream.
var IdentityHeaders = []string{HeaderDecision, HeaderCredential, HeaderProvenance, HeaderFingerprint, HeaderSubject, HeaderIssuer, HeaderWorkload, HeaderBinding, HeaderClient, HeaderReasons, HeaderActions, HeaderEvidence}

// Status is the HTTP status for d.
func Status(d *provost.Decision) int {
	switch {
	case d.Outcome == verdict.Allow:
		return http.StatusOK
	case malformedRequest(d.Credential.Reason):
		return http.StatusBadRequest
	case d.Credential.Verdict == verdict.Rejected, d.Outcome == verdict.StepUp:
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

// malformedRequest reports whether the request line itself was refused
// (internal/target): the request, not its credential, is at fault.
func malformedRequest(c reason.Code) bool {
	return c == reason.RequestMethodInvalid || c == reason.RequestTargetInvalid
}

// Headers sets the headers of the answer for d on h: the challenge and
// nonce of a 401, the identity headers of an allow, and the decision's
// reason codes in every case.
func Headers(h http.Header, d *provost.Decision) {
	h.Set(HeaderDecision, string(d.Outcome))
	h.Set(HeaderCredential, string(d.Credential.Verdict))
	h.Set(HeaderProvenance, string(d.Provenance))
	h.Set(HeaderReasons, codes(d))
	if d.Evidence != nil {
		h.Set(HeaderEvidence, strconv.FormatInt(d.Evidence.Index, 10)+" "+d.Evidence.LeafHash)
	}
	if len(d.Actions) > 0 {
		acts := make([]string, len(d.Actions))
		for i, a := range d.Actions {
			acts[i] = string(a)
		}
		h.Set(HeaderActions, strings.Join(acts, ","))
	}
	switch Status(d) {
	case http.StatusOK:
		identity(h, d)
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", Challenge(d))
		if d.Credential.DPoPNonce != "" {
			h.Set("DPoP-Nonce", d.Credential.DPoPNonce)
		}
	}
}

// Challenge is the WWW-Authenticate value of a 401 for d.
func Challenge(d *provost.Decision) string {
	scheme := "Bearer"
	if d.Credential.Metadata.Cnf != nil && d.Credential.Metadata.Cnf.JKT != "" {
		scheme = "DPoP"
	}
	c := d.Credential.Reason
	switch {
	case c == reason.DPoPNonceRequired:
		return `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`
	case c == reason.TokenMissing:
		return scheme + ` realm="provost"`
	case strings.HasPrefix(string(c), "dpop_"):
		return `DPoP error="invalid_dpop_proof", error_description="` + quoteSafe(d.Credential.Message) + `"`
	case d.Credential.Verdict == verdict.Rejected:
		return scheme + ` error="invalid_token", error_description="` + quoteSafe(d.Credential.Message) + `"`
	}
	return scheme + ` error="invalid_token", error_description="re-authenticate from the approved context"`
}

func identity(h http.Header, d *provost.Decision) {
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(HeaderFingerprint, d.Credential.Fingerprint)
	set(HeaderSubject, d.Credential.Metadata.Subject)
	set(HeaderIssuer, d.Credential.Metadata.Issuer)
	set(HeaderWorkload, d.Signals.Workload.ID)
	set(HeaderBinding, d.Binding)
	if d.Signals.Network.Client.IsValid() {
		h.Set(HeaderClient, d.Signals.Network.Client.String())
	}
}

// StripIdentity removes identity headers a client may have typed, so the
// upstream only ever sees Provost's.
func StripIdentity(h http.Header) {
	for _, k := range IdentityHeaders {
		h.Del(k)
	}
}

func codes(d *provost.Decision) string {
	out := make([]string, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		out = append(out, string(r.Code))
	}
	return strings.Join(out, ",")
}

// maxDescription bounds a challenge's error_description, in bytes.
const maxDescription = 256

// quoteSafe makes a message safe inside a quoted-string: no quotes,
// backslashes or control characters.
//
// It also bounds the message to maxDescription bytes (cut on a rune
// boundary, "..." appended): messages can quote what a client sent, such
// as a token's kid, and a challenge that large would not fit the header
// buffers of the proxies in front of Provost.
func quoteSafe(s string) string {
	if len(s) > maxDescription {
		cut := maxDescription
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '\''
		}
		return r
	}, s)
}
