#!/usr/bin/env bash
# Release build: static provost binaries for linux/amd64 and linux/arm64,
# built with -trimpath and the version stamped (-ldflags -X main.version),
# and SHA256SUMS beside them. docs/install.md.
#
#   scripts/release.sh [--version VERSION] [--out DIR] [--platforms "linux/amd64 linux/arm64"]
#
# VERSION defaults to `git describe --tags --always --dirty` (dev outside a
# checkout); DIR to dist/. Each binary is DIR/provost-VERSION-OS-ARCH.
set -euo pipefail

version=${VERSION:-}
out=
platforms="linux/amd64 linux/arm64"
while [ $# -gt 0 ]; do
  case $1 in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --platforms) platforms=${2:?--platforms needs a list}; shift 2 ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
# --out is relative to where the script was called from; dist/ to the repository.
if [ -n "$out" ] && [ "${out#/}" = "$out" ]; then
  out="$PWD/$out"
fi
cd "$(dirname "$0")/.."
out=${out:-dist}
if [ -z "$version" ]; then
  version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
# The version goes into a file name and a linker flag: nothing to quote.
if ! [[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
  echo "release.sh: version \"$version\" may hold only letters, digits and . _ + -" >&2
  exit 2
fi

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$@"; }
else
  sha256() { shasum -a 256 "$@"; }
fi

mkdir -p "$out"
names=()
for p in $platforms; do
  os=${p%/*}
  arch=${p#*/}
  if [ -z "$os" ] || [ -z "$arch" ] || [ "$os" = "$p" ]; then
    echo "release.sh: platform \"$p\" is not OS/ARCH" >&2
    exit 2
  fi
  name="provost-$version-$os-$arch"
  echo "== $name"
  # CGO_ENABLED=0: static (the SQLite driver is pure Go). -buildvcs=auto
  # records the commit when built in a checkout (GOFLAGS may turn it off).
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=auto \
    -ldflags "-s -w -X main.version=$version" -o "$out/$name" ./cmd/provost
  names+=("$name")
done

(cd "$out" && sha256 "${names[@]}" >SHA256SUMS)
echo "== $out/SHA256SUMS"
cat "$out/SHA256SUMS"
