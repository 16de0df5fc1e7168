// Package policytest reads and runs policy test files: requests, and the
// decisions they must get, run against an engine (`provost bindings test`).
//
// A policy test file is a strict, versioned YAML document:
//
//	version: 1
//	config: ../provost.yaml      # optional, relative to the file
//	tests:
//	  - name: CI runner from an approved build host is allowed
//	    request_file: requests/approved.json   # the JSON request format (package checkreq)
//	    expect: {decision: allow, provenance: verified, reasons: [provenance_verified], actions: []}
//	  - name: the same token from elsewhere is denied and revoked
//	    request: {method: GET, target: /v1/deploy, authorization: "Bearer ...", peer: 203.0.113.9, at: "2026-06-01T12:00:00Z"}
//	    expect: {decision: deny, reasons: [network_not_approved], actions: [alert, revoke]}
//
// Load and Parse check the whole file before anything runs: unknown fields
// are rejected, every request is decoded as the JSON request format would
// be, and every error names the file, the line and the field. Suite.Run
// then runs the cases in order through one engine's Check, so state (origin
// history, revocations, the replay cache) carries from case to case, with
// the engine's clock pinned to each request's "at" by a Clock:
//
//	s, err := policytest.Load("bindings.test.yaml")
//	...
//	clock := &policytest.Clock{}
//	a, err := app.Open(ctx, app.Options{ConfigFile: s.Config, DataDir: dir, Now: clock.Now})
//	...
//	for _, r := range s.Run(ctx, a.Engine.Check, clock) {
//		if !r.Passed() { ... r.Failures ... }
//	}
//
// The package prints nothing; results carry the decision so the caller can
// show it (by fingerprint, never the raw credential).
package policytest
