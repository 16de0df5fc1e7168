package transport_test

import (
	"context"
	"testing"

	"github.com/provost-dev/provost/internal/transport"
)

func TestFrom(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want transport.Name
	}{
		{"unmarked", context.Background(), transport.Other},
		{"check API", transport.With(context.Background(), transport.CheckAPI), transport.CheckAPI},
		{"the innermost mark wins", transport.With(transport.With(context.Background(), transport.Proxy), transport.ExtAuthz), transport.ExtAuthz},
		{"empty name", transport.With(context.Background(), ""), transport.Other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transport.From(tc.ctx); got != tc.want {
				t.Errorf("From = %q, want %q", got, tc.want)
			}
		})
	}
	seen := map[transport.Name]bool{}
	for _, n := range transport.All() {
		if n == "" || seen[n] {
			t.Errorf("All holds %q twice or empty", n)
		}
		seen[n] = true
	}
	if len(seen) != 5 || !seen[transport.Other] {
		t.Errorf("All = %v", transport.All())
	}
}
