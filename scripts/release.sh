#!/usr/bin/env bash
# `make release`: static dynomite binaries for each platform into dist/, a
# SHA256SUMS file beside them, then checks of what was built: the binary
# for this machine's architecture runs `-V` and prints the version; every
# binary is a static ELF for its architecture (file(1), else readelf).
#
#   scripts/release.sh            # linux/amd64 linux/arm64
# Environment: VERSION (git describe --tags --always --dirty), PLATFORMS,
# DIST (dist), GO (go).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DIST=${DIST:-dist}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}

log() { printf 'release: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

mkdir -p "$DIST"
rm -f "$DIST"/dynomite-* "$DIST"/SHA256SUMS
names=()
for p in $PLATFORMS; do
  os=${p%/*} arch=${p#*/}
  name="dynomite-$VERSION-$os-$arch"
  # The flags of `make build`: -V prints this version.
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
    -o "$DIST/$name" ./cmd/dynomite
  names+=("$name")
done
(cd "$DIST" && sha256sum "${names[@]}" >SHA256SUMS && sha256sum --quiet -c SHA256SUMS)

# describe FILE: its ELF machine and linking, as file(1) or readelf say.
describe() {
  if command -v file >/dev/null; then
    file -b "$1"
  else
    readelf -h "$1" | awk -F: '/Machine/ {gsub(/^ +/, "", $2); print $2}'
    readelf -l "$1" | grep -q INTERP && echo dynamically linked || echo statically linked
  fi
}

host_arch=$("$GO" env GOHOSTARCH)
for name in "${names[@]}"; do
  arch=${name##*-} os=${name%-*}
  os=${os##*-}
  what=$(describe "$DIST/$name")
  case $arch in
    amd64) want='x86-64|X86-64|Advanced Micro Devices X86-64' ;;
    arm64) want='aarch64|AArch64' ;;
    *) want=. ;;
  esac
  grep -Eq "$want" <<<"$what" || die "$name is not a $arch binary: $what"
  [ "$(head -c4 "$DIST/$name" | tail -c3)" = ELF ] || die "$name is not an ELF file: $what"
  grep -q 'statically linked' <<<"$what" || die "$name is not static: $what"
  if [ "$os" = "$("$GO" env GOHOSTOS)" ] && [ "$arch" = "$host_arch" ]; then
    got=$("$DIST/$name" -V)
    [ "$got" = "This is dynomite-$VERSION" ] || die "$name -V printed '$got', want 'This is dynomite-$VERSION'"
    log "$name -V: $got"
  fi
  log "$name: $what"
done
log "$DIST/SHA256SUMS:"
sed 's/^/  /' "$DIST/SHA256SUMS" >&2
