package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/workload"
)

// startWorkloadAPI connects to the SPIFFE Workload API of
// trust.workload_api and waits, at most its start_timeout, for the bundles
// of every trust domain it lists: Provost does not start without them. It
// returns nil when the section is not set.
func startWorkloadAPI(ctx context.Context, cfg *config.Config, log *slog.Logger) (*workload.APISource, error) {
	w := cfg.Trust.WorkloadAPI
	if len(w.TrustDomains) == 0 {
		return nil, nil
	}
	src, err := workload.StartAPI(ctx, workload.APIConfig{Address: w.Socket, TrustDomains: w.TrustDomains,
		StartTimeout: w.StartTimeout.D(), MaxStale: w.MaxStale.D(), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("provost: %s: trust.workload_api: %w", cfg.File, err)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "workload API: trust bundles received", slog.String("address", w.Socket),
		slog.Any("trust_domains", w.TrustDomains))
	return src, nil
}

// bundleSource is the Workload API source as the engine takes it: a nil
// interface, not a nil pointer, when there is none.
func (a *App) bundleSource() workload.BundleSource {
	if a.spiffe == nil {
		return nil
	}
	return a.spiffe
}

// Ready reports whether every store a decision needs answers (Data.Ready)
// and, with trust.workload_api, whether its bundles are current: the
// Workload API answers, or stopped answering less than max_stale ago.
func (a *App) Ready(ctx context.Context) error {
	if err := a.Data.Ready(ctx); err != nil {
		return err
	}
	if a.spiffe != nil {
		if err := a.spiffe.Ready(); err != nil {
			return fmt.Errorf("trust.workload_api: %w", err)
		}
	}
	return nil
}
