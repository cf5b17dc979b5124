# dynomite-local/redis: redis-server from Debian, on the local Debian base
# (scripts/images.sh builds the base; nothing is pulled).
ARG BASE
FROM ${BASE}
WORKDIR /var/lib/redis
USER redis
EXPOSE 6379
HEALTHCHECK --interval=2s --timeout=2s --retries=15 CMD ["redis-cli", "ping"]
# No persistence, reachable from other containers: a cache behind dynomite.
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
