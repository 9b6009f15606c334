package connector

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
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/connector/secrets"
	"github.com/pa-connector/pa-connector/expr"
	"github.com/pa-connector/pa-connector/operations"
)

// NewLogger builds the one logger the process uses. Every line it writes is scrubbed of the
// secret values live holds (as JSON, before any console formatting).
func NewLogger(cfg Config, w io.Writer, live *secrets.Registry) zerolog.Logger {
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

// NewHandler wires the job handler: the shared base transport (pooled connections, proxy from
// the environment, host-checked dialer), token cache, expression cache, metrics. Each call's
// client stack is built on them by Egress.Client (see there for the order of its layers).
func NewHandler(cfg Config, hosts *HostPolicy, m *Metrics, logger zerolog.Logger) *Handler {
	var rt http.RoundTripper = NewBaseTransport(hosts, nil)
	if logger.GetLevel() <= zerolog.DebugLevel {
		rt = &logTransport{base: rt, log: logger}
	}
	// Token requests follow no redirects either (auth.NewCache makes sure of it).
	tokenClient := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	limits, err := ParseLimits(cfg.DataverseLimits)
	if err != nil {
		limits = &Limits{} // validated already; defaults as the last resort
	}
	compat := ""
	if cfg.HTTPJSONCompat {
		compat = CompatJobType
	}
	h := &Handler{
		Secrets:        &secrets.Resolver{Prefix: cfg.SecretPrefix, Dir: cfg.SecretsDir},
		Hosts:          hosts,
		Transport:      rt,
		Exprs:          &expr.Cache{},
		CompatType:     compat,
		MaxOutputBytes: cfg.MaxOutputBytes,
		Observe: func(op operations.Op, status int, d time.Duration) {
			m.Request(string(op), status, d)
		},
		OnThrottle: m.Throttled,
		Limits:     limits,
		JobTimeout: cfg.JobTimeout,
		Records:    NewRunRecords(string(cfg.CallbackKey)),
		Log:        logger,
	}
	// A token endpoint's refusal loses the secrets held (h.Live, set by the caller) before
	// auth quotes and cuts it.
	h.Tokens = auth.NewCache(tokenClient, auth.WithOnFetch(func(_ time.Duration, err error) { m.TokenFetch(err) }),
		auth.WithRedact(func(body []byte) []byte { return h.Live.JSON(body) }))
	return h
}

// Run runs the worker until ctx ends (SIGTERM), then drains and returns. live is the registry
// of secret values the logger scrubs (NewLogger): jobs hold theirs there while they run.
func Run(ctx context.Context, cfg Config, logger zerolog.Logger, live *secrets.Registry) error {
	// The worker's own credentials are never a job's to print.
	live.Pin(os.Getenv("ZEEBE_CLIENT_SECRET"), string(cfg.CallbackKey))

	// The Zeebe client logs through the standard logger; keep those lines in our format.
	log.SetFlags(0)
	log.SetOutput(zerologWriter{logger})

	hosts, err := NewHostPolicy(cfg.AllowedHosts)
	if err != nil {
		return err
	}
	metrics := NewMetrics()
	handler := NewHandler(cfg, hosts, metrics, logger)
	handler.Live = live

	client, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: "127.0.0.1:26500"})
	if err != nil {
		return err
	}
	defer client.Close()

	types := []string{cfg.JobType}
	fetch := append([]string{}, nativeVariables...)
	if cfg.HTTPJSONCompat {
		types = append(types, CompatJobType)
		fetch = append(fetch, restVariables...)
	}
	w := &Worker{
		Gateway:        client,
		Handler:        handler,
		Types:          types,
		Name:           cfg.WorkerName,
		FetchVariables: dedupe(fetch),
		MaxJobsActive:  cfg.MaxJobsActive,
		MaxJobsWaiting: cmp.Or(cfg.MaxJobsWaiting, -1), // 0 in the configuration: none
		JobTimeout:     cfg.JobTimeout,
		RequestTimeout: cfg.RequestTimeout,
		PollInterval:   cfg.PollInterval,
		Streaming:      cfg.Streaming,
		Grace:          cfg.ShutdownGrace,
		Log:            logger,
		Metrics:        metrics,
		Secrets:        live,
	}

	var callbacks http.Handler
	if cfg.PublicURL != "" {
		cb, err := NewCallbacks(cfg.PublicURL, string(cfg.CallbackKey))
		if err != nil {
			return fmt.Errorf("PA_CONNECTOR_CALLBACK_KEY: %w", err)
		}
		cb.Message, cb.MessageTTL, cb.TokenTTL, cb.SafetyPoll = cfg.CallbackMessage, cfg.CallbackMessageTTL, cfg.CallbackTokenTTL, cfg.CallbackSafetyPoll
		cb.Publisher, cb.Log = w, logger
		cb.RegisterMetrics(metrics)
		handler.Callbacks = cb
		callbacks = handler.CallbackReceiver()
	}

	var srv *http.Server
	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return err
		}
		srv, ln = newListenerServer(ln, mux(w, metrics, cfg.Pprof, callbacks))
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error().Err(err).Msg("HTTP listener failed")
			}
		}()
		logger.Info().Str("addr", ln.Addr().String()).Msg("serving /healthz, /readyz and /metrics")
		if callbacks != nil {
			logger.Info().Str("public_url", cfg.PublicURL).Str("message", cfg.CallbackMessage).
				Msg("serving POST " + CallbackPath + "{token}: triggers use completion callbacks")
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

func mux(w *Worker, m *Metrics, withPprof bool, callbacks http.Handler) http.Handler {
	mx := http.NewServeMux()
	if callbacks != nil {
		mx.Handle("POST "+CallbackPath+"{token}", callbacks)
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
	mx.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
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

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
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
