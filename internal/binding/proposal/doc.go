// Package proposal writes the binding `provost bindings propose` prints: the
// tightest binding covering the origins a learn-mode binding saw, as YAML
// to paste under `bindings:`.
//
// origin.Propose reduces the origins to sets (workloads, networks, proxy
// chains, posture classes); Render turns them, with the learn-mode binding
// they were learned under, into a binding in monitor mode. A signal is
// required only when every origin presented it, so the proposal covers all
// of them; what is not required is written as a comment saying why. The
// binding's match, its other requirements, require_evidence and
// on_violation are kept.
//
//	cur, err := proposal.Binding(set, "vendor-sync")
//	seen, err := store.Learned(ctx, "vendor-sync", from)
//	out, err := proposal.Render(cur, seen, from)
//
// Render checks that what it writes loads as a binding. The package reads
// no store and prints nothing.
package proposal
