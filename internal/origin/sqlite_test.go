package origin_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/origin/origintest"
)

var ctx = context.Background()

// openSQLite returns an opener for the conformance suite: each test gets its
// own database file, and opening again for the same test reopens that file.
func openSQLite() func(t *testing.T) origin.Store {
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	return func(t *testing.T) origin.Store {
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "origin.db")
			paths[t] = path
		}
		mu.Unlock()
		s, err := origin.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestSQLiteConformance(t *testing.T) {
	origintest.Run(t, openSQLite())
}
