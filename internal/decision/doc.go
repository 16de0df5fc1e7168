// Package decision turns what Provost learned about one request into the
// decision: allow, step_up (force re-authentication) or deny, with actions
// (revoke, alert), stable reason codes, plain-word reasons and framework
// references.
//
// Decide is a pure function over explicit inputs; it does no I/O. The rules,
// in order:
//
//  1. A rejected credential is denied. Its provenance is "violated" when the
//     rejection is a proof-of-possession failure (a replayed or foreign DPoP
//     proof, another client certificate), else "insufficient".
//  2. An accepted credential that no binding matches is shadow automation:
//     denied in enforce mode, allowed with an alert in monitor and learn mode.
//  3. A matched binding's checks give the provenance verdict: any failed
//     check, or any required signal that is absent, is "violated"; else a
//     signal listed in require_evidence that is absent is "insufficient"
//     (even when the binding also constrains its value); else "verified".
//  4. verified allows; insufficient steps up; violated does what the
//     binding's on_violation says (deny; step_up; revoke = deny and revoke;
//     alert = allow and alert).
//  5. Detector findings can only make the outcome stricter: a copied
//     credential is a violation (provenance violated) and is denied, revoked
//     too when the binding says revoke; source drift steps up (or revokes when the
//     binding says revoke); dormant revival steps up and alerts; concurrent
//     origins and an unnamed workload alert. A honeytoken is denied and
//     alerts on every use.
//  6. Monitor mode allows whatever the outcome would have been and records
//     it (reason code monitor_would_*); learn mode allows and records. A
//     honeytoken, and a rejected credential, are denied in every mode.
package decision
