package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/telemetry"
)

// The flags of the two long-running commands, serve and proxy, which share
// --config, --data-dir, --listen, --pid-file and --debug.

// serveOptions are provost serve's flags.
type serveOptions struct {
	config, dataDir, listen, pidFile string
	debug, newDataDir                bool
	logFormat                        telemetry.LogFormat
}

func serveFlags() (*flag.FlagSet, *serveOptions) {
	fs := newFlagSet("serve")
	o := &serveOptions{}
	configFlag(fs, &o.config, " (without it and without provost.yaml, the embedded default)")
	dataDirFlag(fs, &o.dataDir)
	fs.StringVar(&o.listen, "listen", "", "`address` to listen on, host:port (overrides serve.listen; default "+config.DefaultListen+")")
	pidFileFlag(fs, &o.pidFile)
	debugFlag(fs, &o.debug, "every request, health probes included")
	logFormatFlag(fs, &o.logFormat) // telemetry.go
	fs.BoolVar(&o.newDataDir, "new-data-dir", false, "start a new data directory (new server secret) even though another data directory is next to it")
	return fs, o
}

// proxyOptions are provost proxy's flags.
type proxyOptions struct {
	config, dataDir, listen, upstream, pidFile string
	debug                                      bool
	logFormat                                  telemetry.LogFormat
}

func proxyFlags() (*flag.FlagSet, *proxyOptions) {
	fs := newFlagSet("proxy")
	o := &proxyOptions{}
	configFlag(fs, &o.config, "")
	dataDirFlag(fs, &o.dataDir)
	fs.StringVar(&o.listen, "listen", "", "`address` to listen on, host:port (overrides proxy.listen; default "+config.DefaultProxyListen+")")
	fs.StringVar(&o.upstream, "upstream", "", "upstream `URL` (overrides proxy.upstream)")
	pidFileFlag(fs, &o.pidFile)
	debugFlag(fs, &o.debug, "the engine's debug lines too (SSF deliveries)")
	logFormatFlag(fs, &o.logFormat) // telemetry.go
	return fs, o
}

// logLevel is the level of the logs --debug asks for.
func logLevel(debug bool) slog.Level {
	if debug {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// writePIDFile writes the process id to path (--pid-file); remove deletes
// the file, for when the process stops.
func writePIDFile(path string) (remove func(), err error) {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("--pid-file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}
