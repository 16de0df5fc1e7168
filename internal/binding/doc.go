// Package binding reads the bindings file, the approved context of
// credentials, and compares one request's signals against it.
//
// A bindings file is a strict, versioned YAML document (see
// docs/bindings.md). Load and Parse read it once: unknown fields are
// rejected, every error names the file, the line and the field, and every
// pattern, network and CEL rule is compiled then, never per request. The
// resulting *Set is immutable and safe for concurrent use; to reload, load a
// new Set and swap it in whole.
//
// Per request, Set.Match finds the binding of an accepted credential (the
// first in file order whose match holds) and Binding.Evaluate turns the
// request's signal.Signals into Checks: one per requirement, each pass, fail
// or absent, with a stable reason code. This package produces checks; it does
// not decide allow, step-up or deny (package decision does).
//
// Match and NamesWorkload do not scan the bindings: each Set has an index,
// built when it is loaded, of exact keys (fingerprints, API keys, exact
// subjects and claims, issuers) and of the literal prefixes of globs and
// SPIFFE ID patterns; the candidates it gives are checked in full and the
// first declared wins, as a scan in file order would choose (index.go).
//
// The file is bounded by MaxFileBytes unless LoadLimit or ParseLimit are
// given more (up to MaxFileBytesLimit). A file in the usual block layout is
// read one batch of bindings at a time, decoded by a fast path for the plain
// YAML most bindings files are written in and by the YAML package otherwise
// (split.go, fastyaml.go): a million bindings load in seconds.
//
//	set, err := binding.Load("bindings.yaml")
//	...
//	if b := set.Match(&sig.Credential); b != nil {
//		checks := b.Evaluate(&sig)
//		...
//	}
package binding
