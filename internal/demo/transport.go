package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/answer"
)

// outcome is what a transport answered, in the demo's terms.
type outcome struct {
	Decision   string
	Credential string
	Provenance string
	Reasons    []string
	Actions    []string
	Status     int
}

// call is one request, as a client (or the proxy in front of Provost) sends it.
type call struct {
	Method, Path  string
	Authorization string
	DPoP          string
	Posture       string
	Hops          string
	// For the check API: what the transport observed.
	Peer       string
	ClientCert string // PEM
	// For forward-auth: the headers nginx passes on.
	XFF  string
	XFCC string
	// For the proxy: the loopback address the client connects from.
	From string
}

// viaCheckAPI sends the request description to POST /v1/check.
func (e *env) viaCheckAPI(ctx context.Context, c call) (outcome, error) {
	doc := map[string]any{"method": c.Method, "target": c.Path, "authorization": c.Authorization, "peer": c.Peer}
	for k, v := range map[string]string{"dpop": c.DPoP, "posture": c.Posture, "client_cert": c.ClientCert} {
		if v != "" {
			doc[k] = v
		}
	}
	if c.Hops != "" {
		doc["hops"] = []string{c.Hops}
	}
	body, _ := json.Marshal(doc)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.apiURL+"/v1/check", bytes.NewReader(body))
	if err != nil {
		return outcome{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client("").Do(req)
	if err != nil {
		return outcome{}, err
	}
	defer resp.Body.Close()
	var d struct {
		Decision   string
		Provenance string
		Credential struct{ Verdict string }
		Reasons    []struct{ Code string }
		Actions    []string
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil || resp.StatusCode != http.StatusOK {
		return outcome{}, fmt.Errorf("check API answered %s (%v)", resp.Status, err)
	}
	out := outcome{Decision: d.Decision, Credential: d.Credential.Verdict, Provenance: d.Provenance, Status: resp.StatusCode, Actions: d.Actions}
	for _, r := range d.Reasons {
		out.Reasons = append(out.Reasons, r.Code)
	}
	return out, nil
}

// viaForwardAuth asks /v1/forward-auth the way nginx's auth_request does:
// the demo client is the trusted proxy (127.0.0.1) and passes the original
// request in headers.
func (e *env) viaForwardAuth(ctx context.Context, c call) (outcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.apiURL+"/v1/forward-auth", nil)
	if err != nil {
		return outcome{}, err
	}
	h := req.Header
	h.Set("X-Original-Method", c.Method)
	h.Set("X-Original-URI", c.Path)
	setIf(h, "Authorization", c.Authorization)
	setIf(h, "X-Forwarded-For", c.XFF)
	setIf(h, "X-Forwarded-Client-Cert", c.XFCC)
	return send(client("127.0.0.1"), req)
}

// viaProxy sends the request through `provost proxy` from the loopback
// address c.From, so the network signal is the real TCP peer.
func (e *env) viaProxy(ctx context.Context, c call) (outcome, error) {
	req, err := http.NewRequestWithContext(ctx, c.Method, e.proxyURL+c.Path, nil)
	if err != nil {
		return outcome{}, err
	}
	setIf(req.Header, "Authorization", c.Authorization)
	setIf(req.Header, "DPoP", c.DPoP)
	return send(client(c.From), req)
}

func send(cl *http.Client, req *http.Request) (outcome, error) {
	resp, err := cl.Do(req)
	if err != nil {
		return outcome{}, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	out := outcome{
		Decision:   resp.Header.Get(answer.HeaderDecision),
		Credential: resp.Header.Get(answer.HeaderCredential),
		Provenance: resp.Header.Get(answer.HeaderProvenance),
		Status:     resp.StatusCode,
	}
	if r := resp.Header.Get(answer.HeaderReasons); r != "" {
		out.Reasons = strings.Split(r, ",")
	}
	if a := resp.Header.Get(answer.HeaderActions); a != "" {
		out.Actions = strings.Split(a, ",")
	}
	if out.Decision == "" {
		return out, fmt.Errorf("answer %s carries no %s header", resp.Status, answer.HeaderDecision)
	}
	return out, nil
}

func setIf(h http.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}

// client connects from the loopback address from ("" = any).
func client(from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}
