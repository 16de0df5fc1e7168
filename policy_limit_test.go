package provost_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/provost-dev/provost"
)

// TestBindingsMaxBytes: bindings_max_bytes reaches the bindings loader
// (default 1 MiB), and only the bindings file gets it.
func TestBindingsMaxBytes(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nbindings:\n")
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "  - name: b%07d\n    match: {subject: \"svc:%07d\"}\n", i, i)
	}
	files := fstest.MapFS{"bindings.yaml": {Data: []byte(b.String())}}
	for _, c := range []struct {
		limit string
		ok    bool
	}{{"", false}, {"bindings_max_bytes: 2000000\n", false}, {"bindings_max_bytes: 4194304\n", true}} {
		_, err := provost.ParsePolicy(context.Background(), []byte("version: 1\nbindings: bindings.yaml\n"+c.limit), files)
		if c.ok != (err == nil) {
			t.Errorf("%q: err = %v, want ok=%v", c.limit, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "bindings.yaml") {
			t.Errorf("%q: the error does not name the file: %v", c.limit, err)
		}
	}
}
