package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/proxy"
)

// cmdProxy runs `provost proxy` until ctx ends.
func cmdProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := proxyFlags() // serve_flags.go
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "provost proxy: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	if o.listen != "" {
		cfg.Proxy.Listen = o.listen
	}
	if o.upstream != "" {
		cfg.Proxy.Upstream = o.upstream
	}
	settings, err := cfg.ProxyConfig()
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	logger := newLogger(stderr, o.logFormat, o.debug)   // telemetry.go
	export, stopExport, err := startExport(ctx, logger) // telemetry.go: OTEL_* variables
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	defer stopExport()
	a, err := app.Open(ctx, app.Options{ConfigFile: o.config, DataDir: o.dataDir, Logger: logger,
		TracerProvider: export.TracerProvider(), MeterProvider: export.MeterProvider()})
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	defer a.Close()
	if _, err := observe(ctx, a, logger); err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	if o.pidFile != "" {
		remove, err := writePIDFile(o.pidFile)
		if err != nil {
			fmt.Fprintln(stderr, "provost proxy:", err)
			return exitUsage
		}
		defer remove()
	}
	return runProxy(ctx, a, settings, logger, stderr)
}

func runProxy(ctx context.Context, a *app.App, settings config.Proxy, logger *slog.Logger, stderr io.Writer) int {
	p, err := proxy.New(a.Engine, settings, logger)
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	defer p.Close()
	srv, err := proxy.NewServer(settings, p, logger)
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	// Take SIGHUP before listening, so a reload signal sent once the
	// proxy is up never kills the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ln, err := srv.Listen()
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitFail
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.LogAttrs(ctx, slog.LevelInfo, "proxy listening",
		slog.String("addr", ln.Addr().String()), slog.String("upstream", settings.Upstream),
		slog.Bool("tls", srv.TLS()), slog.String("client_auth", settings.TLS.ClientAuth),
		slog.String("hop", settings.Hop.Name), slog.String("bindings_digest", a.Policy().Digest()))
	for {
		select {
		case <-hup:
			proxyReload(ctx, a, srv, logger)
		case err := <-served:
			logger.LogAttrs(ctx, slog.LevelError, "proxy stopped", slog.Any("error", err))
			return exitFail
		case <-ctx.Done():
			return proxyShutdown(srv, served, settings, logger)
		}
	}
}

// proxyReload swaps in the new configuration and certificate; each keeps
// the old one when the new one fails to load.
func proxyReload(ctx context.Context, a *app.App, srv *proxy.Server, logger *slog.Logger) {
	if err := a.Reload(ctx); err != nil {
		logger.LogAttrs(ctx, slog.LevelError, "reload failed", slog.Any("error", err))
	}
	if err := srv.ReloadCertificate(); err != nil {
		logger.LogAttrs(ctx, slog.LevelError, "certificate reload failed, keeping the previous one", slog.Any("error", err))
	}
}

// proxyShutdown lets in-flight requests finish, up to the shutdown timeout.
func proxyShutdown(srv *proxy.Server, served <-chan error, settings config.Proxy, logger *slog.Logger) int {
	ctx, cancel := context.WithTimeout(context.Background(), settings.Timeouts.Shutdown.D())
	defer cancel()
	logger.LogAttrs(ctx, slog.LevelInfo, "proxy shutting down")
	if err := srv.Shutdown(ctx); err != nil {
		logger.LogAttrs(ctx, slog.LevelError, "shutdown did not finish in-flight requests", slog.Any("error", err))
		return exitFail
	}
	if err := <-served; err != nil {
		logger.LogAttrs(ctx, slog.LevelError, "proxy stopped", slog.Any("error", err))
		return exitFail
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "proxy stopped")
	return exitOK
}
