package replay_test

import (
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/replay/replaytest"
)

func TestMemoryConformance(t *testing.T) {
	replaytest.Run(t, func(t *testing.T, now func() time.Time) replay.Cache {
		return replay.NewMemory(replay.MemoryConfig{Now: now})
	})
}

// TestMemoryConformanceShortKeys runs the suite with a small MaxKeyBytes, so
// most of its keys take the hashed path.
func TestMemoryConformanceShortKeys(t *testing.T) {
	replaytest.Run(t, func(t *testing.T, now func() time.Time) replay.Cache {
		return replay.NewMemory(replay.MemoryConfig{MaxKeyBytes: 4, Now: now})
	})
}
