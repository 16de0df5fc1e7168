// Package reason holds Provost's stable reason codes.
//
// A reason code is a short snake_case string that a machine can branch on; it
// never changes meaning once released. Each code has a plain-word sentence for
// people. Neither ever contains a credential.
//
// Packages that reject something return an *Error carrying one of these codes,
// so callers can branch with errors.As and still wrap with %w.
package reason

import "errors"

// Code is a stable, machine-readable reason.
type Code string

// Credential reasons: the credential itself (issue "credentials").
const (
	OK Code = "ok"

	// Shape and encoding of a JWS.
	TokenTooLarge         Code = "token_too_large"
	TokenMissing          Code = "token_missing"
	AuthorizationRepeated Code = "authorization_repeated"
	JWSJSONSerialization  Code = "jws_json_serialization"
	JWSSegmentCount       Code = "jws_segment_count"
	JWSBase64             Code = "jws_invalid_base64"
	JWSDuplicateMember    Code = "jws_duplicate_member"
	JWSMalformedJSON      Code = "jws_malformed_json"
	JWSAlgNone            Code = "jws_alg_none"
	JWSAlgNotAllowed      Code = "jws_alg_not_allowed"
	JWSSymmetricAlg       Code = "jws_symmetric_alg"
	JWSHeaderKeyMaterial  Code = "jws_header_key_material"
	JWSCritUnsupported    Code = "jws_crit_unsupported"
	JWSB64Unsupported     Code = "jws_b64_unsupported"
	JWSECDSAForm          Code = "jws_ecdsa_signature_form"
	JWSECDSARange         Code = "jws_ecdsa_signature_range"
	JWSBadSignature       Code = "jws_bad_signature"
	JWSKeyNotFound        Code = "jws_key_not_found"
	JWSKeyAlgMismatch     Code = "jws_key_alg_mismatch"
	TokenTypeNotAccepted  Code = "token_type_not_accepted"
	ClaimWrongType        Code = "claim_wrong_type"
	ExpMissing            Code = "exp_missing"
	Expired               Code = "expired"
	NotYetValid           Code = "not_yet_valid"
	IssuedInFuture        Code = "issued_in_future"
	IssuerUnknown         Code = "issuer_unknown"
	AudienceMismatch      Code = "audience_mismatch"
	ActChainTooDeep       Code = "act_chain_too_deep"
	IssuerKeysUnavailable Code = "issuer_keys_unavailable"

	// Opaque tokens and API keys.
	OpaqueUnknown Code = "opaque_credential_unknown"

	// Revocation.
	Revoked Code = "revoked"

	// Proof of possession: DPoP (RFC 9449).
	DPoPProofMissing     Code = "dpop_proof_missing"
	DPoPBearerScheme     Code = "dpop_bound_token_as_bearer"
	DPoPMalformed        Code = "dpop_proof_malformed"
	DPoPRepeated         Code = "dpop_proof_repeated"
	DPoPType             Code = "dpop_wrong_typ"
	DPoPAlgNotAllowed    Code = "dpop_alg_not_allowed"
	DPoPKeyMissing       Code = "dpop_jwk_missing"
	DPoPPrivateKey       Code = "dpop_jwk_private"
	DPoPBadSignature     Code = "dpop_bad_signature"
	DPoPHTMMismatch      Code = "dpop_htm_mismatch"
	DPoPHTUMismatch      Code = "dpop_htu_mismatch"
	DPoPIATWindow        Code = "dpop_iat_outside_window"
	DPoPATHMissing       Code = "dpop_ath_missing"
	DPoPATHMismatch      Code = "dpop_ath_mismatch"
	DPoPKeyMismatch      Code = "dpop_key_mismatch"
	DPoPReplayed         Code = "dpop_replayed"
	DPoPJTIMissing       Code = "dpop_jti_missing"
	DPoPNonceRequired    Code = "use_dpop_nonce"
	DPoPNonceInvalid     Code = "dpop_nonce_invalid"
	DPoPUnexpectedProof  Code = "dpop_proof_without_binding"
	MTLSCertMissing      Code = "mtls_certificate_missing"
	MTLSThumbprintFailed Code = "mtls_thumbprint_mismatch"
	CnfUnsupported       Code = "cnf_unsupported"

	// Infrastructure: Provost could not decide, so it fails closed.
	ReplayCacheFull Code = "replay_cache_full"
	InternalError   Code = "internal_error"
)

// Error is a rejection with a stable code and a message safe to show: it
// never contains a raw credential.
type Error struct {
	Code Code
	Msg  string
	Err  error // optional underlying cause, also free of secrets
}

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Msg + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with code and message.
func New(code Code, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Wrap returns an *Error with code and message that wraps err.
func Wrap(code Code, msg string, err error) *Error { return &Error{Code: code, Msg: msg, Err: err} }

// MessageOf returns the safe message of err's *reason.Error, or a generic
// sentence when err carries none (its detail is for logs only).
func MessageOf(err error) string {
	var re *Error
	if errors.As(err, &re) {
		return re.Msg
	}
	return "an internal error occurred"
}

// Of returns the code carried by err, or InternalError when err carries none.
func Of(err error) Code {
	if err == nil {
		return OK
	}
	var re *Error
	if errors.As(err, &re) {
		return re.Code
	}
	return InternalError
}

// workload: workload identity signal (X.509-SVID and JWT-SVID, SPIFFE).
const (
	WorkloadCertInvalid     Code = "svid_invalid"
	WorkloadChainTooLong    Code = "svid_chain_too_long"
	WorkloadNoURISAN        Code = "svid_no_uri_san"
	WorkloadManyURISANs     Code = "svid_multiple_uri_sans"
	WorkloadNotSPIFFEID     Code = "svid_not_spiffe_id"
	WorkloadCALeaf          Code = "svid_leaf_is_ca"
	WorkloadKeyUsage        Code = "svid_leaf_key_usage"
	WorkloadTrustDomain     Code = "svid_trust_domain_unknown"
	WorkloadExpired         Code = "svid_expired"
	WorkloadNotYetValid     Code = "svid_not_yet_valid"
	WorkloadUntrusted       Code = "svid_untrusted_chain"
	WorkloadJWTInvalid      Code = "jwt_svid_invalid"
	WorkloadJWTKeyUnknown   Code = "jwt_svid_key_unknown"
	WorkloadJWTBadSignature Code = "jwt_svid_bad_signature"
	WorkloadJWTAudience     Code = "jwt_svid_audience_mismatch"
)

// Network path and forwarded client certificates (internal/network).
const (
	ProxyHeaderTooLarge Code = "proxy_header_too_large"
	PeerAddressInvalid  Code = "peer_address_invalid"
	XFCCMalformed       Code = "xfcc_malformed"
	ClientCertMalformed Code = "client_cert_header_malformed"
)

// hop: signed hop attestations proving the proxy chain.
const (
	HopMalformed       Code = "hop_malformed"
	HopUnknownKey      Code = "hop_unknown_key"
	HopBadSignature    Code = "hop_bad_signature"
	HopRequestMismatch Code = "hop_request_mismatch"
	HopChainBroken     Code = "hop_chain_broken"
	HopStale           Code = "hop_stale"
	HopTooMany         Code = "hop_too_many"
)

// posture: signed attestations about the caller's host or runtime.
const (
	PostureMalformed       Code = "posture_malformed"
	PostureWrongType       Code = "posture_wrong_typ"
	PostureUnknownAttestor Code = "posture_unknown_attestor"
	PostureBadSignature    Code = "posture_bad_signature"
	PostureStale           Code = "posture_stale"
	PostureNotYetValid     Code = "posture_not_yet_valid"
	PostureExpired         Code = "posture_expired"
	// The attestation is not bound to this request: it lacks "aud" or
	// "cred", names another audience, or was made for another credential.
	PostureUnbound            Code = "posture_unbound"
	PostureAudienceMismatch   Code = "posture_audience_mismatch"
	PostureCredentialMismatch Code = "posture_credential_mismatch"
)

// decision: codes the decision itself adds.
const (
	ProvenanceVerified   Code = "provenance_verified"
	EvidenceInsufficient Code = "evidence_insufficient"
	ShadowAutomation     Code = "shadow_automation"
	Honeytoken           Code = "honeytoken_used"
	MonitorWouldDeny     Code = "monitor_would_deny"
	MonitorWouldStepUp   Code = "monitor_would_step_up"
)

// origin: detectors over a credential's origin history.
const (
	CopiedCredential  Code = "copied_credential"
	ConcurrentOrigins Code = "concurrent_origins"
	SourceDrift       Code = "source_drift"
	DormantRevival    Code = "dormant_revival"
)

// binding: checks of a request's signals against its binding.
const (
	WorkloadNotApproved  Code = "workload_not_approved"
	NetworkNotApproved   Code = "network_not_approved"
	ProxyChainMismatch   Code = "proxy_chain_mismatch"
	PostureMismatch      Code = "posture_mismatch"
	CIMismatch           Code = "ci_mismatch"
	OutsideTimeWindow    Code = "outside_time_window"
	TokenTooOld          Code = "token_too_old"
	IdleTooLong          Code = "idle_too_long"
	PossessionRequired   Code = "possession_required"
	RuleFailed           Code = "rule_failed"
	RuleError            Code = "rule_error"
	EvidenceMissing      Code = "evidence_missing"
	WorkloadAbsent       Code = "workload_absent"
	ClientAddressUnknown Code = "client_address_unknown"
	ProxyChainAbsent     Code = "proxy_chain_absent"
	PostureAbsent        Code = "posture_absent"
	CIAbsent             Code = "ci_claims_absent"
	TokenAgeUnknown      Code = "token_age_unknown"
)

// The request line itself (internal/target): a method or target that could be
// read two ways is refused before any rule sees it.
const (
	RequestMethodInvalid Code = "request_method_invalid"
	RequestTargetInvalid Code = "request_target_invalid"
	// ForwardAuthHeaderMismatch: a forward-auth call from a trusted proxy
	// named the original request with another header pair than the one
	// configured (serve.forward_auth.headers), or lacked it.
	ForwardAuthHeaderMismatch Code = "forward_auth_header_mismatch"
)

// extauthz: what Envoy reported could not be judged, so it is denied.
const (
	ExtAuthzTooLarge  Code = "ext_authz_request_too_large"
	ExtAuthzMalformed Code = "ext_authz_request_malformed"
)
