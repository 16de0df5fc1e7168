package config

import (
	"strings"
	"testing"
	"time"
)

const ssfGood = `version: 1
ssf:
  transmitter:
    issuer: https://provost.acme.test
    key_file: keys/ssf.key.pem
    key_id: provost-ssf-1
    queue_size: 64
    max_attempts: 5
    initial_backoff: 500ms
    max_backoff: 30s
    dead_letter_file: ssf-dead.jsonl
    streams:
      - id: siem
        endpoint: https://siem.acme.test/ssf/events
        audience: https://siem.acme.test
        authorization_file: siem.header
        events_delivered: [credential-change]
        send_reason: true
      - {id: peer, endpoint: "http://127.0.0.1:8080/v1/ssf/events", audience: https://peer.test, authorization_file: peer.header}
  receiver:
    transmitters:
      - issuer: https://idp.acme.test
        audience: https://provost.acme.test
        jwks_file: idp.jwks.json
        algorithms: [ES256, EdDSA]
        authorization_file: idp.header
        accept_kinds: [fingerprint, jti, subject, issuer]
        token_issuers: [https://sts.acme.test]
`

func TestSSFGood(t *testing.T) {
	c, err := Parse("/etc/provost/p.yaml", []byte(ssfGood))
	if err != nil {
		t.Fatal(err)
	}
	tr, rc := c.SSF.Transmitter, c.SSF.Receiver
	if tr == nil || rc == nil {
		t.Fatalf("%+v", c.SSF)
	}
	if tr.Issuer != "https://provost.acme.test" || tr.KeyID != "provost-ssf-1" || tr.QueueSize != 64 || tr.MaxAttempts != 5 ||
		tr.InitialBackoff.D() != 500*time.Millisecond || tr.MaxBackoff.D() != 30*time.Second || len(tr.Streams) != 2 {
		t.Fatalf("%+v", tr)
	}
	if s := tr.Streams[0]; s.ID != "siem" || !s.SendReason || len(s.EventsDelivered) != 1 || s.AuthorizationFile != "siem.header" {
		t.Fatalf("%+v", s)
	}
	if got := c.Resolve(tr.KeyFile); got != "/etc/provost/keys/ssf.key.pem" {
		t.Fatalf("key file resolves to %q", got)
	}
	if r := rc.Transmitters[0]; r.JWKSFile != "idp.jwks.json" || len(r.AcceptKinds) != 4 || r.TokenIssuers[0] != "https://sts.acme.test" {
		t.Fatalf("%+v", r)
	}
	if c, err := Parse("p.yaml", []byte("version: 1\n")); err != nil || c.SSF.Transmitter != nil || c.SSF.Receiver != nil {
		t.Fatalf("no ssf section: %+v %v", c, err)
	}
}

func TestSSFBad(t *testing.T) {
	const tx = "ssf:\n  transmitter:\n    issuer: https://p.test\n    key_file: k.pem\n    key_id: k1\n"
	const stream = "    streams:\n      - {id: s1, endpoint: \"https://r.test/e\", audience: https://r.test, authorization_file: a.h}\n"
	const rx = "ssf:\n  receiver:\n    transmitters:\n"
	const trusted = "      - {issuer: https://i.test, audience: https://p.test, jwks_file: i.json, authorization_file: i.h}\n"
	cases := []struct{ name, doc, want string }{
		{"no issuer", "ssf:\n  transmitter: {key_file: k.pem, key_id: k1}\n", "ssf.transmitter.issuer: is required"},
		{"no key file", "ssf:\n  transmitter: {issuer: https://p.test, key_id: k1}\n", "ssf.transmitter.key_file: is required"},
		{"no key id", "ssf:\n  transmitter: {issuer: https://p.test, key_file: k.pem}\n", "ssf.transmitter.key_id: is required"},
		{"no streams", tx, "ssf.transmitter.streams: needs at least one stream"},
		{"bad stream id", tx + "    streams:\n      - {id: \"a b\", endpoint: \"https://r.test/e\", audience: x, authorization_file: a.h}\n",
			"ssf.transmitter.streams[0].id: must be 1 to 64"},
		{"stream twice", tx + stream + "      - {id: s1, endpoint: \"https://r2.test/e\", audience: y, authorization_file: b.h}\n",
			`ssf.transmitter.streams[1].id: stream "s1" is configured twice`},
		{"http endpoint", tx + "    streams:\n      - {id: s1, endpoint: \"http://r.test/e\", audience: x, authorization_file: a.h}\n",
			"ssf.transmitter.streams[0].endpoint: \"http://r.test/e\" must use https (http only to a loopback address)"},
		{"credentials in endpoint", tx + "    streams:\n      - {id: s1, endpoint: \"https://u:p@r.test/e\", audience: x, authorization_file: a.h}\n",
			"ssf.transmitter.streams[0].endpoint: must not carry credentials"},
		{"relative endpoint", tx + "    streams:\n      - {id: s1, endpoint: /e, audience: x, authorization_file: a.h}\n",
			"ssf.transmitter.streams[0].endpoint: \"/e\" is not an absolute URL"},
		{"no audience", tx + "    streams:\n      - {id: s1, endpoint: \"https://r.test/e\", authorization_file: a.h}\n",
			"ssf.transmitter.streams[0].audience: is required"},
		{"no authorization file", tx + "    streams:\n      - {id: s1, endpoint: \"https://r.test/e\", audience: x}\n",
			"ssf.transmitter.streams[0].authorization_file: is required"},
		{"unknown event", tx + "    streams:\n      - {id: s1, endpoint: \"https://r.test/e\", audience: x, authorization_file: a.h, events_delivered: [token-claims-change]}\n",
			"ssf.transmitter.streams[0].events_delivered[0]"},
		{"backoffs", tx + stream + "    initial_backoff: 1m\n    max_backoff: 1s\n", "ssf.transmitter.max_backoff"},
		{"negative queue", tx + stream + "    queue_size: -1\n", "ssf.transmitter.queue_size"},
		{"unknown transmitter field", tx + stream + "    authorization_header_file: x\n", "field authorization_header_file not found"},
		{"no transmitters", "ssf:\n  receiver: {}\n", "ssf.receiver.transmitters: needs at least one transmitter"},
		{"trusted twice", rx + trusted + trusted, `ssf.receiver.transmitters[1].issuer: transmitter "https://i.test" is configured twice`},
		{"no jwks file", rx + "      - {issuer: https://i.test, audience: a, authorization_file: i.h}\n", "ssf.receiver.transmitters[0].jwks_file: is required"},
		{"no trusted audience", rx + "      - {issuer: https://i.test, jwks_file: i.json, authorization_file: i.h}\n", "ssf.receiver.transmitters[0].audience: is required"},
		{"no trusted authorization", rx + "      - {issuer: https://i.test, audience: a, jwks_file: i.json}\n", "ssf.receiver.transmitters[0].authorization_file: is required"},
		{"HS256", rx + "      - {issuer: https://i.test, audience: a, jwks_file: i.json, authorization_file: i.h, algorithms: [HS256]}\n",
			`ssf.receiver.transmitters[0].algorithms[0]: "HS256" is not accepted`},
		{"binding kind", rx + "      - {issuer: https://i.test, audience: a, jwks_file: i.json, authorization_file: i.h, accept_kinds: [binding]}\n",
			`ssf.receiver.transmitters[0].accept_kinds[0]: "binding" is not a kind SSF can carry`},
		{"unknown section field", "ssf:\n  poll: {}\n", "field poll not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("version: 1\n"+c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}
