# dynomite-local/dns: dnsmasq from Debian, on the local Debian base. It serves
# the records of a file mounted at /etc/dnsmasq.d/ (SRV, TXT, A) and forwards
# everything else to the container's resolver (Docker's embedded DNS).
ARG BASE
FROM ${BASE}
EXPOSE 53/udp 53/tcp
# dnsmasq answers on TCP too; the check opens a connection to port 53.
HEALTHCHECK --interval=2s --timeout=2s --retries=15 CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/53"]
# Starts as root to bind port 53, then drops to the dnsmasq user.
ENTRYPOINT ["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--user=dnsmasq", "--conf-dir=/etc/dnsmasq.d,*.conf"]
CMD ["--log-queries"]
