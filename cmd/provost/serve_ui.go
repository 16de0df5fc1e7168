package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/dashboard"
)

// uiRun is the dashboard `provost serve` runs (nil when ui.enabled is
// false) and the listener it is mounted on.
type uiRun struct {
	d        *dashboard.Dashboard
	listener string
}

// startDashboard opens the dashboard when the configuration enables it
// and follows the evidence log until ctx ends. On the serve listener it
// refuses an address beyond loopback without TLS (--listen can move it
// there after the configuration was checked).
func startDashboard(ctx context.Context, a *app.App, sc config.Serve, logger *slog.Logger) (*uiRun, error) {
	u := a.Config.UI
	if !u.Enabled {
		return nil, nil
	}
	listener := config.UIListenerServe
	if u.On(config.UIListenerAdmin) {
		listener = config.UIListenerAdmin
	}
	if listener == config.UIListenerServe && sc.TLS.Cert == "" && !loopbackListen(sc.Listen) {
		return nil, fmt.Errorf("ui: the dashboard is on the serve listener %s, which is not a loopback address and has no TLS: set serve.tls, listen on loopback, or set ui.listener: admin", sc.Listen)
	}
	d, err := dashboard.New(dashboard.Options{App: a, Logger: logger})
	if err != nil {
		return nil, err
	}
	go d.Run(ctx)
	logger.LogAttrs(ctx, slog.LevelInfo, "dashboard on", slog.String("listener", listener), slog.String("path", dashboard.PathRoot))
	return &uiRun{d: d, listener: listener}, nil
}

// on is the dashboard's handler when it is mounted on listener, else nil.
func (r *uiRun) on(listener string) http.Handler {
	if r == nil || r.listener != listener {
		return nil
	}
	return r.d.Handler()
}

// close stops the dashboard (its streams end) and closes its index.
func (r *uiRun) close() {
	if r != nil {
		r.d.Close()
	}
}

// loopbackListen reports whether a host:port listens on loopback only.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
