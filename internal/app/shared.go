package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/pgdb"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/smallfile"
)

// Reconcile is how often a replica reloads the shared revocations even
// when no notification came, so a missed one heals.
const Reconcile = 30 * time.Second

// openShared opens the shared backends the storage section names: the
// revocations in PostgreSQL (followed through LISTEN/NOTIFY) and, with
// storage.postgres.evidence_key_file, the evidence log there too; the
// replay cache and origin history in Redis. Stores it does not open stay
// nil (the embedded ones are opened instead).
func (d *Data) openShared(ctx context.Context, o DataOptions, now func() time.Time) error {
	s := o.Storage
	if s.Postgres.DSN != "" {
		if err := d.openPostgres(ctx, s.Postgres, o, now); err != nil {
			return err
		}
	}
	if s.Redis.Addr != "" {
		if err := d.openRedis(ctx, s.Redis, o.Resolve); err != nil {
			return err
		}
	}
	return nil
}

func (d *Data) openPostgres(ctx context.Context, c config.Postgres, o DataOptions, now func() time.Time) error {
	log := o.Logger
	if c.EvidenceKeyFile != "" && o.AsyncEvidence {
		return errors.New("provost: evidence.mode async: the evidence log in PostgreSQL is always durable; remove evidence.mode or set it to durable")
	}
	maxConns := c.MaxConns
	if maxConns == 0 {
		maxConns = config.DefaultPostgresMaxConns
	}
	timeout := c.ConnectTimeout.D()
	if timeout == 0 {
		timeout = config.DefaultPostgresConnectTimeout
	}
	pool, err := pgdb.Open(ctx, pgdb.Config{DSN: c.DSN, MaxConns: int32(maxConns), ConnectTimeout: timeout})
	if err != nil {
		return fmt.Errorf("provost: storage.postgres: %w", err)
	}
	d.closers = append(d.closers, func() error { pool.Close(); return nil })
	d.pg = pool
	rev, err := revocation.OpenPostgres(ctx, pool, now)
	if err != nil {
		return fmt.Errorf("provost: storage.postgres: revocations: %w", err)
	}
	d.Revocations = rev
	if c.EvidenceKeyFile != "" {
		resolve := o.Resolve
		if resolve == nil {
			resolve = func(p string) string { return p }
		}
		// Readiness: the pool's ping below covers the log, which has no
		// connection of its own.
		ev, err := evidencelog.OpenPostgres(ctx, pool, evidencelog.PostgresOptions{KeyFile: resolve(c.EvidenceKeyFile),
			CheckpointInterval: c.EvidenceCheckpointInterval.D()})
		if err != nil {
			return fmt.Errorf("provost: storage.postgres: evidence log: %w", err)
		}
		d.Evidence = ev
	}
	fctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rev.Follow(fctx, Reconcile, func(err error) {
			if log != nil {
				log.LogAttrs(fctx, slog.LevelError, "following the shared revocations", slog.Any("error", err))
			}
		})
	}()
	d.closers = append(d.closers, func() error { stop(); <-done; return nil })
	d.checks = append(d.checks, backendCheck{"postgresql", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := pool.Ping(ctx); err != nil {
			return errors.New("postgresql is not answering")
		}
		return nil
	}})
	return nil
}

func (d *Data) openRedis(ctx context.Context, c config.Redis, resolve func(string) string) error {
	if resolve == nil {
		resolve = func(p string) string { return p }
	}
	// No retries: a command that fails is a denial now (fail closed), not
	// a request held for several attempts while Redis is down.
	opts := &redis.Options{Addr: c.Addr, DB: c.DB, Username: c.Username, PoolSize: c.PoolSize, ContextTimeoutEnabled: true, MaxRetries: -1}
	timeout := c.Timeout.D()
	if timeout == 0 {
		timeout = config.DefaultRedisTimeout
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeout, timeout, timeout
	if c.PasswordFile != "" {
		pw, err := smallfile.Read(resolve(c.PasswordFile), 4<<10)
		if err != nil {
			return fmt.Errorf("provost: storage.redis.password_file: %w", err)
		}
		opts.Password = strings.TrimRight(string(pw), "\r\n")
	}
	if c.TLS.Enabled {
		host, _, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return fmt.Errorf("provost: storage.redis.addr %q is not host:port: %w", c.Addr, err)
		}
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		if c.TLS.CA != "" {
			pem, err := smallfile.Read(resolve(c.TLS.CA), smallfile.DefaultLimit)
			if err != nil {
				return fmt.Errorf("provost: storage.redis.tls.ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return errors.New("provost: storage.redis.tls.ca: no PEM certificate in it")
			}
			opts.TLSConfig.RootCAs = pool
		}
	}
	client := redis.NewClient(opts)
	d.closers = append(d.closers, client.Close)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("provost: storage.redis: %s is not answering: %w", c.Addr, err)
	}
	prefix := c.KeyPrefix
	if prefix == "" {
		prefix = config.DefaultRedisKeyPrefix
	}
	d.Replay = replay.NewRedis(client, replay.RedisConfig{Prefix: prefix + "replay:", Timeout: timeout})
	d.Origins = origin.NewRedis(client, origin.RedisConfig{Prefix: prefix + "origin:", Timeout: timeout, TTL: c.OriginTTL.D()})
	d.checks = append(d.checks, backendCheck{"redis", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := client.Ping(ctx).Err(); err != nil {
			return errors.New("redis is not answering")
		}
		return nil
	}})
	return nil
}

// ReloadChannel is the PostgreSQL notification channel on which a replica
// announces a successful reload, so every replica reloads.
const ReloadChannel = "provost_reload"

// followReloads reloads this replica when another announces a reload. It
// runs until the App closes; a lost connection is retried.
func (a *App) followReloads() {
	b := make([]byte, 8)
	rand.Read(b)
	a.instance = hex.EncodeToString(b)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := a.listenReloads(ctx); err != nil && ctx.Err() == nil {
				a.log.LogAttrs(ctx, slog.LevelError, "following reloads", slog.Any("error", err))
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	a.closers = append(a.closers, func() error { stop(); <-done; return nil })
}

func (a *App) listenReloads(ctx context.Context) error {
	conn, err := a.pg.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+ReloadChannel); err != nil {
		return err
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == a.instance {
			continue
		}
		if err := a.reload(ctx); err != nil {
			a.log.LogAttrs(ctx, slog.LevelError, "reload announced by another replica failed; keeping the configuration in force", slog.Any("error", err))
		}
	}
}
