package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/proxy"
)

const proxyUsage = `usage: provost proxy [--config FILE] [--data-dir DIR] [--listen ADDR] [--upstream URL] [--pid-file FILE]

Runs a reverse proxy in front of the upstream: every request is judged, only
allowed ones are forwarded, with identity headers (and this proxy's signed hop
attestation when proxy.hop is set). SIGHUP reloads the configuration, the
bindings and the TLS certificate; SIGINT or SIGTERM stop it gracefully. Logs
are JSON lines on standard error. See docs/kubernetes.md.
`

// cmdProxy runs `provost proxy` until ctx ends.
func cmdProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "provost.yaml", "configuration `file`")
	dataDir := fs.String("data-dir", "", "data `directory` (overrides data_dir in the configuration)")
	listen := fs.String("listen", "", "`address` to listen on (overrides proxy.listen; default "+config.DefaultProxyListen+")")
	upstream := fs.String("upstream", "", "upstream `URL` (overrides proxy.upstream)")
	pidFile := fs.String("pid-file", "", "write the process id to `file` while running, for a helper that sends SIGHUP (e.g. spiffe-helper)")
	fs.Usage = func() {
		fmt.Fprint(stderr, proxyUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	cfg, err := config.Load(*cfgFile)
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	if *listen != "" {
		cfg.Proxy.Listen = *listen
	}
	if *upstream != "" {
		cfg.Proxy.Upstream = *upstream
	}
	settings, err := cfg.ProxyConfig()
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	a, err := app.Open(ctx, app.Options{ConfigFile: *cfgFile, DataDir: *dataDir, Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	defer a.Close()
	if _, err := observe(ctx, a, logger); err != nil {
		fmt.Fprintln(stderr, "provost proxy:", err)
		return exitUsage
	}
	if *pidFile != "" {
		if err := os.WriteFile(*pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintln(stderr, "provost proxy:", err)
			return exitUsage
		}
		defer os.Remove(*pidFile)
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
