#!/usr/bin/env bash
# The one test command (README, .ci/run): formatting, vet, staticcheck, and
# the whole suite with the race detector. The embedded stores are SQLite
# through a pure Go driver; the scale-out stores are tested against the
# PostgreSQL (127.0.0.1:5432, database test) and Redis (127.0.0.1:6379) of
# this machine kind, started here when they are down. On CI (CI set) a test
# whose server is missing fails; elsewhere it skips and says why.
set -euo pipefail
cd "$(dirname "$0")/.."

# --soak (or SOAK=1): after the suite, the 10-minute soak of provost serve
# and 10,000,000 jti through the replay cache (docs/security.md, Soak);
# results in soak-results/<UTC time>/ (or SOAK_RESULTS).
soak=${SOAK:-}
for arg in "$@"; do
  case $arg in
    --soak) soak=1 ;;
    *) echo "usage: scripts/test.sh [--soak]"; exit 2 ;;
  esac
done

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt'ed:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== nginx"
# cmd/provost's nginx test runs docs/nginx.md's server block in a real
# nginx (Debian's package has ngx_http_auth_request_module). Install it when
# missing; on CI the test fails rather than skip without it. The package's
# own service must not start (port 80): policy-rc.d forbids it during the
# install, and anything that started anyway is stopped.
if ! command -v nginx >/dev/null 2>&1 && [ -x /usr/sbin/nginx ]; then
  export PATH="$PATH:/usr/sbin"
fi
if ! command -v nginx >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    policy_rc=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      policy_rc=/usr/sbin/policy-rc.d
    fi
    installed=0
    { apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; } || installed=$?
    if [ -n "$policy_rc" ]; then rm -f "$policy_rc"; fi
    if [ "$installed" -ne 0 ]; then echo "installing nginx failed"; exit 1; fi
    export PATH="$PATH:/usr/sbin"
    service nginx stop >/dev/null 2>&1 || true
    nginx -s stop >/dev/null 2>&1 || true
  else
    echo "nginx is not installed and cannot be installed here (needs root and apt-get);"
    echo "the nginx test skips outside CI and fails on CI (CI set)."
  fi
fi
if command -v nginx >/dev/null 2>&1; then
  # grep without -q reads all of nginx -V: no SIGPIPE under pipefail.
  nginx -V 2>&1 | grep -- --with-http_auth_request_module >/dev/null ||
    { echo "nginx lacks ngx_http_auth_request_module"; nginx -V; exit 1; }
fi

echo "== python3-cryptography"
# internal/doccheck runs docs/evidence.md's Python receipt verifier, which
# needs python3 with the cryptography package (Debian's python3-cryptography).
# Install it when missing; on CI the test fails rather than skip without it.
if ! python3 -c 'import cryptography' >/dev/null 2>&1 && ! /usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-cryptography; } ||
      { echo "installing python3-cryptography failed"; exit 1; }
  else
    echo "python3 with the cryptography package is missing and cannot be installed here;"
    echo "the receipt verifier test skips outside CI and fails on CI (CI set)."
  fi
fi

echo "== groff and man"
# cmd/provost's man page test reads every page provost man writes with
# groff -ww (groff-base) and man -l (man-db). Install them when missing; on
# CI the test fails rather than skip without them.
if ! command -v groff >/dev/null 2>&1 || ! command -v man >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq groff-base man-db; } ||
      { echo "installing groff-base and man-db failed"; exit 1; }
  else
    echo "groff or man is missing and cannot be installed here (needs root and apt-get):"
    echo "the man page test skips outside CI and fails on CI (CI set)."
  fi
fi

echo "== postgresql and redis"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || echo "PostgreSQL is not reachable: its tests fail on CI"
# The tests use the database test (trust auth); make it on a server that lacks it.
if command -v psql >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null &&
  ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null | grep 1 >/dev/null; then
  psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null || echo "creating the database test failed"
fi
redis-cli -h 127.0.0.1 -p 6379 ping || echo "Redis is not reachable: its tests fail on CI"

echo "== iproute2"
# cmd/provost's network-origin test makes network namespaces with ip
# (iproute2) as root; on CI it fails without them.
if ! command -v ip >/dev/null 2>&1 && [ ! -x /usr/sbin/ip ] && [ ! -x /sbin/ip ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2; } ||
      { echo "installing iproute2 failed"; exit 1; }
  else
    echo "ip (iproute2) is missing and cannot be installed here: the network namespace test skips outside CI and fails on CI."
  fi
fi

echo "== chromium"
# e2e/'s browser tests drive Debian's chromium headless (chromedp). Install
# it when missing, no service started (policy-rc.d, as for nginx); on CI
# they fail rather than skip without it.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    policy_rc=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      policy_rc=/usr/sbin/policy-rc.d
    fi
    installed=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || installed=$?
    if [ -n "$policy_rc" ]; then rm -f "$policy_rc"; fi
    if [ "$installed" -ne 0 ]; then echo "installing chromium failed"; exit 1; fi
  else
    echo "chromium is missing and cannot be installed here (needs root and apt-get):"
    echo "the browser tests skip outside CI and fail on CI (CI set)."
  fi
fi

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== e2e: the dashboard in headless chromium"
# A module of its own (chromedp stays out of the product's go.mod); it
# imports internal/ packages, so a dependency added to the main go.mod
# needs `cd e2e && go mod tidy` too. Failure screenshots and the server's
# log go to e2e/artifacts/ (or E2E_ARTIFACTS).
(cd e2e && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... &&
  go test -count=1 -timeout 10m ./...)

if [ "$soak" = 1 ]; then
  echo "== soak: 10 minutes of provost serve; 10,000,000 jti through the replay cache"
  results=${SOAK_RESULTS:-soak-results/$(date -u +%Y%m%dT%H%M%SZ)}
  mkdir -p "$results" && results=$(cd "$results" && pwd) # go test runs in the package's directory
  { date -u; uname -a; nproc; uptime; } >"$results/machine.out"
  PROVOST_SOAK=10m PROVOST_SOAK_OUT="$results/soak.out" \
    go test -count=1 -run '^TestSoak$' -timeout 30m -v ./cmd/provost 2>&1 | tee "$results/soak-test.out"
  PROVOST_SOAK=1 go test -count=1 -run '^TestReplayScale$' -timeout 30m -v ./internal/replay 2>&1 |
    tee "$results/replay-scale.out"
  uptime >>"$results/machine.out"
  echo "soak results in $results"
fi
