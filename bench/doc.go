// Package bench holds Provost's comparative benchmarks: the whole decision
// against OPA with an equivalent Rego policy (BenchmarkOPA, opa_test.go).
// cmd/plot draws benchmark output as charts. It is a module of its own so
// that OPA and gonum/plot never enter the product's go.mod; see README.md.
package bench
