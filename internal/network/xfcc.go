package network

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"

	"github.com/provost-dev/provost/reason"
)

// Bounds on x-forwarded-client-cert values.
const (
	// MaxXFCCBytes bounds the whole header value (URL-encoded PEM chains are large).
	MaxXFCCBytes = 64 << 10
	// MaxXFCCElements bounds the number of comma-separated elements.
	MaxXFCCElements = 16
	// MaxXFCCPairs bounds the number of key=value pairs of one element.
	MaxXFCCPairs = 64
	// maxXFCCCerts bounds the certificates decoded from one Chain value.
	maxXFCCCerts = 16
)

// XFCC is one element of Envoy's x-forwarded-client-cert header: what one
// proxy saw of the client certificate presented to it. Cert and Chain hold
// PEM text, already URL-decoded. Unknown keys are ignored.
type XFCC struct {
	By      string   // URI SAN of the proxy's own certificate
	Hash    string   // hex SHA-256 of the client certificate
	Cert    string   // client certificate, PEM
	Chain   string   // client certificate chain including the leaf, PEM
	Subject string   // subject of the client certificate, as the proxy wrote it
	URI     []string // URI SANs of the client certificate
	DNS     []string // DNS SANs of the client certificate
}

// ParseXFCC parses an x-forwarded-client-cert header value into its elements,
// in header order (the last one was added by the nearest proxy). It only
// parses: believe the result only when the request's peer is a trusted proxy
// that sanitizes or sets the header.
//
// Elements are separated by ',' and key=value pairs by ';'; keys are
// case-insensitive. A value containing ',', ';', '=' or '"' is double-quoted,
// with '"' written as \". Inside quotes \" stands for a quote and any other
// backslash is kept as written, so RFC 4514 escapes in Subject ("\,") survive.
// Spaces and tabs around separators are ignored. By, Hash, Cert, Chain and
// Subject may appear once per element; URI and DNS may repeat.
//
// Parsing is strict: any malformed part, an empty element, or a value that is
// not valid URL encoding in Cert or Chain fails the whole header with a
// *reason.Error of code XFCCMalformed; a value over the bounds has code
// ProxyHeaderTooLarge.
func ParseXFCC(v string) ([]XFCC, error) {
	if len(v) > MaxXFCCBytes {
		return nil, reason.New(reason.ProxyHeaderTooLarge,
			fmt.Sprintf("x-forwarded-client-cert is longer than %d bytes", MaxXFCCBytes))
	}
	p := xfccParser{s: v}
	var out []XFCC
	for {
		if len(out) == MaxXFCCElements {
			return nil, reason.New(reason.ProxyHeaderTooLarge,
				fmt.Sprintf("x-forwarded-client-cert has more than %d elements", MaxXFCCElements))
		}
		el, err := p.element()
		if err != nil {
			return nil, reason.Wrap(reason.XFCCMalformed,
				fmt.Sprintf("x-forwarded-client-cert element %d", len(out)), err)
		}
		out = append(out, el)
		if p.i == len(p.s) {
			return out, nil
		}
		p.i++ // the ',' that ended the element
	}
}

type xfccParser struct {
	s string
	i int
}

// element parses pairs up to the next unquoted ',' or the end.
func (p *xfccParser) element() (XFCC, error) {
	var x XFCC
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if n == MaxXFCCPairs {
			return XFCC{}, fmt.Errorf("more than %d pairs", MaxXFCCPairs)
		}
		key, val, err := p.pair()
		if err != nil {
			return XFCC{}, err
		}
		if err := x.set(key, val, seen); err != nil {
			return XFCC{}, err
		}
		if p.i == len(p.s) || p.s[p.i] == ',' {
			return x, nil
		}
		p.i++ // ';'
	}
}

// pair parses key=value and leaves p.i at ',', ';' or the end.
func (p *xfccParser) pair() (key, val string, err error) {
	p.i = skipOWS(p.s, p.i)
	start := p.i
	for p.i < len(p.s) && isTChar(p.s[p.i]) {
		p.i++
	}
	key = p.s[start:p.i]
	if key == "" {
		return "", "", fmt.Errorf("empty key at offset %d", start)
	}
	if p.i == len(p.s) || p.s[p.i] != '=' {
		return "", "", fmt.Errorf("key %q without '='", key)
	}
	p.i++
	if p.i < len(p.s) && p.s[p.i] == '"' {
		if val, err = p.quoted(); err != nil {
			return "", "", fmt.Errorf("key %q: %w", key, err)
		}
	} else {
		start := p.i
		for p.i < len(p.s) && !strings.ContainsRune(",;\"", rune(p.s[p.i])) {
			p.i++
		}
		val = trimOWS(p.s[start:p.i])
	}
	p.i = skipOWS(p.s, p.i)
	if p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ';' {
		return "", "", fmt.Errorf("key %q: unexpected %q after value", key, p.s[p.i])
	}
	return key, val, nil
}

// quoted reads a double-quoted value starting at the opening quote.
func (p *xfccParser) quoted() (string, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; c {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 == len(p.s) {
				return "", fmt.Errorf("unterminated quoted value")
			}
			p.i++
			if p.s[p.i] != '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.s[p.i])
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated quoted value")
}

// set stores one pair in x.
func (x *XFCC) set(key, val string, seen map[string]bool) error {
	k := strings.ToLower(key)
	switch k {
	case "uri":
		x.URI = append(x.URI, val)
		return nil
	case "dns":
		x.DNS = append(x.DNS, val)
		return nil
	case "by", "hash", "cert", "chain", "subject":
	default:
		return nil // unknown keys are ignored
	}
	if seen[k] {
		return fmt.Errorf("key %q repeated", key)
	}
	seen[k] = true
	switch k {
	case "by":
		x.By = val
	case "hash":
		x.Hash = val
	case "subject":
		x.Subject = val
	default: // cert, chain
		dec, err := url.PathUnescape(val)
		if err != nil {
			return fmt.Errorf("key %q: invalid URL encoding", key)
		}
		if k == "cert" {
			x.Cert = dec
		} else {
			x.Chain = dec
		}
	}
	return nil
}

// Certificate decodes the element's Cert: exactly one PEM CERTIFICATE block.
// An element without Cert gives an error with code XFCCMalformed too; check
// x.Cert first to tell absence apart.
func (x XFCC) Certificate() (*x509.Certificate, error) {
	if x.Cert == "" {
		return nil, reason.New(reason.XFCCMalformed, "x-forwarded-client-cert element has no Cert")
	}
	certs, err := decodePEMCerts(x.Cert, 1)
	if err != nil {
		return nil, reason.Wrap(reason.XFCCMalformed, "x-forwarded-client-cert Cert", err)
	}
	return certs[0], nil
}

// ChainCertificates decodes the element's Chain: one or more PEM CERTIFICATE
// blocks, leaf first, at most 16.
func (x XFCC) ChainCertificates() ([]*x509.Certificate, error) {
	if x.Chain == "" {
		return nil, reason.New(reason.XFCCMalformed, "x-forwarded-client-cert element has no Chain")
	}
	certs, err := decodePEMCerts(x.Chain, maxXFCCCerts)
	if err != nil {
		return nil, reason.Wrap(reason.XFCCMalformed, "x-forwarded-client-cert Chain", err)
	}
	return certs, nil
}

// decodePEMCerts decodes 1..max CERTIFICATE blocks and nothing else.
func decodePEMCerts(s string, maxCerts int) ([]*x509.Certificate, error) {
	rest := []byte(s)
	var certs []*x509.Certificate
	for {
		// pem.Decode skips any text before a block; allow only whitespace.
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		var block *pem.Block
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("text outside PEM blocks")
		}
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("malformed PEM block")
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			return nil, fmt.Errorf("PEM block of type %q with %d headers, want a plain CERTIFICATE", block.Type, len(block.Headers))
		}
		if len(certs) == maxCerts {
			return nil, fmt.Errorf("more than %d certificates", maxCerts)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return certs, nil
}
