// Command dataverse-emulator serves operations/dataversetest's emulator of
// Dataverse and Entra ID for desktop flows on a TCP port. Run it with -help.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
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
	if opts.Tenant == "" {
		opts.Tenant = dataversetest.DefaultTenant
	}
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		log.Error().Err(err).Msg("listening")
		return 1
	}
	var tokenLn net.Listener
	if s.tokenListen != "" {
		if tokenLn, err = net.Listen("tcp", s.tokenListen); err != nil {
			ln.Close()
			log.Error().Err(err).Msg("listening for the token endpoint")
			return 1
		}
	}
	tlsConfig, err := s.tlsConfig(ln, tokenLn)
	if err != nil {
		ln.Close()
		if tokenLn != nil {
			tokenLn.Close()
		}
		log.Error().Err(err).Msg("TLS")
		return 2
	}
	scheme := "http://"
	if tlsConfig != nil {
		scheme = "https://"
	}
	url := scheme + ln.Addr().String()
	opts.Organizations = append(opts.Organizations, url)
	opts.SeparateTokenEndpoint = tokenLn != nil
	emu := dataversetest.NewHandler(opts)
	servers := []*http.Server{{Handler: emu, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}}
	listeners := []net.Listener{ln}
	fmt.Fprintln(stdout, url)
	ev := log.Info().Str("url", url).Int("flows", len(opts.Flows)).Str("tenant", opts.Tenant).Int("app_users", len(opts.AppUsers))
	if tokenLn != nil {
		tokenURL := scheme + tokenLn.Addr().String() + "/" + opts.Tenant + "/oauth2/v2.0/token"
		fmt.Fprintln(stdout, tokenURL)
		ev = ev.Str("token_url", tokenURL)
		servers = append(servers, &http.Server{Handler: emu.TokenHandler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig})
		listeners = append(listeners, tokenLn)
	}
	ev.Msg("listening")

	served := make(chan error, len(servers))
	for i, srv := range servers {
		l := listeners[i]
		if tlsConfig != nil {
			l = tls.NewListener(l, tlsConfig)
		}
		go func() { served <- srv.Serve(l) }()
	}
	select {
	case err := <-served:
		emu.Close()
		for _, srv := range servers {
			srv.Close()
		}
		log.Error().Err(err).Msg("serving")
		return 1
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	emu.Close() // ends fault delays and callback retries first, so Shutdown does not wait on them
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := 0
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Error().Err(err).Msg("shutting down")
			code = 1
		}
	}
	return code
}

// tlsConfig is nil for plain HTTP; else the given certificate's, or a
// self-signed CA's whose PEM is written to tlsCAOut, for the listeners'
// hosts, localhost and 127.0.0.1.
func (s settings) tlsConfig(lns ...net.Listener) (*tls.Config, error) {
	if !s.tls() {
		return nil, nil
	}
	if s.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	for _, l := range lns {
		if l == nil {
			continue
		}
		if h, _, err := net.SplitHostPort(l.Addr().String()); err == nil && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	cfg, caPEM, err := dataversetest.SelfSignedTLS(hosts...)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.tlsCAOut, caPEM, 0o644); err != nil {
		return nil, fmt.Errorf("-tls-ca-out: %w", err)
	}
	return cfg, nil
}
