package telemetry

import "github.com/provost-dev/provost/reason"

// otherReason labels a reason code that is not one of package reason's,
// so that provost_decision_reasons_total's label values stay bounded.
const otherReason = "other"

// knownReasons are package reason's codes: a closed set
// (TestKnownReasonsAreTheReasonPackage keeps it so).
var knownReasons = func() map[reason.Code]bool {
	m := map[reason.Code]bool{}
	for _, c := range []reason.Code{
		reason.OK, reason.TokenTooLarge, reason.TokenMissing, reason.AuthorizationRepeated,
		reason.JWSJSONSerialization, reason.JWSSegmentCount, reason.JWSBase64, reason.JWSDuplicateMember,
		reason.JWSMalformedJSON, reason.JWSAlgNone, reason.JWSAlgNotAllowed, reason.JWSSymmetricAlg,
		reason.JWSHeaderKeyMaterial, reason.JWSCritUnsupported, reason.JWSB64Unsupported,
		reason.JWSECDSAForm, reason.JWSECDSARange, reason.JWSBadSignature, reason.JWSKeyNotFound,
		reason.JWSKeyAlgMismatch, reason.TokenTypeNotAccepted, reason.ClaimWrongType, reason.ExpMissing,
		reason.Expired, reason.NotYetValid, reason.IssuedInFuture, reason.IssuerUnknown,
		reason.AudienceMismatch, reason.ActChainTooDeep, reason.IssuerKeysUnavailable,
		reason.OpaqueUnknown, reason.Revoked, reason.DPoPProofMissing, reason.DPoPBearerScheme,
		reason.DPoPMalformed, reason.DPoPRepeated, reason.DPoPType, reason.DPoPAlgNotAllowed,
		reason.DPoPKeyMissing, reason.DPoPPrivateKey, reason.DPoPBadSignature, reason.DPoPHTMMismatch,
		reason.DPoPHTUMismatch, reason.DPoPIATWindow, reason.DPoPATHMissing, reason.DPoPATHMismatch,
		reason.DPoPKeyMismatch, reason.DPoPReplayed, reason.DPoPJTIMissing, reason.DPoPNonceRequired,
		reason.DPoPNonceInvalid, reason.DPoPUnexpectedProof, reason.MTLSCertMissing,
		reason.MTLSThumbprintFailed, reason.CnfUnsupported, reason.ReplayCacheFull, reason.InternalError,
		reason.WorkloadCertInvalid, reason.WorkloadChainTooLong, reason.WorkloadNoURISAN,
		reason.WorkloadManyURISANs, reason.WorkloadNotSPIFFEID, reason.WorkloadCALeaf,
		reason.WorkloadKeyUsage, reason.WorkloadTrustDomain, reason.WorkloadExpired,
		reason.WorkloadNotYetValid, reason.WorkloadUntrusted, reason.WorkloadJWTInvalid,
		reason.WorkloadJWTKeyUnknown, reason.WorkloadJWTBadSignature, reason.WorkloadJWTAudience,
		reason.ProxyHeaderTooLarge, reason.PeerAddressInvalid, reason.XFCCMalformed,
		reason.ClientCertMalformed, reason.HopMalformed, reason.HopUnknownKey, reason.HopBadSignature,
		reason.HopRequestMismatch, reason.HopChainBroken, reason.HopStale, reason.HopTooMany,
		reason.PostureMalformed, reason.PostureWrongType, reason.PostureUnknownAttestor,
		reason.PostureBadSignature, reason.PostureStale, reason.PostureNotYetValid, reason.PostureExpired,
		reason.PostureUnbound, reason.PostureAudienceMismatch, reason.PostureCredentialMismatch,
		reason.ProvenanceVerified, reason.EvidenceInsufficient, reason.ShadowAutomation, reason.Honeytoken,
		reason.MonitorWouldDeny, reason.MonitorWouldStepUp, reason.CopiedCredential,
		reason.ConcurrentOrigins, reason.SourceDrift, reason.DormantRevival, reason.WorkloadNotApproved,
		reason.NetworkNotApproved, reason.ProxyChainMismatch, reason.PostureMismatch, reason.CIMismatch,
		reason.OutsideTimeWindow, reason.TokenTooOld, reason.IdleTooLong, reason.PossessionRequired,
		reason.RuleFailed, reason.RuleError, reason.EvidenceMissing, reason.WorkloadAbsent,
		reason.ClientAddressUnknown, reason.ProxyChainAbsent, reason.PostureAbsent, reason.CIAbsent,
		reason.TokenAgeUnknown, reason.RequestMethodInvalid, reason.RequestTargetInvalid,
		reason.ForwardAuthHeaderMismatch, reason.ExtAuthzTooLarge, reason.ExtAuthzMalformed,
	} {
		m[c] = true
	}
	return m
}()

// reasonLabel is c as a label value: c itself when it is one of package
// reason's codes, otherReason when not.
func reasonLabel(c reason.Code) string {
	if knownReasons[c] {
		return string(c)
	}
	return otherReason
}
