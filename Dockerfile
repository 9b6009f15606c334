# A static, shell-free image running as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/pa-connector ./cmd/pa-connector \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/dataverse-emulator ./cmd/dataverse-emulator

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/pa-connector /pa-connector
# The Zeebe client looks for a home directory at start; scratch has none.
ENV HOME=/tmp
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/pa-connector"]
