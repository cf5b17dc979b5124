# The dynomite image: the static binary on an empty base, nothing pulled.
#
# `make image` builds bin/dynomite on the host (CGO_ENABLED=0); then
# scripts/images.sh stages it with the host's CA bundle in bin/image/ and runs
#   docker build -t dynomite-local/dynomite .
# (legacy builder; .dockerignore sends only bin/image/ and
# scripts/images/dynomite/).
#
# Configuration: mount a file in upstream's format at
# /etc/dynomite/dynomite.yml, or leave it out and set DYNOMITE_* variables
# (DYNOMITE_LISTEN, DYNOMITE_SERVERS, ...; see compose/README.md).
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="dynomite" \
      org.opencontainers.image.description="Dynamo-style replication proxy for Redis and Memcached (Netflix Dynomite, in Go)" \
      org.opencontainers.image.version="${VERSION}"
COPY bin/image/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY scripts/images/dynomite/passwd /etc/passwd
COPY scripts/images/dynomite/group /etc/group
COPY bin/image/dynomite /usr/bin/dynomite
# An empty directory the node's user may write: hints_dir's conventional
# place (set `hints_dir: /var/lib/dynomite/hints` and mount a volume there
# to keep hints across container replacements).
COPY --chown=65532:65532 bin/image/hints/ /var/lib/dynomite/hints/
USER 65532:65532
# 8101 peers, 8102 clients, 22222 stats (/health, /metrics), 8103 gossip
# (TCP and UDP, only with enable_gossip: true).
EXPOSE 8101 8102 22222 8103 8103/udp
# The stats listener on port 22222 answers /health: 200 once the datastore
# is connected. A node whose stats_listen uses another port needs
# `dynomite health --addr 127.0.0.1:PORT` as its healthcheck.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/bin/dynomite", "health"]
ENTRYPOINT ["/usr/bin/dynomite"]
CMD ["-c", "/etc/dynomite/dynomite.yml"]
