// Package origin keeps where each credential was used from, and the
// detectors that read that history.
//
// An Origin is the tuple a request came from: the verified workload ID
// (SPIFFE), the client's network origin (/24 or /64), the proven proxy
// chain and the posture class. FromSignals builds it from verified signals:
// an invalid workload, chain or posture counts as none, so a forged signal
// never looks like the approved one.
//
// A Store keeps, per credential fingerprint (never the raw credential), a
// History: each origin with its first and last use and how many uses it had,
// and how many were allowed; at most MaxOrigins per credential, the least
// recently seen evicted first. Uses under a binding in learn mode are also
// kept per binding, for Learned and Propose. The SQLite store is the embedded
// default, behind a WriteBehind that answers from memory and writes the uses
// to it in batches in the background; package origintest is the conformance
// suite every backend passes (the WriteBehind too). NewMemory returns a
// Store held in memory only, for tests and embedders.
//
//	db, err := origin.OpenSQLite(ctx, filepath.Join(dataDir, "provost.db"))
//	if err != nil { ... }
//	defer db.Close()
//	store := origin.NewWriteBehind(db, origin.WriteBehindConfig{})
//	defer store.Close() // first: writes the queued uses
//	h, err := store.Lookup(ctx, fp)            // before deciding
//	findings := origin.Detect(cfg, h, cur, now) // cur := origin.FromSignals(sig)
//	...
//	err = store.Record(ctx, origin.Use{Fingerprint: fp, Binding: name, Origin: cur, At: now, Allowed: allowed})
//
// # Detectors
//
// Detect is a pure function of the configuration, the history before this
// use, the current origin and the time. An origin is known when it has at
// least one allowed use; an origin with only refused uses stays new, so
// retrying a refused request does not teach Provost the attacker's origin.
// Origins compare field by field, exactly: an origin with no workload differs
// from one with a workload.
//
//   - dormant_revival: the credential was used before and now minus its last
//     use (from any origin) is at least Dormancy (default 720h): "unused for
//     41 days, then used".
//   - copied_credential and concurrent_origins: the current origin is new,
//     and some known origin was last seen within ConcurrentWindow (default
//     5m) before now, inclusive (a last use after now, from a clock ahead,
//     counts as within): the credential is in use from two places at once.
//   - source_drift: the current origin is new and no known origin was seen
//     within ConcurrentWindow: the traffic moved from the most recently seen
//     known origin to the current one (a vendor handoff, or a stolen
//     credential used after its owner stopped).
//   - concurrent_origins alone: the current origin is known, and another
//     known origin was seen within ConcurrentWindow.
//
// A credential with no known origin (its first use, or only refused uses)
// gets no origin findings: shadow automation and bindings are judged
// elsewhere. Dormancy is still judged on its last use.
//
// # Learn mode
//
// Propose turns the origins Learned returns into the tightest sets of
// workloads, networks, proxy chains and posture classes that cover them,
// which the caller renders as a binding.
package origin
