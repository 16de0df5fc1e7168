// Package evidence is the evidence record of one decision, its canonical
// encoding, and its exports.
//
// A Record holds what Provost knew and did for one request: the time, the
// request id, the method and path (never the query), the credential verdict
// with the credential's fingerprint and issuer metadata (never the raw
// credential, never the claims map), every signal observed, every check and
// its result, the decision with its reasons, actions and framework tags, the
// binding and the bindings file digest, the origin and the revocation the
// decision wrote. The engine builds it with FromDecision:
//
//	rec := evidence.FromDecision(*d, d.Signals, d.Origin, evidence.Meta{
//		RequestID: id, BindingsDigest: set.Digest, RevocationID: d.RevocationID, Time: now,
//	})
//	b, err := rec.Marshal() // canonical bytes: what the evidence log hashes
//
// An operator's revocation (the admin API's POST /v1/revocations, the
// dashboard's Revoke) is recorded too, as an event record built by
// FromRevocation: version 2, Event "revocation", the revocation as stored
// and the admin client that asked, nothing of a decision. IsDecision tells
// the two apart; readers that count decisions skip event records.
//
// Marshal is canonical (the same record always gives the same bytes) and
// Unmarshal is strict: it accepts only the canonical encoding of a version 1
// (decision) or version 2 (event) record, so Marshal(Unmarshal(b)) == b for
// every b it accepts. The format and its rules are in docs/evidence.md.
//
// WriteJSONLines writes records one per line; OCSFEvents maps a decision
// record to Open Cybersecurity Schema Framework events for SIEMs (classes
// 3002 and 6003), and an event record to none.
package evidence
