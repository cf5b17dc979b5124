#!/usr/bin/env bash
# Builds the images the compose files and the testcontainers module use.
#
# The local path, without any registry (a machine that reaches only Debian's
# mirror and the Go module proxy can run it): a Debian base made with
# mmdebstrap from the host's own Debian mirror and `docker import`ed, thin
# images on top of it (redis, memcached, prometheus, dns, and builder:
# the host's Go toolchain), and the dynomite image from the multi-stage
# Dockerfile at the root with BUILDER set to that builder image.
#
# The registry path (`public`): the same Dockerfile with its default builder
# (golang:1.26-bookworm, pulled), and the public redis, memcached and
# prometheus images pulled; only Docker is needed.
#
#   scripts/images.sh [all|base|redis|memcached|prometheus|dns|builder|dynomite|public]...
#
# Images already present are reused (the tag says what is inside); FORCE=1
# rebuilds. Tags:
#   dynomite-local/debian-base:<suite>-<hash of suite, packages, options>
#   dynomite-local/{redis,memcached,prometheus,dns}:<base tag>-<hash of the
#     Dockerfile> and :latest
#   dynomite-local/builder:<base tag>-go<version>-<hash of the Dockerfile>
#   dynomite-local/dynomite:<version>-<hash of the sources and the builder>
#     and :latest
# Environment: FORCE, IMAGE_PREFIX (dynomite-local), VERSION (git describe),
# DEBIAN_SUITE (the host's), DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR (read
# from the host's apt sources when unset), DOCKER (docker), GO (go);
# for `public`: PUBLIC_REDIS_IMAGE (redis:7.0), PUBLIC_MEMCACHED_IMAGE
# (memcached:1.6), PUBLIC_PROMETHEUS_IMAGE (prom/prometheus:v2.42.0).
set -euo pipefail
cd "$(dirname "$0")/.."

FORCE=${FORCE:-0}
PREFIX=${IMAGE_PREFIX:-dynomite-local}
DOCKER=${DOCKER:-docker}
GO=${GO:-go}
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

# build_builder: scripts/images/builder.Dockerfile on the base, with the
# host's Go toolchain (GOROOT, the version go.mod asks for) and the host's CA
# bundle: the builder reaches the Go module proxy through the host's network,
# so it trusts what the host trusts. The context is a tar stream of the
# three, nothing copied on disk.
build_builder() {
  command -v "$GO" >/dev/null || die "no $GO on this host: the local builder image copies the host's Go toolchain (Go 1.26); without Go use the registry path: make up IMAGES=public"
  local goroot gover image
  goroot=$("$GO" env GOROOT)
  gover=$("$GO" env GOVERSION)
  image="$PREFIX/builder:$BASE_ID-${gover}-$(cat scripts/images/builder.Dockerfile /etc/ssl/certs/ca-certificates.crt | sha256sum | cut -c1-8)"
  if has_image "$image"; then
    log "$image present, reused"
  else
    build_base
    local t0 root
    t0=$(seconds)
    root=$(basename "$goroot")
    tar -cf - -C scripts/images builder.Dockerfile -C /etc/ssl/certs ca-certificates.crt \
      -C "$(dirname "$goroot")" --exclude="$root/test" --transform "s,^$root,go," "$root" |
      quiet_build --build-arg "BASE=$BASE_IMAGE" -t "$image" -f builder.Dockerfile -
    log "built $image in $(($(seconds) - t0))s"
  fi
  "$DOCKER" tag "$image" "$PREFIX/builder:latest"
  BUILDER_IMAGE=$image
}

# version_args: the build arguments of the image labels, from git.
version_args() {
  local version revision
  version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  printf '%s\n' --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
    --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# sources_hash: what the root Dockerfile's context holds (the paths
# .dockerignore lets in, less its test exclusions), tracked or not, for the
# image tag.
sources_hash() {
  local included
  mapfile -t included < <(sed -n 's,^!,,p' .dockerignore)
  git ls-files -co --exclude-standard -- "${included[@]}" Dockerfile .dockerignore |
    grep -v -e '_test\.go$' -e '/testdata/' -e '^proxy/proxytest/' | sort |
    while read -r f; do [ -f "$f" ] && printf '%s  %s\n' "$(sha256sum <"$f" | cut -c1-64)" "$f"; done |
    { cat; echo "$1"; } | sha256sum | cut -c1-12
}

# build_dynomite: the root Dockerfile with the local builder image; the
# builder stage reaches the Go module proxy through the host's network.
build_dynomite() {
  build_builder
  local args version image
  mapfile -t args < <(version_args)
  version=${args[1]#VERSION=}
  image="$PREFIX/dynomite:${version//[^A-Za-z0-9_.-]/_}-$(sources_hash "$BUILDER_IMAGE")"
  if has_image "$image"; then
    log "$image present, reused"
  else
    local t0
    t0=$(seconds)
    quiet_build --network host --build-arg "BUILDER=$BUILDER_IMAGE" \
      --build-arg "GOPROXY=$("$GO" env GOPROXY)" "${args[@]}" -t "$image" .
    log "built $image in $(($(seconds) - t0))s"
  fi
  "$DOCKER" tag "$image" "$PREFIX/dynomite:latest"
}

# build_public: the registry path. The dynomite image from the root
# Dockerfile as it stands (its golang builder pulled), the datastores and
# Prometheus pulled as they are published.
build_public() {
  local args
  mapfile -t args < <(version_args)
  log "docker build (golang builder from the registry) -> $PREFIX/dynomite:latest"
  quiet_build "${args[@]}" -t "$PREFIX/dynomite:latest" .
  local img
  for img in "${PUBLIC_REDIS_IMAGE:-redis:7.0}" "${PUBLIC_MEMCACHED_IMAGE:-memcached:1.6}" "${PUBLIC_PROMETHEUS_IMAGE:-prom/prometheus:v2.42.0}"; do
    if has_image "$img"; then log "$img present"; else log "pulling $img"; "$DOCKER" pull -q "$img" >/dev/null; fi
  done
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
    builder) build_builder ;;
    dynomite) build_dynomite ;;
    public) build_public ;;
    *) die "unknown image $t (all, base, redis, memcached, prometheus, dns, builder, dynomite, public)" ;;
  esac
done
log "done in $(($(seconds) - start))s"
"$DOCKER" image ls --filter "reference=$PREFIX/*" --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | sort >&2
