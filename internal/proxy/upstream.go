package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
)

// Bounds of the connection to the upstream.
const (
	dialTimeout            = 10 * time.Second
	tlsHandshakeTimeout    = 10 * time.Second
	idleConnTimeout        = 90 * time.Second
	maxIdleConnsPerHost    = 64
	maxResponseHeaderBytes = 1 << 20
)

// newTransport is the connection pool to the upstream: bounded dial,
// handshake and response-header times, TLS 1.2 or later, and never an
// environment HTTP proxy.
func newTransport(cfg config.Proxy) (*http.Transport, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.UpstreamCA != "" {
		pool, err := smallfile.CertPool(cfg.UpstreamCA)
		if err != nil {
			return nil, fmt.Errorf("proxy: upstream_ca: %w", err)
		}
		tlsCfg.RootCAs = pool
	}
	header := cfg.Timeouts.UpstreamHeader.D()
	if header <= 0 {
		header = config.DefaultProxyUpstreamHeader
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tlsCfg,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ResponseHeaderTimeout:  header,
		IdleConnTimeout:        idleConnTimeout,
		MaxIdleConns:           4 * maxIdleConnsPerHost,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		ForceAttemptHTTP2:      true,
	}, nil
}
