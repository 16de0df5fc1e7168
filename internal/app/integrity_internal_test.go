package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/provost-dev/provost/internal/revocation"
)

// TestIntegrityFailIsStickyOnlyForChangedStores: a file deleted or
// replaced, or rows changed under the seal, deny every decision until a
// restart; an error that says nothing about the stores (a busy database,
// a failed stat) is logged and checked again.
func TestIntegrityFailIsStickyOnlyForChangedStores(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err    error
		sticky bool
	}{
		{errors.New("database is locked"), false},
		{fmt.Errorf("the evidence log: %w", errors.New("stat: permission denied")), false},
		{fmt.Errorf("the secret: %w", ErrStoreFile), true},
		{fmt.Errorf("the revocation store: %w", revocation.ErrTampered), true},
	} {
		g := &integrity{log: slog.New(slog.DiscardHandler)}
		g.fail(ctx, c.err)
		if got := g.Err() != nil; got != c.sticky {
			t.Errorf("%v: sticky = %v, want %v", c.err, got, c.sticky)
		}
	}
}
