// Package replay is Provost's replay cache: it remembers one-time values (a
// DPoP proof's jti, a hop attestation's nonce) until they expire, and answers
// "seen before?" and "remember it" as one atomic step, so two requests racing
// with the same value cannot both pass.
//
//	c := replay.NewMemory(replay.MemoryConfig{})
//	replayed, err := c.Seen(ctx, "dpop:"+jkt+":"+jti, iat.Add(window))
//	if err != nil {
//		// fail closed: reason.Of(err) == reason.ReplayCacheFull
//	}
//	if replayed {
//		// reject: reason.DPoPReplayed
//	}
//
// Memory is the in-process implementation for a single replica. Its memory is
// bounded: entries leave when they expire, and a hard cap on live entries makes
// Seen fail closed with ErrFull rather than forget a live entry. Several
// replicas share a cache through a networked implementation of Cache.
package replay
