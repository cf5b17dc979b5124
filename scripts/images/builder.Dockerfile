# dynomite-local/builder: the host's Go toolchain on the local Debian base,
# the builder stage of the root Dockerfile where golang images cannot be
# pulled (scripts/images.sh passes it as BUILDER). Its context is a tar
# stream (scripts/images.sh build_builder): go/ (the host's GOROOT) and the
# host's CA bundle, which the builder needs to reach the Go module proxy
# through the host's network.
ARG BASE
FROM ${BASE}
COPY go /usr/local/go
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOTOOLCHAIN=local
RUN go version
CMD ["go", "version"]
