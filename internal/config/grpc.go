package config

// GRPC configures the Envoy ext_authz gRPC listener.
type GRPC struct{}

func (c *GRPC) check() error { return nil }
