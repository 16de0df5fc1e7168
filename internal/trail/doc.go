// Package trail indexes the evidence log for investigation.
//
// The index is an SQLite database (trail.db in the data directory) derived
// from the log alone: Sync brings it up to the log's size, a batch of
// records per transaction, and checks first that the last record it indexed
// is still the one in the log, so an index never silently describes
// another log. Deleting the database rebuilds it on the next Sync. Queries
// (Show, Timeline, Origins, BlastRadius, Report) read the index only; the
// log's own integrity is what evidencelog's Verify checks.
package trail
