// Package lint finds likely mistakes in a bindings file that loads: what
// `provost bindings lint` reports beyond the errors package binding refuses.
//
// Findings runs every rule over a loaded *binding.Set and returns one
// Finding per problem, naming the rule, the file, the line and the field:
//
//	set, err := binding.Load(path)
//	...
//	src, _ := smallfile.Read(path, binding.MaxFileBytes) // only for lines; nil leaves them 0
//	for _, f := range lint.Findings(set, src) {
//		fmt.Println(f) // bindings.yaml:7: warning: binding anything-goes requires nothing ...
//	}
//
// The rules (each a Rule constant):
//
//   - approves_any_origin: a binding that is not a honeytoken requires
//     nothing and no evidence, so any origin is approved.
//   - unreachable_binding: an earlier binding has the identical match, so
//     this one is never chosen. Found in one pass, through a map of the
//     matches seen (fingerprints as a set, claims by name): linting a
//     million bindings takes about a second.
//   - learn_mode: the binding allows every request while it learns; propose
//     a tighter one.
//   - honeytoken_with_requirements: a honeytoken is always denied, so its
//     requirements are never used.
//   - unused_network: a named network no binding requires.
//
// Describe summarises a binding in one line, as the command lists them. The
// package reads no file and prints nothing.
package lint
