package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// Storage says where Provost keeps its shared state. Unset, everything is
// the embedded default: SQLite files in data_dir and an in-memory replay
// cache, for one replica. Several replicas behind a load balancer share
// PostgreSQL and Redis instead (docs/scale-out.md).
type Storage struct {
	// Postgres holds the revocations, durable and shared.
	Postgres Postgres `yaml:"postgres"`
	// Redis holds the replay cache and origin history, shared.
	Redis Redis `yaml:"redis"`
	// OriginMemoryCredentials bounds the embedded origin history (without
	// redis): how many credentials' current histories are held in memory
	// in front of origins.db. Decisions read and update them there, and
	// one background writer puts their uses in origins.db in batches
	// (docs/evidence.md, "Origin history is not evidence"). The least
	// recently used beyond it are read back from origins.db on their next
	// use. Default 1048576 (0); ignored with redis, whose history every
	// replica must see at once.
	OriginMemoryCredentials int `yaml:"origin_memory_credentials"`
}

// Postgres is a PostgreSQL connection.
type Postgres struct {
	// DSN is a libpq connection string or URL. Keep the password out of
	// it: PGPASSWORD or a PGPASSFILE (~/.pgpass) is read by the driver.
	DSN string `yaml:"dsn"`
	// MaxConns bounds the pool (default 16); ConnectTimeout bounds each
	// connection attempt (default 5s).
	MaxConns       int      `yaml:"max_conns"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// EvidenceKeyFile, when set, puts the evidence log in PostgreSQL: one
	// log every replica appends to, signed with the key in this file
	// (PRIVATE+KEY+..., mode 0600, made by `provost evidence new-key`),
	// which every replica must be given. Relative to this file. Unset,
	// each replica keeps its own log in its data directory.
	EvidenceKeyFile string `yaml:"evidence_key_file"`
	// EvidenceCheckpointInterval, when set, lets every replica serve the
	// newest stored checkpoint while it is younger than this, so that all
	// replicas together sign about once per interval. Default 0: a
	// checkpoint is signed whenever the log grew.
	EvidenceCheckpointInterval Duration `yaml:"evidence_checkpoint_interval"`
}

// SharedEvidence reports whether the evidence log is the one in
// PostgreSQL (storage.postgres.evidence_key_file) rather than the data
// directory's.
func (s Storage) SharedEvidence() bool {
	return s.Postgres.DSN != "" && s.Postgres.EvidenceKeyFile != ""
}

// Redis is a Redis connection.
type Redis struct {
	// Addr is host:port.
	Addr string `yaml:"addr"`
	// DB is the database number (default 0). Username and PasswordFile
	// authenticate (ACL); the password is read from the file, never
	// written in this one.
	DB           int    `yaml:"db"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// PoolSize bounds the connections (default 10 per CPU); Timeout bounds
	// each command (default 1s): a command that times out is an error,
	// and the decision that needed it is denied (fail closed).
	PoolSize int      `yaml:"pool_size"`
	Timeout  Duration `yaml:"timeout"`
	// TLS turns on TLS to Redis, verified against CA (PEM; the system
	// roots when empty).
	TLS RedisTLS `yaml:"tls"`
	// KeyPrefix starts every key Provost writes (default "provost:"):
	// deployments that share one Redis use different prefixes, replicas of
	// one deployment the same.
	KeyPrefix string `yaml:"key_prefix"`
	// OriginTTL, when set, forgets a credential's origin history this long
	// after its last use, which bounds Redis's memory; its next use is then
	// judged as a first use. Keep it longer than the detectors' dormancy
	// (default 720h), or dormant revivals go unflagged. Default: kept
	// (bound Redis with maxmemory and noeviction).
	OriginTTL Duration `yaml:"origin_ttl"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	Enabled bool   `yaml:"enabled"`
	CA      string `yaml:"ca"`
}

// Defaults of Storage.
const (
	DefaultPostgresMaxConns       = 16
	DefaultPostgresConnectTimeout = 5 * time.Second
	DefaultRedisTimeout           = time.Second
	DefaultRedisKeyPrefix         = "provost:"
)

// MaxOriginMemoryCredentials bounds storage.origin_memory_credentials.
const MaxOriginMemoryCredentials = 1 << 28

func (s *Storage) check() error {
	if n := s.OriginMemoryCredentials; n < 0 || n > MaxOriginMemoryCredentials {
		return bad("storage.origin_memory_credentials", "must be between 1 and %d (0: the default, 1048576)", MaxOriginMemoryCredentials)
	}
	if p := s.Postgres; p != (Postgres{}) {
		if p.DSN == "" {
			return bad("storage.postgres.dsn", "is required when storage.postgres is set")
		}
		if u, err := url.Parse(p.DSN); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				return bad("storage.postgres.dsn", "holds a password; set PGPASSWORD or a PGPASSFILE instead, so the configuration holds no secret")
			}
		}
		if strings.Contains(p.DSN, "password=") {
			return bad("storage.postgres.dsn", "holds a password; set PGPASSWORD or a PGPASSFILE instead, so the configuration holds no secret")
		}
		if p.MaxConns < 0 || p.MaxConns > 1000 {
			return bad("storage.postgres.max_conns", "must be between 1 and 1000")
		}
		if p.EvidenceCheckpointInterval != 0 && p.EvidenceKeyFile == "" {
			return bad("storage.postgres.evidence_checkpoint_interval", "is set but storage.postgres.evidence_key_file is not, so the evidence log is not in PostgreSQL")
		}
	}
	if r := s.Redis; r != (Redis{}) {
		if _, _, err := net.SplitHostPort(r.Addr); err != nil {
			return bad("storage.redis.addr", "must be host:port (got %q)", r.Addr)
		}
		if r.DB < 0 || r.DB > 15 {
			return bad("storage.redis.db", "must be between 0 and 15")
		}
		if r.PoolSize < 0 || r.PoolSize > 10000 {
			return bad("storage.redis.pool_size", "must be between 1 and 10000")
		}
		if strings.ContainsAny(r.KeyPrefix, "{}") {
			return bad("storage.redis.key_prefix", "must not hold { or }, which would change Redis Cluster hash slots")
		}
		if r.TLS.CA != "" && !r.TLS.Enabled {
			return bad("storage.redis.tls.ca", "is set but storage.redis.tls.enabled is false")
		}
	}
	return nil
}
