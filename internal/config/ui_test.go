package config

import (
	"strings"
	"testing"
)

const readonlyHash = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

func TestUIGood(t *testing.T) {
	cases := []struct {
		name, doc        string
		serve, admin     bool
		readonlyTokenSet bool
	}{
		{"off by default", "", false, false, false},
		{"on, serve listener by default", "admin:\n  token_sha256: " + adminHash + "\nui: {enabled: true}\n", true, false, false},
		{"read-only token only", "admin:\n  readonly_token_sha256: " + readonlyHash + "\nui: {enabled: true, listener: serve}\n", true, false, true},
		{"admin listener", "admin:\n  listen: 127.0.0.1:9443\n  token_sha256: " + adminHash + "\nui: {enabled: true, listener: admin}\n", false, true, false},
		{"certificates with roles", "admin:\n  tls: {cert: a, key: b}\n  client_ca: ca.pem\n  allowed_clients: [CN=ops]\n  readonly_clients: [spiffe://acme.test/auditor, auditor]\nui: {enabled: true}\n", true, false, false},
		{"serve beyond loopback with TLS", "serve:\n  listen: 0.0.0.0:8443\n  tls: {cert: s.crt, key: s.key}\nadmin:\n  token_sha256: " + adminHash + "\nui: {enabled: true}\n", true, false, false},
		{"off, listener named", "ui: {listener: admin}\n", false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("p.yaml", []byte("version: 1\n"+tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if c.UI.On(UIListenerServe) != tc.serve || c.UI.On(UIListenerAdmin) != tc.admin {
				t.Errorf("On(serve)=%v On(admin)=%v", c.UI.On(UIListenerServe), c.UI.On(UIListenerAdmin))
			}
			if (c.Admin.ReadonlyTokenHash() != nil) != tc.readonlyTokenSet {
				t.Errorf("ReadonlyTokenHash = %x", c.Admin.ReadonlyTokenHash())
			}
		})
	}
}

func TestUIBad(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"enabled without authentication", "ui: {enabled: true}\n", "p.yaml:2: ui.enabled: the dashboard must be authenticated"},
		{"unknown listener", "ui: {listener: grpc}\n", `ui.listener: must be serve or admin (got "grpc")`},
		{"admin listener off", "admin:\n  token_sha256: " + adminHash + "\nui: {enabled: true, listener: admin}\n", "ui.listener: is admin, but the admin API is off"},
		{"serve beyond loopback in clear", "serve: {listen: \"0.0.0.0:8080\"}\nadmin:\n  token_sha256: " + adminHash + "\nui: {enabled: true}\n",
			"ui.enabled: the dashboard is on the serve listener 0.0.0.0:8080, which is not a loopback address and has no TLS"},
		{"raw read-only token", "admin:\n  readonly_token_sha256: s3cret\n", "admin.readonly_token_sha256: must be 64 hex digits"},
		{"read-only token is the admin one", "admin:\n  token_sha256: " + adminHash + "\n  readonly_token_sha256: " + strings.ToUpper(adminHash) + "\n",
			"admin.readonly_token_sha256: is the hash of the admin token"},
		{"read-only clients without CA", "admin:\n  readonly_clients: [CN=x]\n", "admin.readonly_clients: names certificate clients, so admin.client_ca is required"},
		{"read-only clients without allowed clients", "admin:\n  tls: {cert: a, key: b}\n  client_ca: c\n  readonly_clients: [auditor]\n",
			"admin.readonly_clients: needs admin.allowed_clients"},
		{"a client in both roles", "admin:\n  tls: {cert: a, key: b}\n  client_ca: c\n  allowed_clients: [ops, auditor]\n  readonly_clients: [auditor]\n",
			`admin.readonly_clients[0]: "auditor" is also in admin.allowed_clients`},
		{"bad read-only SPIFFE ID", "admin:\n  tls: {cert: a, key: b}\n  client_ca: c\n  allowed_clients: [ops]\n  readonly_clients: [x, \"spiffe://\"]\n",
			`admin.readonly_clients[1]: "spiffe://" is not a SPIFFE ID`},
		{"unknown field", "ui: {enabled: true, port: 1}\n", "line 2: field port not found in ui"},
		{"not a bool", "ui: {enabled: maybe}\n", `p.yaml: line 2: ui.enabled must be true or false (got "maybe")`},
		{"not a mapping", "ui: true\n", "line 2: ui must be a mapping"},
		{"listener not a string", "ui: {listener: [serve]}\n", "ui.listener must be serve or admin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("version: 1\n"+tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error repeats the token: %v", err)
			}
		})
	}
}
