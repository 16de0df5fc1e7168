package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/buildinfo"
	"github.com/provost-dev/provost/internal/telemetry"
)

// observe counts and traces every decision of eng, and starts the admin
// API (which serves /metrics) when the configuration enables it. The
// admin server stops when ctx ends.
func observe(ctx context.Context, a *app.App, logger *slog.Logger) (*telemetry.Metrics, error) {
	return observeWith(ctx, a, logger, nil)
}

// observeWith is observe with ui, when not nil, served at /ui on the admin
// listener (ui.listener: admin).
func observeWith(ctx context.Context, a *app.App, logger *slog.Logger, ui http.Handler) (*telemetry.Metrics, error) {
	src := telemetry.AppSources(a)
	src.Build = buildinfo.Read(version, debug.ReadBuildInfo) // provost_build_info says what --version says
	m := telemetry.NewMetrics(src)
	a.Engine.Use(telemetry.Wrap(m, nil))
	if !a.Config.Admin.Enabled() {
		return m, nil
	}
	srv, err := admin.New(admin.Options{App: a, Metrics: m, Logger: logger, Version: version, UI: ui})
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	ln, err := srv.Listen(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "admin listening", slog.String("addr", ln.Addr().String()))
	go func() {
		if err := srv.Serve(ctx, ln); err != nil {
			logger.LogAttrs(ctx, slog.LevelError, "admin API stopped", slog.Any("error", err))
		}
	}()
	return m, nil
}
