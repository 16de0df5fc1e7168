// Package checkreq is the JSON form of one request to judge: what
// `provost check` reads from a file and what the HTTP check API reads from a
// body. Decoding is strict (unknown fields rejected, sizes bounded) and every
// error names the field. Request.ToRequest turns a document into the
// engine's provost.Request, the one conversion every reader of the format
// uses.
//
//	doc, err := checkreq.ReadFile("request.json") // or checkreq.Decode(body)
//	if err != nil { ... } // a *FieldError naming the field
//	req, err := doc.ToRequest()
//	d, err := eng.Check(ctx, req)
package checkreq

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/provost-dev/provost/internal/jsonerr"
	"github.com/provost-dev/provost/internal/target"
	"github.com/provost-dev/provost/reason"
)

// MaxBytes bounds one request document.
const MaxBytes = 256 << 10

// Request is the JSON document.
type Request struct {
	// At pins the clock to the time the request was observed. Only the
	// offline `provost check` honours it; a server always uses its own clock.
	At            *time.Time `json:"at,omitempty"`
	Method        string     `json:"method"`
	Target        string     `json:"target"`
	Authorization string     `json:"authorization,omitempty"`
	DPoP          string     `json:"dpop,omitempty"`
	// Peer is the address of the immediate TCP peer: "203.0.113.7",
	// "203.0.113.7:44312" or "[2001:db8::7]:44312".
	Peer          string   `json:"peer,omitempty"`
	XForwardedFor []string `json:"x_forwarded_for,omitempty"`
	Forwarded     []string `json:"forwarded,omitempty"`
	// ClientCert is the PEM client certificate chain of the TLS
	// connection, leaf first.
	ClientCert string `json:"client_cert,omitempty"`
	// XFCC, ClientCertHeader and ClientCertChainHeader are the certificate
	// headers a trusted proxy forwards (believed only from one).
	XFCC                  string `json:"xfcc,omitempty"`
	ClientCertHeader      string `json:"client_cert_header,omitempty"`
	ClientCertChainHeader string `json:"client_cert_chain_header,omitempty"`
	JWTSVID               string `json:"jwt_svid,omitempty"`
	// Hops are the Provost-Hop header lines; Posture the Provost-Posture header.
	Hops    []string `json:"hops,omitempty"`
	Posture string   `json:"posture,omitempty"`

	// parsed holds ClientCert and Peer as Decode parsed them, so that
	// ToRequest does not parse them again; nil for a Request built by hand.
	parsed *parsedFields
}

type parsedFields struct {
	certs []*x509.Certificate
	peer  netip.Addr
}

// FieldError names the field that was wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Decode reads one strict request document.
func Decode(r io.Reader) (*Request, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBytes {
		return nil, &FieldError{Field: "(body)", Msg: fmt.Sprintf("larger than %d bytes", MaxBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, jsonError(err, data)
	}
	if dec.More() {
		return nil, &FieldError{Field: "(body)", Msg: "trailing data after the JSON object"}
	}
	return &req, req.check()
}

// jsonError turns an error decoding doc into a FieldError that never
// repeats the document (jsonerr): a member is named only when its name is
// plainly a field name, otherwise by its byte offset, its length and at most
// its first 4 characters, since a caller may put a credential anywhere,
// even in a member name.
func jsonError(err error, doc []byte) error {
	e := jsonerr.Describe(err, doc)
	switch {
	case e.Kind == jsonerr.Type && e.Field == "":
		return &FieldError{Field: "(body)", Msg: "must be a JSON object, not a JSON " + e.JSONType}
	case e.Kind == jsonerr.Type || e.Kind == jsonerr.UnknownField:
		return &FieldError{Field: e.Field, Msg: e.Msg}
	}
	return &FieldError{Field: "(body)", Msg: "not a JSON object: " + e.Msg}
}

func (r *Request) check() error {
	if r.Method == "" {
		return &FieldError{Field: "method", Msg: "is required (e.g. GET)"}
	}
	// The engine refuses the same (request_method_invalid,
	// request_target_invalid); a document is refused earlier, naming
	// the field.
	if err := target.CheckMethod(r.Method); err != nil {
		return &FieldError{Field: "method", Msg: reason.MessageOf(err)}
	}
	if _, _, _, err := target.Check(r.Target); err != nil {
		return &FieldError{Field: "target", Msg: reason.MessageOf(err)}
	}
	certs, err := r.Certificates()
	if err != nil {
		return err
	}
	peer, err := r.PeerAddr()
	if err != nil {
		return err
	}
	r.parsed = &parsedFields{certs: certs, peer: peer}
	return nil
}

// PeerAddr parses Peer; the zero Addr when it is empty.
func (r *Request) PeerAddr() (netip.Addr, error) {
	if r.Peer == "" {
		return netip.Addr{}, nil
	}
	if ap, err := netip.ParseAddrPort(r.Peer); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(r.Peer)
	if err != nil {
		return netip.Addr{}, &FieldError{Field: "peer", Msg: "must be an IP address, optionally with a port"}
	}
	return a.Unmap(), nil
}

// maxChain bounds the client certificate chain.
const maxChain = 8

// Certificates parses ClientCert, leaf first, or returns nil when it is empty.
func (r *Request) Certificates() ([]*x509.Certificate, error) {
	if r.ClientCert == "" {
		return nil, nil
	}
	var out []*x509.Certificate
	rest := []byte(r.ClientCert)
	for len(bytes.TrimSpace(rest)) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil || b.Type != "CERTIFICATE" {
			return nil, &FieldError{Field: "client_cert", Msg: "must be PEM CERTIFICATE blocks only"}
		}
		if len(out) == maxChain {
			return nil, &FieldError{Field: "client_cert", Msg: fmt.Sprintf("more than %d certificates", maxChain)}
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &FieldError{Field: "client_cert", Msg: "not a valid X.509 certificate: " + err.Error()}
		}
		out = append(out, c)
	}
	return out, nil
}
