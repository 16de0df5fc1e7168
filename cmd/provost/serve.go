package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/extauthz"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/server"
)

// defaultConfigFile is where `provost serve` looks when --config is not given.
const defaultConfigFile = "provost.yaml"

// defaultDataDir is the data directory of the embedded default.
const defaultDataDir = "provost-data"

// embeddedDefault is the configuration `provost serve` runs on when there is
// no configuration file: no issuers and no bindings, so every credential is
// rejected until one is configured. It is written to the data directory so
// the Engine (and a reload) reads it like any other file. Its data_dir is
// the absolute path of that directory, so a copy of the file (as its
// comment says to make) keeps the same data directory: the same server
// secret, evidence log and revocations.
func embeddedDefault(path, dataDir string) string {
	return fmt.Sprintf(`# Written by 'provost serve' because it found no provost.yaml.
# This is the embedded default: no issuers are configured, so every
# credential is rejected. To make it yours, copy it as it is:
#   cp %s provost.yaml
# add your issuers and bindings (see the README), and run:
#   provost serve --config provost.yaml
# data_dir is absolute, so the copy keeps this data directory: its server
# secret (every fingerprint), evidence log and revocations.
version: 1
data_dir: %s
`, demo.ShellQuote(path), strconv.Quote(dataDir))
}

// defaultFileName is the embedded default's name inside the data directory.
const defaultFileName = "provost.default.yaml"

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags, o := serveFlags() // serve_flags.go
	if code := parseArgs(flags, args, stdout, stderr); code >= 0 {
		return code
	}
	if flags.NArg() != 0 {
		fmt.Fprintf(stderr, "provost serve: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()
		return exitUsage
	}
	logger := newLogger(stderr, o.logFormat, o.debug) // telemetry.go
	given := flagGiven(flags, "config")

	path, dir, err := configPath(o.config, given, o.dataDir, logger)
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	cfg, err := config.Load(path)
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	sc := cfg.ServeConfig()
	if o.listen != "" {
		sc.Listen = o.listen
	}
	dataPath := dir
	if dataPath == "" {
		dataPath = cfg.DataDirPath()
	}
	if err := guardNewDataDir(dataPath, path, o.newDataDir); err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	export, stopExport, err := startExport(ctx, logger) // telemetry.go: OTEL_* variables
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	defer stopExport()
	a, err := app.Open(ctx, app.Options{ConfigFile: path, DataDir: dir, Logger: logger,
		TracerProvider: export.TracerProvider(), MeterProvider: export.MeterProvider()})
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	defer a.Close()
	ui, err := startDashboard(ctx, a, sc, logger) // serve_ui.go
	if err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	defer ui.close()
	if _, err := observeWith(ctx, a, logger, ui.on(config.UIListenerAdmin)); err != nil {
		logger.Error("cannot start", "error", err)
		return exitUsage
	}
	var certs []certReloader
	if cfg.GRPC.Listen != "" {
		gl, err := extauthz.Listen(ctx, a.Engine, cfg, logger)
		if err != nil {
			logger.Error("cannot start ext_authz", "error", err)
			return exitFail
		}
		certs = append(certs, certReloader{"grpc.tls", gl.ReloadCertificate})
		logger.Info("ext_authz listening", "addr", gl.Addr().String())
		go func() {
			if err := gl.Serve(ctx); err != nil {
				logger.Error("ext_authz stopped", "error", err)
			}
		}()
	}
	if o.pidFile != "" {
		remove, err := writePIDFile(o.pidFile)
		if err != nil {
			logger.Error("cannot start", "error", err)
			return exitUsage
		}
		defer remove()
	}
	return serve(ctx, a, sc, path, logger, ui.on(config.UIListenerServe), certs...)
}

// certReloader re-reads the certificate and key of a TLS listener (the
// setting named), keeping the old pair when the new one fails to load.
type certReloader struct {
	name   string
	reload func() error
}

// serve listens, answers until ctx is done, and reloads on SIGHUP, with the
// certificates of its own listener and of certs. ui, when not nil, answers
// /ui (the dashboard).
func serve(ctx context.Context, a *app.App, sc config.Serve, path string, logger *slog.Logger, ui http.Handler, certs ...certReloader) int {
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		logger.Error("cannot listen", "addr", sc.Listen, "error", err)
		return exitFail
	}
	tlsOn := sc.TLS.Cert != ""
	logger.Info("listening", "addr", ln.Addr().String(), "tls", tlsOn, "client_auth", sc.TLS.ClientAuth,
		"config", path, "bindings_digest", a.Policy().Digest())
	if !tlsOn && !loopback(ln.Addr()) {
		logger.Warn("listening beyond loopback without TLS: credentials cross the network in clear; set serve.tls", "addr", ln.Addr().String())
	}
	deps := server.ForApp(a)
	deps.UI = ui
	srv := server.New(deps, sc, logger)
	certs = append(certs, certReloader{"serve.tls", srv.ReloadCertificate})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				reload(ctx, a, logger, certs...)
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := srv.Serve(ctx, ln); err != nil {
		logger.Error("server stopped", "error", err)
		return exitFail
	}
	logger.Info("stopped")
	return exitOK
}

// reload is what SIGHUP does: reload the configuration and bindings
// atomically (on failure the old configuration keeps serving), and re-read
// the TLS certificates and keys of certs (a pair that fails to load leaves
// the old one serving). Other settings of the listeners (serve:, grpc:)
// take effect on restart only. It returns the errors joined.
func reload(ctx context.Context, a *app.App, logger *slog.Logger, certs ...certReloader) error {
	var errs []error
	if err := a.Reload(ctx); err != nil {
		logger.Error("reload failed; the previous configuration keeps serving", "error", err)
		errs = append(errs, err)
	} else if pending := a.PendingRestart(); len(pending) > 0 {
		// a.Reload has warned, naming each setting: not "succeeded".
		logger.Warn("reload incomplete: the policy is in force, but changed settings wait for a restart",
			"restart_required", pending, "bindings_digest", a.Policy().Digest())
	} else {
		logger.Info("reload succeeded", "bindings_digest", a.Policy().Digest())
	}
	for _, c := range certs {
		if err := c.reload(); err != nil {
			logger.Error("certificate reload failed; the previous certificate keeps serving", "setting", c.name, "error", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// configPath picks the configuration file and the data directory override.
// Without --config and without ./provost.yaml it runs on the embedded
// default, written once to the data directory.
func configPath(file string, given bool, dataDir string, logger *slog.Logger) (path, dir string, err error) {
	if given {
		return file, dataDir, nil
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		return file, dataDir, nil // present, or unreadable: config.Load says why
	}
	if dataDir == "" {
		dataDir = defaultDataDir
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", "", fmt.Errorf("data directory: %w", err)
	}
	path = filepath.Join(dataDir, defaultFileName)
	absDir, err := filepath.Abs(dataDir)
	if err != nil {
		return "", "", fmt.Errorf("data directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, werr := io.WriteString(f, embeddedDefault(filepath.Join(absDir, defaultFileName), absDir))
		if err := errors.Join(werr, f.Close()); err != nil {
			os.Remove(path)
			return "", "", fmt.Errorf("writing the embedded default: %w", err)
		}
		logger.Info("no provost.yaml: wrote the embedded default configuration; every credential is rejected until issuers are configured",
			"config", path, "make_it_yours", "cp "+demo.ShellQuote(filepath.Join(absDir, defaultFileName))+" provost.yaml")
	case errors.Is(err, fs.ErrExist):
		logger.Info("no provost.yaml: using the default configuration in the data directory", "config", path)
	default:
		return "", "", fmt.Errorf("writing the embedded default: %w", err)
	}
	return path, dataDir, nil
}

func loopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}
