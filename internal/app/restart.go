package app

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/provost-dev/provost/internal/config"
)

// applied are the settings a reload puts in force: the policy (issuers,
// trust, bindings, tokens, dpop, ...), which a reload swaps in whole.
// Every other setting is read once at start: the listeners (their
// addresses, TLS files, limits and timeouts), the stores and the data
// directory, SSF, and any section added later, until it says otherwise.
var applied = []string{"version", "external_origins", "issuers", "api_keys", "tokens", "dpop", "bindings",
	"bindings_max_bytes", "trust", "evidence.redact_query_params"}

// RestartChanges names every setting a reload cannot apply (a field path
// such as admin.listen) whose value differs between old and cur.
func RestartChanges(old, cur *config.Config) []string {
	var out []string
	diff("", reflect.ValueOf(old).Elem(), reflect.ValueOf(cur).Elem(), &out)
	return out
}

// diff appends path, or the paths of its changed fields, when a and b differ.
func diff(path string, a, b reflect.Value, out *[]string) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, path)
			}
			return
		}
		diff(path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			p := tag
			if path != "" {
				p = path + "." + tag
			}
			if !slices.Contains(applied, p) {
				diff(p, a.Field(i), b.Field(i), out)
			}
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) && !slices.Contains(*out, path) {
			*out = append(*out, path)
		}
	}
}

// notePending compares the configuration file as it is now with the one
// loaded at start and warns, naming each field, when a restart-only
// setting changed: the reload did not apply it. Called under reloadMu
// after a successful reload.
func (a *App) notePending(ctx context.Context) {
	cur, err := config.Load(a.ConfigFile)
	if err != nil {
		a.pending = []string{"(the configuration file could not be read again: " + err.Error() + ")"}
	} else {
		a.pending = RestartChanges(a.Config, cur)
	}
	if len(a.pending) > 0 {
		a.log.LogAttrs(ctx, slog.LevelWarn, "reload could not apply every change: these settings take effect only when Provost restarts; restart it to apply them",
			slog.Any("restart_required", a.pending))
	}
}

// PendingRestart names the restart-only settings that differ, as of the
// last successful reload, from the configuration Provost started with
// (empty when none): a reload applied the policy but not them.
func (a *App) PendingRestart() []string {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	return slices.Clone(a.pending)
}
