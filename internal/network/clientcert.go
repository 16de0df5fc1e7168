package network

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/provost-dev/provost/reason"
)

// Bounds on RFC 9440 header values.
const (
	// MaxClientCertBytes bounds a Client-Cert value.
	MaxClientCertBytes = 16 << 10
	// MaxClientCertChainBytes bounds a Client-Cert-Chain value.
	MaxClientCertChainBytes = 64 << 10
	// MaxClientCertChainLen bounds the certificates in a Client-Cert-Chain value.
	MaxClientCertChainLen = 16
)

// ParseClientCert parses an RFC 9440 Client-Cert header value: the DER
// certificate as a structured-field byte sequence (RFC 8941 section 3.3.5),
// ":" base64 ":". Surrounding spaces are ignored; base64 "=" padding may be
// left out, as RFC 8941 asks parsers to allow; parameters after the item are
// not accepted. It only parses: believe the result only when the request's
// peer is a trusted proxy that sanitizes the header (RFC 9440 section 4).
// Errors are *reason.Error with code ClientCertMalformed, or
// ProxyHeaderTooLarge over MaxClientCertBytes.
func ParseClientCert(v string) (*x509.Certificate, error) {
	if len(v) > MaxClientCertBytes {
		return nil, reason.New(reason.ProxyHeaderTooLarge,
			fmt.Sprintf("Client-Cert is longer than %d bytes", MaxClientCertBytes))
	}
	c, err := parseSFCert(trimOWS(v))
	if err != nil {
		return nil, reason.Wrap(reason.ClientCertMalformed, "Client-Cert", err)
	}
	return c, nil
}

// ParseClientCertChain parses an RFC 9440 Client-Cert-Chain header value: a
// structured-field list of byte sequences, each a DER certificate, in the
// order the client sent them (the certificate signing Client-Cert first). An
// empty value is an error, as are more than MaxClientCertChainLen members.
// Pass all header lines joined with ", ".
func ParseClientCertChain(v string) ([]*x509.Certificate, error) {
	if len(v) > MaxClientCertChainBytes {
		return nil, reason.New(reason.ProxyHeaderTooLarge,
			fmt.Sprintf("Client-Cert-Chain is longer than %d bytes", MaxClientCertChainBytes))
	}
	if trimOWS(v) == "" {
		return nil, reason.New(reason.ClientCertMalformed, "Client-Cert-Chain is empty")
	}
	var certs []*x509.Certificate
	for member := range strings.SplitSeq(v, ",") {
		if len(certs) == MaxClientCertChainLen {
			return nil, reason.New(reason.ProxyHeaderTooLarge,
				fmt.Sprintf("Client-Cert-Chain has more than %d certificates", MaxClientCertChainLen))
		}
		c, err := parseSFCert(trimOWS(member))
		if err != nil {
			return nil, reason.Wrap(reason.ClientCertMalformed,
				fmt.Sprintf("Client-Cert-Chain member %d", len(certs)), err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// parseSFCert decodes one ":base64:" byte sequence into a certificate. The
// base64 alphabet has no ',' so splitting a list on ',' first is exact.
func parseSFCert(s string) (*x509.Certificate, error) {
	if len(s) < 2 || s[0] != ':' || s[len(s)-1] != ':' {
		return nil, fmt.Errorf("not a structured-field byte sequence (:base64:)")
	}
	b64 := s[1 : len(s)-1]
	if strings.ContainsAny(b64, ":;\r\n") {
		return nil, fmt.Errorf("not a single byte sequence without parameters")
	}
	// RFC 8941 section 4.2.7: do not fail on missing padding or non-zero pad bits.
	der, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	if len(der) == 0 {
		return nil, fmt.Errorf("empty byte sequence")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("invalid certificate: %w", err)
	}
	return c, nil
}
