package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/smallfile"
)

// maxResponseBytes bounds an admin API answer read by Client.
const maxResponseBytes = 16 << 20

// ClientOptions say how to reach and authenticate to an admin API.
type ClientOptions struct {
	// URL is the admin API's base URL, such as https://127.0.0.1:9443.
	URL string
	// Token is the admin bearer token ("" for none). It is sent over
	// plain HTTP only to a loopback address.
	Token string
	// CertFile and KeyFile are a client certificate and its key (mTLS).
	CertFile, KeyFile string
	// CAFile verifies the server's certificate ("" for the system roots).
	CAFile string
	// Timeout bounds each call (default 30s).
	Timeout time.Duration
}

// APIClient calls an admin API.
type APIClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewClient checks o and returns a client. It does no I/O beyond reading
// the certificate files.
func NewClient(o ClientOptions) (*APIClient, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("admin: %q is not an http(s) URL such as https://127.0.0.1:9443", o.URL)
	}
	if u.Scheme == "http" && o.Token != "" && !loopbackHost(u.Hostname()) {
		return nil, errors.New("admin: refusing to send the admin token over plain HTTP to a non-loopback host; use https")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		if tc.RootCAs, err = smallfile.CertPool(o.CAFile); err != nil {
			return nil, fmt.Errorf("admin: --ca: %w", err)
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("admin: a client certificate needs both --cert and --key")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("admin: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	tr := &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: o.Timeout}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &APIClient{base: u, token: o.Token, http: &http.Client{Transport: tr, Timeout: o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// Revoke creates a revocation.
func (c *APIClient) Revoke(ctx context.Context, req CreateRequest) (Revocation, error) {
	var out Revocation
	err := c.do(ctx, http.MethodPost, "/v1/revocations", req, http.StatusCreated, &out)
	return out, err
}

// List returns the revocations in force.
func (c *APIClient) List(ctx context.Context) ([]Revocation, error) {
	var out RevocationList
	err := c.do(ctx, http.MethodGet, "/v1/revocations", nil, http.StatusOK, &out)
	return out.Revocations, err
}

// Delete removes a revocation.
func (c *APIClient) Delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/revocations/"+url.PathEscape(id), nil, http.StatusNoContent, nil)
}

// Reload asks the server to reload its configuration.
func (c *APIClient) Reload(ctx context.Context) (ReloadResult, error) {
	var out ReloadResult
	err := c.do(ctx, http.MethodPost, "/v1/reload", nil, http.StatusOK, &out)
	return out, err
}

// Status returns the server's status.
func (c *APIClient) Status(ctx context.Context) (Status, error) {
	var out Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, http.StatusOK, &out)
	return out, err
}

// do calls the API. An answer other than want is returned as a *Problem.
func (c *APIClient) do(ctx context.Context, method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the message already below
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("admin: %s %s: timed out", method, path)
		}
		return fmt.Errorf("admin: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("admin: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		p := &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
		if json.Unmarshal(data, p) != nil || p.Status != resp.StatusCode {
			p = &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: clip(strings.TrimSpace(string(data)), 200)}
		}
		return p
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin: %s %s: the answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}
