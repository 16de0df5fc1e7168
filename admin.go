package provost

import (
	"context"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/revocation"
)

// Revocations returns the Engine's revocation store, for the admin API. A
// revocation added to it is enforced from the next Check on.
func (e *Engine) Revocations() revocation.Store { return e.revoked }

// Config returns the configuration in force (replaced whole by Reload). It
// is shared: callers must not modify it.
func (e *Engine) Config() *config.Config { return e.state.Load().cfg }

// Status describes the configuration in force, for the admin API.
type Status struct {
	ConfigFile     string   `json:"config_file"`
	DataDir        string   `json:"data_dir"`
	BindingsFile   string   `json:"bindings_file"`
	BindingsDigest string   `json:"bindings_digest"`
	Mode           string   `json:"mode"`
	Bindings       int      `json:"bindings"`
	Issuers        []string `json:"issuers"`
	APIKeys        int      `json:"api_keys"`
}

// Status returns a snapshot of the configuration in force.
func (e *Engine) Status() Status {
	st := e.state.Load()
	s := Status{
		ConfigFile:     st.cfg.File,
		DataDir:        e.dataDir,
		BindingsFile:   st.bindings.File,
		BindingsDigest: st.bindings.Digest,
		Mode:           string(st.bindings.Mode),
		Bindings:       len(st.bindings.Bindings),
		Issuers:        make([]string, 0, len(st.cfg.Issuers)),
		APIKeys:        len(st.cfg.APIKeys),
	}
	for _, is := range st.cfg.Issuers {
		s.Issuers = append(s.Issuers, is.Issuer)
	}
	return s
}

// ReplayEntries is the number of entries in the replay cache, or -1 when
// the cache cannot tell.
func (e *Engine) ReplayEntries() int {
	if c, ok := e.replay.(interface{ Len() int }); ok {
		return c.Len()
	}
	return -1
}

// RevocationCount is the number of revocations in force.
func (e *Engine) RevocationCount(ctx context.Context) (int, error) {
	list, err := e.revoked.List(ctx)
	return len(list), err
}
