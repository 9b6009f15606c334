// Command dataverse-emulator serves operations/dataversetest's emulator of
// Dataverse and Entra ID for desktop flows on a TCP port. Run it with -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	zerolog.TimeFieldFormat = time.RFC3339Nano // as pa-engine's logs
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run wires settings → emulator → listener and serves until ctx ends.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	s, err := parseArgs(args, lookup, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "dataverse-emulator:", err)
		return 2
	}
	log := zerolog.New(zerolog.SyncWriter(stderr)).With().Timestamp().Logger()
	opts, err := s.options()
	if err != nil {
		log.Error().Err(err).Msg("configuration")
		return 2
	}
	opts.Logger = log
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		log.Error().Err(err).Msg("listening")
		return 1
	}
	emu := dataversetest.NewHandler(opts)
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(stdout, url)
	log.Info().Str("url", url).Int("flows", len(opts.Flows)).Str("tenant", opts.Tenant).Msg("listening")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		emu.Close()
		log.Error().Err(err).Msg("serving")
		return 1
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	emu.Close() // ends fault delays and callback retries first, so Shutdown does not wait on them
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error().Err(err).Msg("shutting down")
		return 1
	}
	return 0
}
