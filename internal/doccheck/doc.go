// Package doccheck holds no code: its tests keep the documentation in docs/
// true to the code and complete. They fail when
//
//   - a route is served that docs/openapi.yaml does not describe, or the
//     spec describes one that is not served (openapi_test.go);
//   - a problem type the code emits has no anchor in docs/api.md, or an
//     endpoint or admin problem code is missing there (apidoc_test.go);
//   - a configuration field has no row in docs/configuration.md, or a row
//     names a field that does not exist or gives the wrong type
//     (configdoc_test.go);
//   - an X-Provost-* header the code sets is missing from a doc that lists
//     them (headers_test.go);
//   - the Python receipt verifier of docs/evidence.md does not verify real
//     receipts, among them ones whose verifier key holds a "+"
//     (receipt_python_test.go).
package doccheck
