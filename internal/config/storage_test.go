package config

import (
	"strings"
	"testing"
	"time"
)

func TestStorageGood(t *testing.T) {
	c, err := Parse("p.yaml", []byte(`version: 1
storage:
  postgres: {dsn: "postgres://provost@db:5432/provost?sslmode=verify-full", max_conns: 8, connect_timeout: 2s}
  redis: {addr: "redis:6379", db: 1, username: provost, password_file: redis.pass, pool_size: 20, timeout: 500ms, tls: {enabled: true, ca: ca.pem}}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Storage
	if s.Postgres.MaxConns != 8 || s.Postgres.ConnectTimeout.D() != 2*time.Second || s.Redis.Addr != "redis:6379" || s.Redis.DB != 1 ||
		s.Redis.Timeout.D() != 500*time.Millisecond || !s.Redis.TLS.Enabled || s.Redis.PasswordFile != "redis.pass" {
		t.Fatalf("%+v", s)
	}
	if c, err := Parse("p.yaml", []byte("version: 1\n")); err != nil || c.Storage != (Storage{}) {
		t.Fatalf("no storage section: %+v %v", c, err)
	}
	if c, err := Parse("p.yaml", []byte("version: 1\nstorage: {origin_memory_credentials: 5000}\n")); err != nil || c.Storage.OriginMemoryCredentials != 5000 {
		t.Fatalf("origin_memory_credentials: %+v %v", c.Storage, err)
	}
}

func TestStorageBad(t *testing.T) {
	cases := []struct{ name, section, want string }{
		{"postgres without dsn", "  postgres: {max_conns: 4}\n", "p.yaml:3: storage.postgres.dsn: is required"},
		{"password in a URL", "  postgres: {dsn: \"postgres://u:s3cret@db/p\"}\n", "storage.postgres.dsn: holds a password"},
		{"password in a keyword DSN", "  postgres: {dsn: \"host=db user=u password=s3cret\"}\n", "storage.postgres.dsn: holds a password"},
		{"too many conns", "  postgres: {dsn: \"host=db\", max_conns: 5000}\n", "storage.postgres.max_conns"},
		{"redis without port", "  redis: {addr: redis}\n", `storage.redis.addr: must be host:port (got "redis")`},
		{"redis db", "  redis: {addr: \"r:6379\", db: 16}\n", "storage.redis.db"},
		{"ca without tls", "  redis: {addr: \"r:6379\", tls: {ca: ca.pem}}\n", "storage.redis.tls.ca"},
		{"negative origin memory", "  origin_memory_credentials: -1\n", "storage.origin_memory_credentials: must be between 1 and"},
		{"huge origin memory", "  origin_memory_credentials: 1000000000\n", "storage.origin_memory_credentials: must be between 1 and"},
		{"unknown field", "  mysql: {dsn: x}\n", "field mysql not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("version: 1\nstorage:\n"+c.section))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestStorageEvidenceInPostgres(t *testing.T) {
	c, err := Parse("/etc/provost/p.yaml", []byte(`version: 1
storage:
  postgres: {dsn: "host=db", evidence_key_file: keys/evidence.key, evidence_checkpoint_interval: 10s}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Storage.Postgres
	if p.EvidenceKeyFile != "keys/evidence.key" || p.EvidenceCheckpointInterval.D() != 10*time.Second || !c.Storage.SharedEvidence() {
		t.Fatalf("%+v", p)
	}
	if got := c.Resolve(p.EvidenceKeyFile); got != "/etc/provost/keys/evidence.key" {
		t.Fatalf("the key file resolves to %q, want it beside the configuration", got)
	}
	if c, err := Parse("p.yaml", []byte("version: 1\nstorage:\n  postgres: {dsn: \"host=db\"}\n")); err != nil || c.Storage.SharedEvidence() {
		t.Fatalf("without a key file the evidence log stays in the data directory: %+v %v", c, err)
	}

	for _, tc := range []struct{ name, doc, want string }{
		{"key file without dsn", "storage:\n  postgres: {evidence_key_file: e.key}\n", "storage.postgres.dsn: is required"},
		{"interval without key file", "storage:\n  postgres: {dsn: \"host=db\", evidence_checkpoint_interval: 5s}\n",
			"storage.postgres.evidence_checkpoint_interval: is set but storage.postgres.evidence_key_file is not"},
		{"async", "evidence: {mode: async}\nstorage:\n  postgres: {dsn: \"host=db\", evidence_key_file: e.key}\n",
			"evidence.mode: async is refused with the evidence log in PostgreSQL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("version: 1\n"+tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// async with PostgreSQL revocations but the evidence log in the data
	// directory is still allowed.
	if _, err := Parse("p.yaml", []byte("version: 1\nevidence: {mode: async}\nstorage:\n  postgres: {dsn: \"host=db\"}\n")); err != nil {
		t.Fatal(err)
	}
}
