package provosttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStart says how to start the machine's Redis.
const RedisStart = `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`

// RedisAddr is the test Redis (PROVOST_TEST_REDIS, default
// 127.0.0.1:6379). When it does not answer, the test fails on CI (CI set)
// and skips elsewhere, saying how to start one.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("PROVOST_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Write([]byte("PING\r\n"))
		buf := make([]byte, 7)
		if err == nil {
			_, err = conn.Read(buf)
		}
		conn.Close()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis at %s is needed and does not answer: %v (start it with: %s)", addr, err, RedisStart)
		}
		t.Skipf("Redis at %s does not answer (%v); start it with: %s", addr, err, RedisStart)
	}
	return addr
}

// KeyPrefix is a Redis key prefix no other test uses; the keys under it
// are deleted from the test Redis when the test ends.
func KeyPrefix(t testing.TB) string {
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "provost-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		addr := os.Getenv("PROVOST_TEST_REDIS")
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Unlink(ctx, iter.Val())
		}
	})
	return prefix
}
