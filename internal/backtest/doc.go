// Package backtest replays recorded evidence against a candidate bindings
// file and reports which past requests it would decide differently, before
// anyone enforces it.
//
// For each record whose credential was accepted, it rebuilds what the
// engine knew from what the record holds — the credential's fingerprint and
// issuer metadata, and every signal — then matches the candidate bindings,
// evaluates the matched binding and decides again with decision.Decide.
//
// What a replay cannot redo, and how it is treated:
//
//   - Credential checks are not replayed: a rejected credential stays
//     rejected, whatever the candidate says.
//   - Claims are not recorded, so a binding that matches on claims, a
//     posture requirement on a claim outside the named posture fields, and
//     a rule that reads claims cannot be evaluated. Such a binding is
//     reported once as not replayable (NotReplayable), and the requests it
//     might have decided are left out instead of being guessed.
//   - The history detectors (copied credential, source drift, dormant
//     revival, concurrent origins) depend on the origin history at the
//     time: their findings are taken from the record as they were, not
//     recomputed (and dropped when the candidate puts the request in learn
//     mode, where detectors do not run). The workload finding "named by no
//     binding" depends only on the bindings and is recomputed.
//   - Network sets are recomputed from the candidate's networks.
package backtest
