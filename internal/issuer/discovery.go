package issuer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4/json"
)

const wellKnownPath = "/.well-known/openid-configuration"

// NewDiscovery resolves OpenID Connect discovery (OpenID Connect Discovery
// 1.0 §4): it fetches issuerURL + "/.well-known/openid-configuration" (a
// trailing "/" of issuerURL is dropped first), requires the document's
// "issuer" to equal issuerURL exactly and its "jwks_uri" to be https (or http
// when issuerURL is http), and returns a Remote for jwks_uri built from cfg.
// cfg.URL must be empty: discovery sets it. The discovery document is fetched
// once, now; the Remote fetches its keys lazily.
func NewDiscovery(ctx context.Context, issuerURL string, cfg RemoteConfig) (*Remote, error) {
	if cfg.URL != "" {
		return nil, errors.New("issuer discovery: RemoteConfig.URL must be empty; discovery sets it")
	}
	u, err := checkURL(issuerURL, true)
	if err != nil {
		return nil, fmt.Errorf("issuer discovery: issuer %w", err)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return nil, fmt.Errorf("issuer discovery: issuer URL %s must not have a query", issuerURL)
	}
	allowHTTP := u.Scheme == "http"
	client := cfg.Client
	if client == nil {
		client = defaultClient(allowHTTP)
	}
	limit := cfg.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	target := strings.TrimSuffix(issuerURL, "/") + wellKnownPath
	body, err := getJSON(ctx, client, target, "application/json", limit)
	if err != nil {
		return nil, fmt.Errorf("issuer discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("issuer discovery: %s: invalid JSON: %w", target, err)
	}
	if doc.Issuer != issuerURL {
		return nil, fmt.Errorf("issuer discovery: %s names issuer %q, want exactly %q", target, clip(doc.Issuer, 256), issuerURL)
	}
	if doc.JWKSURI == "" {
		return nil, fmt.Errorf("issuer discovery: %s has no jwks_uri", target)
	}
	if _, err := checkURL(doc.JWKSURI, allowHTTP); err != nil {
		return nil, fmt.Errorf("issuer discovery: %s: jwks_uri: %w", target, err)
	}
	cfg.URL = doc.JWKSURI
	return NewRemote(cfg)
}

// clip shortens s, from an untrusted document, for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
