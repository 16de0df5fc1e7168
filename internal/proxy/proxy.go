package proxy

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/provost-dev/provost/internal/telemetry"
	"go.opentelemetry.io/otel/propagation"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/answer"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/credential"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/telemetry/requestlog"
	"github.com/provost-dev/provost/internal/transport"
)

// Proxy judges each request with the engine and forwards the allowed ones
// to the upstream. It is an http.Handler, safe for concurrent use.
type Proxy struct {
	eng     provost.Checker
	log     *slog.Logger
	up      *url.URL
	rp      *httputil.ReverseProxy
	tr      *http.Transport
	signer  *hop.Signer // nil unless the proxy is an approved hop
	maxBody int64
	now     func() time.Time
}

// New returns the proxy for cfg, normally config.Config.ProxyConfig's
// result (zero timeouts and limits take their defaults). It reads the hop
// key and the upstream CA file; logger gets one line per request and
// upstream errors (nil discards them).
func New(eng provost.Checker, cfg config.Proxy, logger *slog.Logger) (*Proxy, error) {
	if eng == nil {
		return nil, errors.New("proxy: engine is nil")
	}
	up, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{eng: eng, log: logger, up: up, maxBody: cfg.MaxBodyBytes, now: time.Now}
	if p.maxBody <= 0 {
		p.maxBody = config.DefaultProxyMaxBodyBytes
	}
	if cfg.Hop.Enabled() {
		key, err := loadHopKey(cfg.Hop.Key)
		if err != nil {
			return nil, fmt.Errorf("proxy: hop key: %w", err)
		}
		p.signer = &hop.Signer{Name: cfg.Hop.Name, Key: key, Now: time.Now}
	}
	if p.tr, err = newTransport(cfg); err != nil {
		return nil, err
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.tr,
		ModifyResponse: p.upstreamAnswered,
		ErrorHandler:   p.upstreamFailed,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// Close closes the idle connections to the upstream.
func (p *Proxy) Close() { p.tr.CloseIdleConnections() }

// forward is what ServeHTTP decided for one allowed request, for rewrite.
type forward struct {
	d      *provost.Decision
	url    *url.URL // the upstream URL with the request target unchanged
	hops   string   // the Provost-Hop value to send; "" leaves the header alone
	status int      // the upstream's status, or the proxy's on error
}

type forwardKey struct{}

// ServeHTTP judges r and forwards it when the decision is allow.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := p.now()
	// The request id: the caller's X-Request-Id when it is a short token,
	// else a fresh one; answered to the client, sent to the upstream,
	// and named by the log line and the evidence record.
	id := requestlog.IDOf(r.Header.Get(requestlog.HeaderRequestID))
	w.Header().Set(requestlog.HeaderRequestID, id)
	ctx := requestlog.WithID(r.Context(), id)
	req := provost.FromHTTP(r)
	req.ID = id
	if r.Method == http.MethodConnect {
		p.refuse(w, http.StatusMethodNotAllowed)
		p.logRequest(ctx, r, nil, "CONNECT is not proxied", http.StatusMethodNotAllowed, start)
		return
	}
	if r.ContentLength > p.maxBody {
		p.refuse(w, http.StatusRequestEntityTooLarge)
		p.logRequest(ctx, r, nil, "", http.StatusRequestEntityTooLarge, start)
		return
	}
	d, err := provost.Judge(transport.With(telemetry.RemoteParent(ctx, propagation.HeaderCarrier(r.Header)), transport.Proxy), p.eng, req)
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "decision failed closed", slog.Any("error", err))
	}
	if status := answer.Status(d); status != http.StatusOK {
		answer.Headers(w.Header(), d)
		p.refuse(w, status)
		p.logRequest(ctx, r, d, "", status, start)
		return
	}
	u, ok := p.upstreamURL(r)
	if !ok {
		p.refuse(w, http.StatusBadRequest)
		p.logRequest(ctx, r, d, "the request target cannot be forwarded unchanged", http.StatusBadRequest, start)
		return
	}
	fwd := &forward{d: d, url: u}
	if p.signer != nil {
		fwd.hops, err = p.signer.Sign(strings.Join(r.Header.Values(provost.HeaderHop), ","), hop.Request{
			Method:           r.Method,
			Target:           fwd.url.RequestURI(),
			CredentialDigest: hop.CredentialDigest(credential.Token(req.Authorization)),
		})
		if err != nil {
			p.refuse(w, http.StatusBadRequest)
			p.logRequest(ctx, r, d, "cannot sign the hop attestation: malformed Provost-Hop header", http.StatusBadRequest, start)
			return
		}
	}
	out := r.WithContext(context.WithValue(ctx, forwardKey{}, fwd))
	if r.Body != nil && r.Body != http.NoBody {
		out.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
	}
	p.rp.ServeHTTP(w, out)
	p.logRequest(ctx, r, d, "", fwd.status, start)
}

// upstreamURL is the upstream with r's request target, byte for byte as
// received when it is in origin form, so that the target the hops attested
// and the one the upstream receives are the same. ok is false for an
// origin-form target that cannot be sent unchanged: the proxy refuses it
// rather than forward another one.
func (p *Proxy) upstreamURL(r *http.Request) (u *url.URL, ok bool) {
	u = &url.URL{Scheme: p.up.Scheme, Host: p.up.Host}
	path, query, hasQuery := strings.Cut(r.RequestURI, "?")
	if strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "//") {
		u.Opaque, u.RawQuery, u.ForceQuery = path, query, hasQuery
		return u, true
	}
	// Absolute form, "*", or a path starting with "//" (which Opaque
	// would turn into a scheme-relative URL): use the parsed URL.
	u.Path, u.RawPath, u.RawQuery, u.ForceQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.URL.ForceQuery
	return u, !strings.HasPrefix(path, "/") || u.RequestURI() == r.RequestURI
}

// rewrite prepares the outbound request of an allowed one. ReverseProxy
// has already removed hop-by-hop headers and the incoming Forwarded and
// X-Forwarded-* headers from pr.Out.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	fwd, _ := pr.In.Context().Value(forwardKey{}).(*forward)
	if fwd == nil { // not reached through ServeHTTP: send nowhere
		pr.Out.URL = &url.URL{}
		return
	}
	pr.Out.URL = fwd.url
	pr.Out.Host = "" // the Host header names the upstream; X-Forwarded-Host keeps the client's
	// Append the client's address to the X-Forwarded-For it sent.
	if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 {
		pr.Out.Header["X-Forwarded-For"] = append([]string(nil), xff...)
	}
	pr.SetXForwarded()
	h := pr.Out.Header
	answer.StripIdentity(h)
	answer.Headers(h, fwd.d)
	setClientCert(h, pr.In)
	if fwd.hops != "" {
		h.Set(provost.HeaderHop, fwd.hops)
	}
	if id := requestlog.IDFrom(pr.In.Context()); id != "" {
		h.Set(requestlog.HeaderRequestID, id)
	}
}

// setClientCert replaces any forwarded-certificate header the client typed
// with the certificate of this proxy's own TLS connection, as RFC 9440
// Client-Cert and Client-Cert-Chain.
func setClientCert(h http.Header, in *http.Request) {
	h.Del(provost.HeaderXFCC)
	h.Del(provost.HeaderClientCert)
	h.Del(provost.HeaderClientCertChain)
	if in.TLS == nil || len(in.TLS.PeerCertificates) == 0 {
		return
	}
	certs := in.TLS.PeerCertificates
	h.Set(provost.HeaderClientCert, sfBytes(certs[0]))
	if len(certs) > 1 {
		chain := make([]string, 0, len(certs)-1)
		for _, c := range certs[1:] {
			chain = append(chain, sfBytes(c))
		}
		h.Set(provost.HeaderClientCertChain, strings.Join(chain, ", "))
	}
}

// sfBytes is a certificate as an RFC 8941 byte sequence.
func sfBytes(c *x509.Certificate) string {
	return ":" + base64.StdEncoding.EncodeToString(c.Raw) + ":"
}

func (p *Proxy) upstreamAnswered(resp *http.Response) error {
	resp.Header.Del(requestlog.HeaderRequestID) // ServeHTTP answers the id; the upstream was sent it
	if fwd, _ := resp.Request.Context().Value(forwardKey{}).(*forward); fwd != nil {
		fwd.status = resp.StatusCode
	}
	return nil
}

func (p *Proxy) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	if fwd, _ := r.Context().Value(forwardKey{}).(*forward); fwd != nil {
		fwd.status = status
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody reads the answer
	}
	p.log.LogAttrs(r.Context(), slog.LevelWarn, "upstream request failed", slog.String("upstream", p.up.Host), slog.Any("error", err))
	p.refuse(w, status)
}

// refuse writes a short plain-text answer with status.
func (p *Proxy) refuse(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + "\n"))
}

// logRequest writes the one line of a request (package requestlog's
// schema). It names the credential by fingerprint only and the target by
// path only (a query may carry secrets).
func (p *Proxy) logRequest(ctx context.Context, r *http.Request, d *provost.Decision, problem string, status int, start time.Time) {
	line := requestlog.Line{RequestID: requestlog.IDFrom(ctx), Transport: string(transport.Proxy), Method: r.Method,
		Path: r.URL.Path, Status: status, Latency: p.now().Sub(start), Peer: r.RemoteAddr}
	attrs := line.Attrs()
	if d != nil {
		attrs = append(attrs, requestlog.Decision(d)...)
	}
	if problem != "" {
		attrs = append(attrs, slog.String(requestlog.KeyProblem, problem))
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, requestlog.Message, attrs...)
}

func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy: upstream %q is not an http:// or https:// URL", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("proxy: upstream %q must be scheme://host[:port] only", s)
	}
	return u, nil
}
