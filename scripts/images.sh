#!/usr/bin/env bash
# Builds the images the compose files use, without any registry
# (shared/ENVIRONMENT.md): a Debian base made with mmdebstrap from the host's
# own Debian mirror and `docker import`ed, then thin images on top of it, and
# the dynomite image from the Dockerfile at the root (bin/dynomite, static).
#
#   scripts/images.sh [all|base|redis|memcached|prometheus|dns|dynomite]...
#
# Images already present are reused (the tag says what is inside); FORCE=1
# rebuilds. Tags:
#   dynomite-local/debian-base:<suite>-<hash of suite, packages, options>
#   dynomite-local/{redis,memcached,prometheus,dns}:<base tag>-<hash of the
#     Dockerfile> and :latest
#   dynomite-local/dynomite:<version>-<hash of the binary> and :latest
# Environment: FORCE, IMAGE_PREFIX (dynomite-local), DYNOMITE_BIN (the binary
# for the dynomite image, bin/dynomite), DEBIAN_SUITE (the host's),
# DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR (read from the host's apt sources
# when unset), DOCKER (docker).
set -euo pipefail
cd "$(dirname "$0")/.."

FORCE=${FORCE:-0}
PREFIX=${IMAGE_PREFIX:-dynomite-local}
DOCKER=${DOCKER:-docker}
export DOCKER_BUILDKIT=0 # the legacy builder: BuildKit would try to pull its frontend
# shellcheck disable=SC1091
SUITE=${DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
# What the base holds. dnsmasq-base is dnsmasq without its init scripts;
# wget is for the Prometheus healthcheck (the public image has busybox wget).
PACKAGES=(ca-certificates redis-server memcached prometheus dnsmasq-base wget)
# Left out of the base: documentation, and the 210 MB of time-zone data
# builds that Prometheus's UI does not load (it loads the single bundle).
MMDEBSTRAP_OPTS=(
  --mode=root --variant=essential
  --aptopt='APT::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/javascript/moment-timezone/data/*'
)
BASE_ID="${SUITE}-$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" "${MMDEBSTRAP_OPTS[@]}" | sha256sum | cut -c1-12)"
BASE_IMAGE="$PREFIX/debian-base:$BASE_ID"

log() { printf 'images: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
has_image() { [ "$FORCE" != 1 ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
seconds() { date +%s; }

# debian_mirror prints the host's Debian mirror for suite $1 (as apt sees it,
# from either sources format), e.g. http://deb.debian.org/debian/.
debian_mirror() {
  apt-get indextargets --format '$(ORIGIN)|$(CODENAME)|$(REPO_URI)' 'Identifier: Packages' 2>/dev/null |
    awk -F'|' -v s="$1" '$1 == "Debian" && $2 == s { print $3; exit }'
}

build_base() {
  if has_image "$BASE_IMAGE"; then log "$BASE_IMAGE present, reused"; return; fi
  [ -n "$SUITE" ] || die "cannot tell the Debian suite from /etc/os-release: set DEBIAN_SUITE"
  [ "$(id -u)" = 0 ] || die "the Debian base needs root (mmdebstrap --mode=root, apt-get): run sudo make images"
  if ! command -v mmdebstrap >/dev/null; then
    log "installing mmdebstrap"
    apt-get install -y -qq mmdebstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; }
  fi
  local mirror=${DEBIAN_MIRROR:-$(debian_mirror "$SUITE")}
  local security=${DEBIAN_SECURITY_MIRROR:-$(debian_mirror "$SUITE-security")}
  [ -n "$mirror" ] || die "no Debian mirror for $SUITE in the host's apt sources: set DEBIAN_MIRROR"
  local sources=("deb $mirror $SUITE main" "deb $mirror $SUITE-updates main")
  [ -n "$security" ] && sources+=("deb $security $SUITE-security main")
  local tmp
  tmp=$(mktemp -d /tmp/dynomite-base.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  log "mmdebstrap $SUITE from $mirror: ${PACKAGES[*]}"
  local t0
  t0=$(seconds)
  mmdebstrap "${MMDEBSTRAP_OPTS[@]}" --quiet \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    "$SUITE" "$tmp/base.tar" "${sources[@]}"
  log "root filesystem in $(($(seconds) - t0))s ($(du -h "$tmp/base.tar" | cut -f1)); importing"
  t0=$(seconds)
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.title=debian-base org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$tmp/base.tar" "$BASE_IMAGE" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  log "imported $BASE_IMAGE in $(($(seconds) - t0))s"
}

# quiet_build runs docker build, keeping its output for when it fails.
quiet_build() {
  local out
  if ! out=$("$DOCKER" build "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    die "docker build $* failed"
  fi
}

# build_on_base NAME: scripts/images/NAME.Dockerfile on the base image,
# tagged with the base's id and the Dockerfile's hash.
build_on_base() {
  local name=$1 image
  image="$PREFIX/$1:$BASE_ID-$(sha256sum <"scripts/images/$name.Dockerfile" | cut -c1-8)"
  if has_image "$image"; then
    log "$image present, reused"
  else
    build_base
    local t0
    t0=$(seconds)
    quiet_build --network host --build-arg "BASE=$BASE_IMAGE" -t "$image" \
      -f "scripts/images/$name.Dockerfile" scripts/images
    log "built $image in $(($(seconds) - t0))s"
  fi
  "$DOCKER" tag "$image" "$PREFIX/$name:latest"
}

# build_dynomite: the Dockerfile at the root, with $DYNOMITE_BIN (bin/dynomite)
# and the host's CA bundle staged in bin/image/.
build_dynomite() {
  local bin=${DYNOMITE_BIN:-bin/dynomite} version sum image
  [ -x "$bin" ] || die "$bin is missing: run make build (make image does)"
  version=$("$bin" -V | awk '{print $NF}' | sed 's/^dynomite-//')
  sum=$(cat "$bin" scripts/images/dynomite/* Dockerfile | sha256sum | cut -c1-12)
  image="$PREFIX/dynomite:${version//[^A-Za-z0-9_.-]/_}-$sum"
  if has_image "$image"; then
    log "$image present, reused"
  else
    rm -rf bin/image && mkdir -p bin/image/hints
    cp "$bin" bin/image/dynomite
    cp /etc/ssl/certs/ca-certificates.crt bin/image/ca-certificates.crt
    quiet_build --build-arg "VERSION=$version" -t "$image" .
    log "built $image"
  fi
  "$DOCKER" tag "$image" "$PREFIX/dynomite:latest"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(all)
start=$(seconds)
for t in "${targets[@]}"; do
  case $t in
    all)
      build_base
      for n in redis memcached prometheus dns; do build_on_base "$n"; done
      build_dynomite
      ;;
    base) build_base ;;
    redis | memcached | prometheus | dns) build_on_base "$t" ;;
    dynomite) build_dynomite ;;
    *) die "unknown image $t (all, base, redis, memcached, prometheus, dns, dynomite)" ;;
  esac
done
log "done in $(($(seconds) - start))s"
"$DOCKER" image ls --filter "reference=$PREFIX/*" --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | sort >&2
