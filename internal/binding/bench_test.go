package binding

import (
	"testing"
)

// BenchmarkEvaluate evaluates a binding with every requirement, the CEL
// rule included, on a request that passes them all.
func BenchmarkEvaluate(b *testing.B) {
	bd := loadExample(b).Bindings[0]
	sig := goodSignals()
	if got := summary(bd.Evaluate(&sig)); got != allPass {
		b.Fatalf("checks = %s", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		bd.Evaluate(&sig)
	}
}

func BenchmarkMatch(b *testing.B) {
	s := loadExample(b)
	c := deployCredential()
	b.ReportAllocs()
	for b.Loop() {
		if s.Match(&c) == nil {
			b.Fatal("no match")
		}
	}
}
