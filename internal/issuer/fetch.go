package issuer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// clientTimeout is the default client's whole-request timeout.
	clientTimeout = 10 * time.Second
	// fetchTimeout caps one fetch even when the caller's client has no timeout.
	fetchTimeout = 30 * time.Second
	maxRedirects = 5
)

// defaultClient returns a client with a request timeout that follows at most
// maxRedirects redirects, and only to https unless allowHTTP.
func defaultClient(allowHTTP bool) *http.Client {
	return &http.Client{
		Timeout: clientTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "https" && (!allowHTTP || req.URL.Scheme != "http") {
				return fmt.Errorf("refusing redirect to non-https URL %s", req.URL.Redacted())
			}
			return nil
		},
	}
}

// checkURL accepts an absolute http(s) URL with a host and no user info (a URL
// with credentials in it would end up in error messages).
func checkURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return nil, fmt.Errorf("URL %s is not https", u.Redacted())
	default:
		return nil, fmt.Errorf("URL %s: scheme must be https or http", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %s has no host", u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("URL %s must not carry user info", u.Redacted())
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("URL %s must not have a fragment", u.Redacted())
	}
	return u, nil
}

// getJSON fetches target and returns its body: the status must be 200, the
// content type (when given) JSON, and the body at most limit bytes.
func getJSON(ctx context.Context, client *http.Client, target, accept string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the URL, which is named below
		}
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %s", target, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !isJSONType(ct) {
		return nil, fmt.Errorf("GET %s: content type %q is not JSON", target, ct)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("GET %s: body of %d bytes exceeds the %d byte limit", target, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", target, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: body exceeds the %d byte limit", target, limit)
	}
	return body, nil
}

// isJSONType accepts application/json and application/*+json (such as
// application/jwk-set+json).
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}
