# The dynomite image, built from source in two stages: a Go builder, then the
# static binary on an empty base.
#
# Where base images can be pulled, from the repository's root:
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t dynomite .
# (plain `docker build .` works too; the labels then say version "dev").
#
# Without a registry, `make image` (scripts/images.sh) passes
# BUILDER=dynomite-local/builder:..., the Go toolchain on the local Debian
# base, and builds with --network host so that the builder reaches the Go
# module proxy; nothing is pulled: the runtime stage is FROM scratch.
# No `# syntax=` line: the legacy builder needs none and BuildKit would
# pull its frontend for one.
#
# Configuration: mount a file in upstream's format at
# /etc/dynomite/dynomite.yml, or leave it out and set DYNOMITE_* variables
# (DYNOMITE_LISTEN, DYNOMITE_SERVERS, ...; see compose/README.md).
ARG BUILDER=golang:1.26-bookworm

FROM ${BUILDER} AS build
WORKDIR /src
# The module cache layer is reused until go.mod or go.sum change.
ARG GOPROXY=https://proxy.golang.org,direct
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local GOPROXY=${GOPROXY}
COPY go.mod go.sum ./
RUN go mod download
# .dockerignore sends only what cmd/dynomite is built from.
COPY . .
# The packages are compiled here, once per source tree (the build cache
# stays in this layer); a new version below only links again.
RUN go build -trimpath -o /dev/null ./cmd/dynomite
ARG VERSION=dev
# The flags of `make build` and `make release`: the version -V prints.
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/dynomite ./cmd/dynomite && \
    /out/dynomite -V && mkdir -p /out/hints

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/dynomite-go/dynomite
# The repository states no license yet: NOASSERTION (SPDX) until it does.
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="dynomite" \
      org.opencontainers.image.description="Dynamo-style replication proxy for Redis and Memcached (Netflix Dynomite, in Go)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY scripts/images/dynomite/passwd /etc/passwd
COPY scripts/images/dynomite/group /etc/group
COPY --from=build /out/dynomite /usr/bin/dynomite
# An empty directory the node's user may write: hints_dir's conventional
# place (set `hints_dir: /var/lib/dynomite/hints` and mount a volume there
# to keep hints across container replacements).
COPY --from=build --chown=65532:65532 /out/hints/ /var/lib/dynomite/hints/
USER 65532:65532
# 8101 peers, 8102 clients, 22222 stats (/ready, /health, /metrics), 8103 gossip
# (TCP and UDP, only with enable_gossip: true).
EXPOSE 8101 8102 22222 8103 8103/udp
# The healthcheck is readiness, not liveness: `dynomite ready` asks the stats
# listener's /ready, 200 once the datastore is connected and every peer the
# seed provider lists is known (connected or marked down), so a healthy
# container has its full ring. /health stays the liveness check. A node whose
# stats_listen uses another port needs `dynomite ready --addr 127.0.0.1:PORT`.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/bin/dynomite", "ready"]
ENTRYPOINT ["/usr/bin/dynomite"]
CMD ["-c", "/etc/dynomite/dynomite.yml"]
