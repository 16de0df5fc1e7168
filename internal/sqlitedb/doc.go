// Package sqlitedb opens Provost's embedded SQLite databases the same way
// everywhere, and runs their schema migrations.
//
// Open uses the pure-Go modernc.org/sqlite driver in WAL mode with
// synchronous=FULL (a committed write survives a power cut), a busy timeout,
// foreign keys on, and write transactions that take the write lock when they
// begin (BEGIN IMMEDIATE), so two writers never deadlock upgrading a read lock.
//
// Each store owns a named schema and passes its ordered list of migration
// steps to Migrate; the version reached is kept per name in the
// schema_version table, so several stores can share one database file:
//
//	db, err := sqlitedb.Open(ctx, filepath.Join(dataDir, "provost.db"))
//	if err != nil { ... }
//	err = sqlitedb.Migrate(ctx, db, "revocation", []string{
//		`CREATE TABLE revocation (...)`, // version 1
//		`CREATE INDEX ...`,              // version 2
//	})
//
// Steps are append-only: never edit or reorder a released step, add a new one.
package sqlitedb
