package connector

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/expr"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// Options are what NewHandler builds a handler from; cmd/pa-connector fills them from its
// configuration.
type Options struct {
	Hosts  *egress.HostPolicy
	Limits *egress.Limits // nil: no client-side limits
	// SecretPrefix and SecretsDir say where {{secrets.NAME}} is read (secrets.Resolver).
	SecretPrefix, SecretsDir string
	// Compat serves CompatJobType with Camunda's REST connector contract.
	Compat         bool
	MaxOutputBytes int
	JobTimeout     time.Duration
	// RecordKey signs the runs triggers record (PA_CONNECTOR_CALLBACK_KEY; "": a random key
	// of this process).
	RecordKey string
	Metrics   *egress.Metrics // nil: none
	// Live holds the secret values in use in the process (the logger scrubs them).
	Live *secrets.Registry
	Log  zerolog.Logger
}

// NewHandler wires the job handler: the shared base transport (pooled connections, proxy from
// the environment, host-checked dialer), token cache, expression cache, metrics. Each call's
// client stack is built on them by egress.Egress.Client (see there for the order of its layers).
func NewHandler(o Options) *Handler {
	var rt http.RoundTripper = egress.NewBaseTransport(o.Hosts, nil)
	if o.Log.GetLevel() <= zerolog.DebugLevel {
		rt = egress.LogRequests(rt, o.Log)
	}
	// Token requests follow no redirects either (auth.NewCache makes sure of it).
	tokenClient := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	compat := ""
	if o.Compat {
		compat = CompatJobType
	}
	m := o.Metrics
	h := &Handler{
		Secrets:        &secrets.Resolver{Prefix: o.SecretPrefix, Dir: o.SecretsDir},
		Live:           o.Live,
		Hosts:          o.Hosts,
		Transport:      rt,
		Exprs:          &expr.Cache{},
		CompatType:     compat,
		MaxOutputBytes: o.MaxOutputBytes,
		Observe: func(op operations.Op, status int, d time.Duration) {
			m.Request(string(op), status, d)
		},
		OnThrottle: m.Throttled,
		Limits:     o.Limits,
		JobTimeout: o.JobTimeout,
		Records:    NewRunRecords(o.RecordKey),
		Tables:     &operations.Tables{},
		Log:        o.Log,
	}
	// A token endpoint's refusal loses the secrets held (h.Live) before auth quotes and cuts it.
	h.Tokens = auth.NewCache(tokenClient, auth.WithOnFetch(func(_ time.Duration, err error) { m.TokenFetch(err) }),
		auth.WithRedact(func(body []byte) []byte { return h.Live.JSON(body) }))
	return h
}

// FetchVariables are the variables the worker activates jobs with: the native job type's and,
// with compat, those of Camunda's REST connector; each once.
func FetchVariables(compat bool) []string {
	vars := append([]string{}, nativeVariables...)
	if compat {
		vars = append(vars, restVariables...)
	}
	seen := map[string]bool{}
	out := vars[:0]
	for _, v := range vars {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
