# syntax=docker/dockerfile:1
# Build a static binary, then run it as a non-root user in a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/chatbridge ./cmd/chatbridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chatbridge /usr/local/bin/chatbridge
COPY config.example.toml /etc/chatbridge/config.example.toml
WORKDIR /var/lib/chatbridge
USER nonroot:nonroot
# Mount the config at /etc/chatbridge/config.toml and a volume at /var/lib/chatbridge
# (set [storage] dir = "/var/lib/chatbridge/data"). Runs with --read-only: it writes only
# to the data volume (database, backups, control socket).
VOLUME ["/var/lib/chatbridge"]
# Needs [health] listen = "127.0.0.1:9090" (or 0.0.0.0:9090 to scrape /metrics).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/chatbridge", "healthcheck", "-url", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["/usr/local/bin/chatbridge"]
CMD ["run", "-config", "/etc/chatbridge/config.toml"]
