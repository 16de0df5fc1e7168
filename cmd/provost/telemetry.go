package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/provost-dev/provost/internal/buildinfo"
	"github.com/provost-dev/provost/internal/telemetry"
)

// The logs and OpenTelemetry export of the long-running commands, serve
// and proxy (docs/observability.md).

// logFormatValue is --log-format: json (the default) or text.
type logFormatValue struct{ f *telemetry.LogFormat }

func (v logFormatValue) String() string {
	if v.f == nil {
		return ""
	}
	return string(*v.f)
}

func (v logFormatValue) Set(s string) error {
	f, err := telemetry.ParseLogFormat(s)
	if err != nil {
		return err
	}
	*v.f = f
	return nil
}

// logFormatFlag defines --log-format on fs.
func logFormatFlag(fs *flag.FlagSet, p *telemetry.LogFormat) {
	*p = telemetry.LogJSON
	fs.Var(logFormatValue{p}, "log-format", "`format` of the logs on standard error: json or text")
}

// newLogger is the logger of serve and proxy: the redacting logger of
// package telemetry (request ids, secret-named attributes redacted) in
// format, at debug level when debug is set.
func newLogger(w io.Writer, format telemetry.LogFormat, debug bool) *slog.Logger {
	return telemetry.NewLoggerFormat(w, format, logLevel(debug))
}

// exportFlushTimeout bounds the flush of the OpenTelemetry export on exit.
const exportFlushTimeout = 5 * time.Second

// startExport starts the OpenTelemetry export the OTEL_* environment
// variables ask for (none without them). stop flushes and stops it; call
// it when the command ends. While the export runs, its errors (a
// collector that does not answer) are logged at warn.
func startExport(ctx context.Context, logger *slog.Logger) (x *telemetry.Export, stop func(), err error) {
	x, err = telemetry.StartExport(ctx, buildinfo.Read(version, debug.ReadBuildInfo).Version)
	if err != nil {
		return nil, nil, err
	}
	traces, metrics := x.Enabled()
	if !traces && !metrics {
		return x, func() {}, nil
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.LogAttrs(context.Background(), slog.LevelWarn, "OpenTelemetry export failed", slog.Any("error", err))
	}))
	logger.LogAttrs(ctx, slog.LevelInfo, "OpenTelemetry export on", slog.Bool("traces", traces), slog.Bool("metrics", metrics))
	return x, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportFlushTimeout)
		defer cancel()
		if err := x.Shutdown(ctx); err != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "OpenTelemetry export: not everything was sent", slog.Any("error", err))
		}
	}, nil
}
