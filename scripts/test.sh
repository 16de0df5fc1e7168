#!/usr/bin/env bash
# The one test command (README, .ci/run): formatting, vet, staticcheck, and
# the whole suite with the race detector. It needs only Go: the embedded
# stores are SQLite through a pure Go driver.
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
