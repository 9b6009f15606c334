package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/callback"
	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/secrets"
	"github.com/pa-connector/pa-connector/zeebe"
)

// newLogger builds the one logger the process uses. Every line it writes is scrubbed of the
// secret values live holds (as JSON, before any console formatting).
func newLogger(cfg Config, w io.Writer, live *secrets.Registry) zerolog.Logger {
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	w = live.Writer(w)
	lvl, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// run wires the worker (configuration → dependencies) and runs it until ctx ends (SIGTERM),
// then drains and returns. live is the registry of secret values the logger scrubs
// (newLogger): jobs hold theirs there while they run.
//
// Who knows whom: the Zeebe adapter (zeebe.Worker) runs jobs with the handler
// (connector.Handler), which calls out through egress and issues callback URLs
// (callback.Callbacks); the callback receiver (callback.Receiver) has the handler read runs and
// publishes messages with a zeebe.Publisher on the gateway client. No object refers back.
func run(ctx context.Context, cfg Config, logger zerolog.Logger, live *secrets.Registry) error {
	// The worker's own credentials are never a job's to print.
	live.Pin(os.Getenv("ZEEBE_CLIENT_SECRET"), string(cfg.CallbackKey))

	// The Zeebe client logs through the standard logger; keep those lines in our format.
	log.SetFlags(0)
	log.SetOutput(zerologWriter{logger})

	hosts, err := egress.NewHostPolicy(cfg.AllowedHosts)
	if err != nil {
		return err
	}
	limits, err := egress.ParseLimits(cfg.DataverseLimits)
	if err != nil {
		limits = &egress.Limits{} // validated already; defaults as the last resort
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler := connector.NewHandler(connector.Options{
		Hosts: hosts, Limits: limits, SecretPrefix: cfg.SecretPrefix, SecretsDir: cfg.SecretsDir,
		Compat: cfg.HTTPJSONCompat, MaxOutputBytes: cfg.MaxOutputBytes, JobTimeout: cfg.JobTimeout,
		RecordKey: string(cfg.CallbackKey), Metrics: egress.NewMetrics(registry), Live: live, Log: logger,
	})

	client, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: "127.0.0.1:26500"})
	if err != nil {
		return err
	}
	defer client.Close()

	types := []string{cfg.JobType, spec.Dataverse.Type}
	if cfg.HTTPJSONCompat {
		types = append(types, connector.CompatJobType)
	}
	w := &zeebe.Worker{
		Gateway:        client,
		Handler:        handler,
		Types:          types,
		Name:           cfg.WorkerName,
		FetchVariables: connector.FetchVariables(cfg.HTTPJSONCompat),
		MaxJobsActive:  cfg.MaxJobsActive,
		MaxJobsWaiting: cmp.Or(cfg.MaxJobsWaiting, -1), // 0 in the configuration: none
		JobTimeout:     cfg.JobTimeout,
		RequestTimeout: cfg.RequestTimeout,
		PollInterval:   cfg.PollInterval,
		Streaming:      cfg.Streaming,
		Grace:          cfg.ShutdownGrace,
		Log:            logger,
		Metrics:        zeebe.NewMetrics(registry),
		Secrets:        live,
	}

	var callbacks http.Handler
	if cfg.PublicURL != "" {
		cb, err := callback.New(cfg.PublicURL, string(cfg.CallbackKey))
		if err != nil {
			return fmt.Errorf("PA_CONNECTOR_CALLBACK_KEY: %w", err)
		}
		cb.TokenTTL, cb.SafetyPoll = cfg.CallbackTokenTTL, cfg.CallbackSafetyPoll
		handler.Callbacks = cb
		rc := &callback.Receiver{Callbacks: cb, Runs: handler, Publisher: zeebe.Publisher{Gateway: client},
			Message: cfg.CallbackMessage, MessageTTL: cfg.CallbackMessageTTL, MaxOutputBytes: cfg.MaxOutputBytes,
			Live: live, Log: logger}
		rc.RegisterMetrics(registry)
		callbacks = rc
	}

	var srv *http.Server
	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return err
		}
		srv, ln = newListenerServer(ln, mux(w, registry, cfg.Pprof, callbacks))
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error().Err(err).Msg("HTTP listener failed")
			}
		}()
		logger.Info().Str("addr", ln.Addr().String()).Msg("serving /healthz, /readyz and /metrics")
		if callbacks != nil {
			logger.Info().Str("public_url", cfg.PublicURL).Str("message", cfg.CallbackMessage).
				Msg("serving POST " + callback.Path + "{token}: triggers use completion callbacks")
		}
	}
	if handler.Records.Ephemeral() {
		logger.Warn().Msg("PA_CONNECTOR_CALLBACK_KEY is not set: started runs are recorded under a random key of this process, " +
			"so a trigger job redelivered after a restart or to another replica becomes an incident (a run may have started) instead of resuming its run; " +
			"set the same key on every replica")
	}
	logger.Info().Strs("job_types", types).Int("max_jobs_active", cfg.MaxJobsActive).
		Str("gateway", gatewayAddress()).Msg("pa-connector starting")
	err = w.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	return err
}

// ready is what /readyz asks: the worker's readiness.
type ready interface{ Ready() bool }

func mux(w ready, reg *prometheus.Registry, withPprof bool, callbacks http.Handler) http.Handler {
	mx := http.NewServeMux()
	if callbacks != nil {
		mx.Handle("POST "+callback.Path+"{token}", callbacks)
	}
	mx.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, `{"status":"UP"}`)
	})
	mx.HandleFunc("/readyz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		if !w.Ready() {
			rw.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(rw, `{"status":"DOWN"}`)
			return
		}
		_, _ = io.WriteString(rw, `{"status":"UP"}`)
	})
	mx.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if withPprof {
		mx.HandleFunc("/debug/pprof/", pprof.Index)
		mx.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mx.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mx.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mx
}

func gatewayAddress() string {
	if a := os.Getenv("ZEEBE_ADDRESS"); a != "" {
		return a
	}
	return "127.0.0.1:26500"
}

// zerologWriter turns standard-library log lines (from the Zeebe client) into warn lines.
type zerologWriter struct{ log zerolog.Logger }

func (z zerologWriter) Write(p []byte) (int, error) {
	msg := string(p)
	for len(msg) > 0 && (msg[len(msg)-1] == '\n') {
		msg = msg[:len(msg)-1]
	}
	z.log.Warn().Str("source", "zeebe-client").Msg(msg)
	return len(p), nil
}
