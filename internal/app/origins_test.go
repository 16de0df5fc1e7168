package app_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/origin"
)

// The embedded origin history is a write-behind over origins.db, bounded by
// storage.origin_memory_credentials: uses recorded are answered from
// memory at once and are in origins.db once the data directory is closed.
func TestEmbeddedOriginHistoryWriteBehind(t *testing.T) {
	tests := []struct {
		name       string
		configured int
		credentials,
		wantMax int // credentials held in memory at most
	}{
		{"default", 0, 300, origin.DefaultMaxCredentials},
		{"configured", 64, 300, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			d, err := app.OpenData(ctx, dir, app.DataOptions{Storage: config.Storage{OriginMemoryCredentials: tt.configured}})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			wb, ok := d.Origins.(*origin.WriteBehind)
			if !ok {
				t.Fatalf("the embedded origin store is %T, want *origin.WriteBehind", d.Origins)
			}
			at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
			fps := make([]string, tt.credentials)
			for i := range fps {
				fps[i] = d.Fingerprint("credential-" + strconv.Itoa(i))
				u := origin.Use{Fingerprint: fps[i], Binding: "b", Origin: origin.Origin{Network: "10.0.0.0/24"}, At: at, Allowed: true}
				if err := d.Origins.Record(ctx, u); err != nil {
					t.Fatal(err)
				}
				if h, err := d.Origins.Lookup(ctx, fps[i]); err != nil || h.Uses != 1 {
					t.Fatalf("Lookup right after Record: %+v, %v", h, err)
				}
			}
			if err := wb.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := wb.Stats().Credentials; n > tt.wantMax || n > tt.credentials {
				t.Fatalf("%d credentials in memory, want at most %d", n, min(tt.wantMax, tt.credentials))
			}
			// A second use of each, still queued when Close is called.
			for _, fp := range fps {
				u := origin.Use{Fingerprint: fp, Binding: "b", Origin: origin.Origin{Network: "10.0.0.0/24"}, At: at.Add(time.Hour), Allowed: true}
				if err := d.Origins.Record(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Origins.Lookup(ctx, fps[0]); !errors.Is(err, origin.ErrClosed) {
				t.Fatalf("Lookup after Close: %v, want ErrClosed (Close drains and closes the write-behind)", err)
			}

			sq, err := origin.OpenSQLite(ctx, app.LayoutOf(dir).Origins)
			if err != nil {
				t.Fatal(err)
			}
			defer sq.Close()
			for i, fp := range fps {
				if h, err := sq.Lookup(ctx, fp); err != nil || h.Uses != 2 || !h.LastSeen.Equal(at.Add(time.Hour)) {
					t.Fatalf("credential %d in origins.db after Close: %+v, %v", i, h, err)
				}
			}
		})
	}
}
