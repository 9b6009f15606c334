// Command pa-engine runs the project's process engine: the Zeebe gateway gRPC API on
// --address, durable state in --data-dir, records in --records, health and metrics on
// --monitoring-address. See docs/engine.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	// Zeebe's gateway accepts gzip-compressed requests, and the Node SDK always sends them.
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/keepalive"

	"github.com/pa-connector/pa-connector/engine"
	"github.com/pa-connector/pa-connector/engine/export"
	"github.com/pa-connector/pa-connector/engine/gateway"
)

func main() {
	cfg, err := load(os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pa-engine:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "pa-engine:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config) error {
	level, _ := zerolog.ParseLevel(cfg.LogLevel)
	zerolog.TimeFieldFormat = time.RFC3339Nano
	log := zerolog.New(os.Stderr).Level(level).With().Timestamp().Str("service", "pa-engine").Logger()
	start := time.Now()

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	var exp *export.File
	opts := engine.Options{DataDir: cfg.DataDir, BackpressureLimit: cfg.BackpressureLimit, SnapshotBytes: cfg.SnapshotBytes, Log: log}
	if cfg.Records != "off" {
		var err error
		if exp, err = export.Open(cfg.Records, cfg.RecordsMaxBytes); err != nil {
			return fmt.Errorf("--records: %w", err)
		}
		defer exp.Close()
		opts.Exporter = exp
	}
	eng, err := engine.Open(opts)
	if err != nil {
		return err
	}
	defer eng.Close()

	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("--address: %w", err)
	}
	srvOpts := []grpc.ServerOption{
		// The Zeebe clients ping every 45 s (Zeebe allows every 30 s); gRPC-Go's default policy
		// (5 min) would answer with GOAWAY.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(4 << 20),
	}
	if cfg.TLSCert != "" {
		creds, err := credentials.NewServerTLSFromFile(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		srvOpts = append(srvOpts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(srvOpts...)
	gw := gateway.New(eng, ln.Addr())
	pb.RegisterGatewayServer(srv, gw)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var mon *http.Server
	monAddr := ""
	if cfg.MonitoringAddress != "off" {
		mln, err := net.Listen("tcp", cfg.MonitoringAddress)
		if err != nil {
			return fmt.Errorf("--monitoring-address: %w", err)
		}
		monAddr = mln.Addr().String()
		mon = &http.Server{Handler: monitoring(eng), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
		go func() { _ = mon.Serve(mln) }()
	}
	log.Info().Str("address", ln.Addr().String()).Str("monitoring", monAddr).Str("data_dir", cfg.DataDir).
		Str("records", cfg.Records).Int64("ready_ms", time.Since(start).Milliseconds()).Msg("ready")

	select {
	case <-ctx.Done():
		log.Info().Msg("stopping")
	case err := <-served:
		return fmt.Errorf("serving gRPC: %w", err)
	}
	gw.Shutdown()
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop() // open job streams and long polls do not end by themselves
	}
	if mon != nil {
		_ = mon.Close()
	}
	if err := eng.Close(); err != nil {
		return fmt.Errorf("closing the engine: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

func monitoring(eng *engine.Engine) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	st := eng.Stats()
	counter := func(name, help string, f func() int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pa_engine_" + name, Help: help},
			func() float64 { return float64(f()) }))
	}
	counter("commands_total", "Commands processed (client and internal).", st.Commands.Load)
	counter("records_total", "Records written.", st.Records.Load)
	counter("batches_total", "Batches made durable with one fsync each.", st.Batches.Load)
	counter("rejections_total", "Commands rejected.", st.Rejected.Load)
	counter("backpressure_refusals_total", "Commands refused with RESOURCE_EXHAUSTED.", st.Refused.Load)
	counter("snapshots_total", "Snapshots written.", st.Snapshots.Load)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-eng.Done():
			http.Error(w, "stopped", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ready")
		}
	})
	return mux
}
