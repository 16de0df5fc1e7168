package evidencelog

import (
	"fmt"
	"os"
	"sync"
)

// walSyncer fsyncs the write-ahead log of the log's SQLite database. The
// writer's connection commits with synchronous=NORMAL, which in WAL mode
// writes each transaction to the WAL file without fsyncing it; the syncer
// then fsyncs the WAL file once for every transaction committed before
// the call. That is what synchronous=FULL would do at each commit, moved
// off the writer's path and shared by every transaction since the last
// fsync. SQLite itself still syncs the WAL before it copies frames into
// the database file, and the database file before it reuses the WAL
// (NORMAL's guarantees), so a frame that was synced here stays durable
// once it is checkpointed.
//
// Only the WAL file is opened here, never the database file: closing a
// descriptor of the database would drop SQLite's POSIX locks on it. The
// WAL is not locked (the locks are on the -shm file), and it exists as
// long as a connection to the database is open, which the writer's is
// until Close.
type walSyncer struct {
	mu   sync.Mutex
	path string // the database file; its WAL is path + "-wal"
	f    *os.File
}

// sync fsyncs the WAL file as SQLite has it now.
func (s *walSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := s.path + "-wal"
	fi, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("sync the write-ahead log: %w", err)
	}
	if s.f != nil {
		// A WAL removed and created again (only after SQLite checkpointed
		// all of it into the synced database file) is a new file.
		if cur, err := s.f.Stat(); err != nil || !os.SameFile(cur, fi) {
			s.f.Close()
			s.f = nil
		}
	}
	if s.f == nil {
		if s.f, err = os.Open(name); err != nil {
			return fmt.Errorf("sync the write-ahead log: %w", err)
		}
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync the write-ahead log: %w", err)
	}
	return nil
}

func (s *walSyncer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}
