package lint

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/binding"
)

// BenchmarkFindingsScale lints a set of N bindings whose last one repeats
// the match of the first: one pass with a map of matches, where comparing
// each binding with those before it took N²/2 comparisons.
func BenchmarkFindingsScale(b *testing.B) {
	for _, n := range []int{1000, 100000, 1000000} {
		b.Run("bindings="+strconv.Itoa(n), func(b *testing.B) {
			var sb strings.Builder
			sb.WriteString("version: 1\nbindings:\n")
			for i := range n - 1 {
				fmt.Fprintf(&sb, "  - name: b%d\n    match: {issuer: https://i.example, subject: \"svc-%d:*\"}\n    require: {possession: dpop}\n", i, i)
			}
			sb.WriteString("  - name: last\n    match: {subject: \"svc-0:*\", issuer: https://i.example}\n    require: {possession: dpop}\n")
			set, err := binding.ParseLimit(context.Background(), "b.yaml", []byte(sb.String()), binding.MaxFileBytesLimit)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				fs := Findings(set, nil)
				if len(fs) != 1 || fs[0].Rule != UnreachableBinding || !strings.Contains(fs[0].Message, "binding last is unreachable: binding b0") {
					b.Fatalf("findings: %v", fs)
				}
			}
		})
	}
}
