# dynomite-local/prometheus: Prometheus 2.x from Debian, on the local Debian
# base. Same entrypoint and paths as the public prom/prometheus image, so the
# compose files work with either.
ARG BASE
FROM ${BASE}
RUN mkdir -p /prometheus && chown prometheus:prometheus /prometheus
WORKDIR /prometheus
USER prometheus
EXPOSE 9090
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/healthy"]
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.console.libraries=/usr/share/prometheus/console_libraries", "--web.console.templates=/usr/share/prometheus/consoles"]
