# A static provost binary on a distroless base, running as a non-root user
# (uid 65532). docs/install.md says how to run it.
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t provost:dev .
#   docker run --rm provost:dev --version
FROM golang:1.26 AS build
# VERSION is what `provost --version` prints (-ldflags -X main.version).
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: a static binary (the SQLite driver is pure Go), nothing to
# link at run time. The data directory is made here so that a fresh volume
# mounted on it belongs to the non-root user.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/provost ./cmd/provost && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/provost /usr/local/bin/provost
COPY --from=build --chown=65532:65532 /out/data /var/lib/provost
USER nonroot:nonroot
# The configuration is mounted at /etc/provost; the data directory is
# /var/lib/provost (--data-dir below, over data_dir in the file): mount a volume
# there (server.secret, evidence log, stores).
ENTRYPOINT ["/usr/local/bin/provost"]
CMD ["serve", "--config", "/etc/provost/provost.yaml", "--data-dir", "/var/lib/provost"]
