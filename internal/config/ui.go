package config

import (
	"encoding/hex"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// UI configures the dashboard (docs/dashboard.md): pages under /ui on the
// listener named, behind the admin section's authentication. It is off
// unless Enabled, and read at start: changing it needs a restart.
type UI struct {
	// Enabled turns the dashboard on (default false).
	Enabled bool `yaml:"enabled"`
	// Listener is where /ui is served: serve (default: the check API's
	// listener of `provost serve`) or admin (the admin API's listener).
	Listener string `yaml:"listener"`
}

// UnmarshalYAML reads the ui section strictly, naming the field in every
// error (a bare YAML type error names only the line).
func (u *UI) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: ui must be a mapping such as {enabled: true, listener: serve}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "enabled":
			if v.Kind != yaml.ScalarNode || v.Decode(&u.Enabled) != nil {
				return fmt.Errorf("line %d: ui.enabled must be true or false (got %q)", v.Line, v.Value)
			}
		case "listener":
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: ui.listener must be serve or admin", v.Line)
			}
			u.Listener = v.Value
		default:
			return fmt.Errorf("line %d: field %s not found in ui (it has enabled and listener)", k.Line, k.Value)
		}
	}
	return nil
}

// Listeners of UI.Listener.
const (
	UIListenerServe = "serve"
	UIListenerAdmin = "admin"
)

// On reports whether the dashboard is served on the listener named
// (UIListenerServe or UIListenerAdmin).
func (u *UI) On(listener string) bool {
	if !u.Enabled {
		return false
	}
	l := u.Listener
	if l == "" {
		l = UIListenerServe
	}
	return l == listener
}

// ReadonlyTokenHash returns the decoded ReadonlyTokenSHA256 (nil when
// unset).
func (c *Admin) ReadonlyTokenHash() []byte {
	b, err := hex.DecodeString(c.ReadonlyTokenSHA256)
	if err != nil || len(b) != 32 {
		return nil
	}
	return b
}

// checkReadonly checks the read-only role's credentials: a token hash and
// certificate identities, kept apart from the admin role's.
func (c *Admin) checkReadonly() error {
	if c.ReadonlyTokenSHA256 != "" && c.ReadonlyTokenHash() == nil {
		return bad("admin.readonly_token_sha256", "must be 64 hex digits: the SHA-256 from `provost admin hash-token`, never the token itself")
	}
	if h := c.ReadonlyTokenHash(); h != nil && slices.Equal(h, c.TokenHash()) {
		return bad("admin.readonly_token_sha256", "is the hash of the admin token (admin.token_sha256): give the read-only role a token of its own")
	}
	if len(c.ReadonlyClients) == 0 {
		return nil
	}
	if c.ClientCA == "" {
		return bad("admin.readonly_clients", "names certificate clients, so admin.client_ca is required")
	}
	if len(c.AllowedClients) == 0 {
		return bad("admin.readonly_clients", "needs admin.allowed_clients: without it every certificate admin.client_ca issues is an admin, the read-only ones included")
	}
	for i, id := range c.ReadonlyClients {
		if err := checkAdminClient(id); err != nil {
			return bad(fmt.Sprintf("admin.readonly_clients[%d]", i), "%v", err)
		}
		if slices.Contains(c.AllowedClients, id) {
			return bad(fmt.Sprintf("admin.readonly_clients[%d]", i), "%q is also in admin.allowed_clients: a client has one role", id)
		}
	}
	return nil
}

// checkUI checks the ui section against the sections it depends on.
func (c *Config) checkUI() error {
	u := &c.UI
	switch u.Listener {
	case "", UIListenerServe, UIListenerAdmin:
	default:
		return bad("ui.listener", "must be serve or admin (got %q)", u.Listener)
	}
	if !u.Enabled {
		return nil
	}
	a := &c.Admin
	if a.TokenSHA256 == "" && a.ReadonlyTokenSHA256 == "" && a.ClientCA == "" {
		return bad("ui.enabled", "the dashboard must be authenticated: set admin.token_sha256, admin.readonly_token_sha256 or admin.client_ca")
	}
	if u.On(UIListenerAdmin) {
		if !a.Enabled() {
			return bad("ui.listener", "is admin, but the admin API is off: set admin.listen, or serve the dashboard on the serve listener")
		}
		return nil
	}
	listen := c.Serve.Listen
	if listen == "" {
		listen = DefaultListen
	}
	if loopback, err := adminLoopback(listen); err == nil && !loopback && c.Serve.TLS.Cert == "" {
		return bad("ui.enabled", "the dashboard is on the serve listener %s, which is not a loopback address and has no TLS, so its token and session cookie would cross the network in clear: set serve.tls, or ui.listener: admin", listen)
	}
	return nil
}
