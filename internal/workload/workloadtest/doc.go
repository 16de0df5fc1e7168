// Package workloadtest issues real test credentials for the workload identity
// signal: a SPIFFE CA per trust domain (ECDSA P-256) that issues X.509-SVIDs,
// including deliberately broken ones, and signs JWT-SVIDs.
//
// It is for tests only: production code must not import it.
//
//	ca := workloadtest.NewCA(t, "prod.example")
//	chain, key := ca.IssueSVID(t, "spiffe://prod.example/api", workloadtest.WithIntermediate())
//	bundles := workload.NewBundles(x509bundle.NewSet(ca.X509Bundle()), jwtbundle.NewSet(ca.JWTBundle()))
package workloadtest
