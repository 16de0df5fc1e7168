package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/trail"
)

// Defaults of Options.
const (
	DefaultPoll        = 250 * time.Millisecond
	DefaultIndexPeriod = 2 * time.Second
	// sharedIndexFile is the index of an evidence log shared in
	// PostgreSQL, kept apart from trail.File (which `provost trail`
	// keeps for the data directory's own log).
	sharedIndexFile = "trail-shared.db"
)

// Options configure a Dashboard.
type Options struct {
	// App is the running Provost shown (required): its configuration
	// (the admin and ui sections), stores and policy.
	App *app.App
	// Logger receives operational logs and the audit of revocations;
	// nil discards them.
	Logger *slog.Logger
	// Now is the clock (default time.Now): session expiry, idle
	// credentials.
	Now func() time.Time
	// IndexPath is the investigation index file (default trail.db in
	// the data directory, or trail-shared.db for a log in PostgreSQL).
	IndexPath string
	// Poll is how often the evidence log is looked at for new records
	// (default DefaultPoll); IndexPeriod how often the index is brought
	// up to it in the background (default DefaultIndexPeriod).
	Poll, IndexPeriod time.Duration
}

// Dashboard serves /ui. Run keeps its feed and index in step with the
// evidence log; Handler answers requests.
type Dashboard struct {
	app     *app.App
	log     *slog.Logger
	now     func() time.Time
	auth    *authenticator
	revoker admin.Revoker
	feed    *feed
	index   *indexer
	verify  *verifyJob
	pages   *pages
	logins  *limiter
	streams *streamSlots
	handler http.Handler

	// ctx ends when Run returns or Close is called: live streams and a
	// verification in progress stop with it.
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
}

// New checks that the configuration admits someone, opens the index and
// returns the Dashboard. Call Run to follow the log, Close when done.
func New(o Options) (*Dashboard, error) {
	if o.App == nil || o.App.Config == nil {
		return nil, errors.New("dashboard: Options.App is required")
	}
	d := &Dashboard{app: o.App, log: o.Logger, now: o.Now}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	var err error
	if d.auth, err = newAuthenticator(o.App.Config, o.App.Secret, d.now); err != nil {
		return nil, err
	}
	if d.pages, err = loadPages(); err != nil {
		return nil, err
	}
	path := o.IndexPath
	if path == "" {
		path = indexPath(o.App)
	}
	x, err := trail.Open(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	d.revoker = admin.Revoker{App: o.App, Log: d.log, Now: d.now}
	d.feed = newFeed(o.App.Evidence, orDefault(o.Poll, DefaultPoll), d.log)
	d.index = &indexer{x: x, log: o.App.Evidence, period: orDefault(o.IndexPeriod, DefaultIndexPeriod), logger: d.log}
	if d.index.next, err = x.Next(context.Background()); err != nil {
		x.Close()
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.verify = &verifyJob{}
	d.logins = newLimiter(loginPerMinute, loginBurst, maxLimiterKeys, d.now)
	d.streams = &streamSlots{max: maxStreams}
	d.handler = d.routes()
	return d, nil
}

// indexPath is where the investigation index of a's evidence log lives.
func indexPath(a *app.App) string {
	if _, ok := a.Evidence.(*evidencelog.Log); ok {
		return filepath.Join(a.Layout.Dir, trail.File)
	}
	return filepath.Join(a.Layout.Dir, sharedIndexFile)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Handler answers /ui and everything below it.
func (d *Dashboard) Handler() http.Handler { return d.handler }

// Run follows the evidence log (the feed and the index) until ctx is done
// or Close is called; then it ends every live stream and verification and
// returns.
func (d *Dashboard) Run(ctx context.Context) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.running.Add(1)
	d.mu.Unlock()
	defer d.running.Done()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-d.ctx.Done():
		}
		stop()
		d.cancel()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.feed.run(ctx) }()
	go func() { defer wg.Done(); d.index.run(ctx) }()
	wg.Wait()
}

// Close stops what Run started, waits for it and for a verification in
// progress, and closes the index.
func (d *Dashboard) Close() error {
	d.mu.Lock()
	first := !d.closed
	d.closed = true
	d.mu.Unlock()
	if !first {
		return nil
	}
	d.cancel()
	d.running.Wait()
	d.verify.wait()
	return d.index.x.Close()
}
