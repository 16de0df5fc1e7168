# A static provost binary on a distroless base, running as a non-root user.
#   docker build -t provost:dev .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/provost ./cmd/provost

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/provost /usr/local/bin/provost
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/provost"]
CMD ["serve", "--config", "/etc/provost/provost.yaml"]
