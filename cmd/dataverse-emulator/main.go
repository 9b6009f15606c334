// Command dataverse-emulator serves operations/dataversetest's emulator of
// Dataverse and Entra ID for desktop flows on a TCP port. Run it with -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	opts, err := s.options()
	if err != nil {
		log.Error("configuration", "error", err.Error())
		return 2
	}
	opts.Logger = log
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		log.Error("listening", "error", err.Error())
		return 1
	}
	emu := dataversetest.NewHandler(opts)
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(stdout, url)
	log.Info("listening", "url", url, "flows", len(opts.Flows), "tenant", opts.Tenant)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		emu.Close()
		log.Error("serving", "error", err.Error())
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	emu.Close() // ends fault delays and callback retries first, so Shutdown does not wait on them
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutting down", "error", err.Error())
		return 1
	}
	return 0
}
