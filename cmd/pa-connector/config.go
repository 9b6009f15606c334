package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/callback"
	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/zeebe"
)

// Config is the worker's configuration. Every field is a flag and a PA_CONNECTOR_* environment
// variable; flags win over the environment, the environment over defaults. The Zeebe gateway
// connection comes from the Zeebe client's own variables (ZEEBE_ADDRESS, ...).
type Config struct {
	JobType         string
	HTTPJSONCompat  bool
	MaxJobsActive   int
	MaxJobsWaiting  int
	AllowedHosts    string
	SecretPrefix    string
	SecretsDir      string
	HTTPAddr        string
	LogLevel        string
	LogFormat       string
	JobTimeout      time.Duration
	Streaming       string
	RequestTimeout  time.Duration
	PollInterval    time.Duration
	ShutdownGrace   time.Duration
	MaxOutputBytes  int
	WorkerName      string
	Pprof           bool
	DataverseLimits string
	// Completion callbacks (docs/callbacks.md); off while PublicURL is empty.
	PublicURL          string
	CallbackKey        Secret
	CallbackMessage    string
	CallbackMessageTTL time.Duration
	CallbackTokenTTL   time.Duration
	CallbackSafetyPoll time.Duration
}

// Secret is a setting that must not be printed: it formats as *** (and "" when unset).
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// GoString keeps %#v from printing it either.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// CallbackKeyFile is the file in PA_CONNECTOR_SECRETS_DIR that holds the callback key when
// PA_CONNECTOR_CALLBACK_KEY is not set.
const CallbackKeyFile = "PA_CONNECTOR_CALLBACK_KEY"

type setting struct {
	name, env, def, help string
	set                  func(c *Config, v string) error
}

func durationSetter(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			if d2, err2 := connector.ParseDuration(v); err2 == nil {
				d, err = d2, nil
			}
		}
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 30s or PT30S, got %q", v)
		}
		*f(c) = d
		return nil
	}
}

func intSetter(f func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", v)
		}
		*f(c) = n
		return nil
	}
}

func boolSetter(f func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*f(c) = b
		return nil
	}
}

func strSetter(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

var settings = []setting{
	{"job-type", "PA_CONNECTOR_JOB_TYPE", "power-automate:1", "job type of the native Power Automate task", strSetter(func(c *Config) *string { return &c.JobType })},
	{"http-json-compat", "PA_CONNECTOR_HTTP_JSON_COMPAT", "false", "also serve " + connector.CompatJobType + " (Camunda's Power Automate template and plain REST tasks)", boolSetter(func(c *Config) *bool { return &c.HTTPJSONCompat })},
	{"max-jobs-active", "PA_CONNECTOR_MAX_JOBS_ACTIVE", "100", "jobs handled at once (and reserved: the worker activates no more)", intSetter(func(c *Config) *int { return &c.MaxJobsActive })},
	{"max-jobs-waiting", "PA_CONNECTOR_MAX_JOBS_WAITING", strconv.Itoa(zeebe.DefaultMaxJobsWaiting), "runFlowAndWait jobs waiting for their run, besides the active ones", intSetter(func(c *Config) *int { return &c.MaxJobsWaiting })},
	{"allowed-hosts", "PA_CONNECTOR_ALLOWED_HOSTS", egress.DefaultAllowedHosts, "comma-separated host patterns the worker may call (host, IP, *.domain, optional :port); https only, except hosts listed explicitly", strSetter(func(c *Config) *string { return &c.AllowedHosts })},
	{"secret-prefix", "PA_CONNECTOR_SECRET_PREFIX", "SECRET_", "{{secrets.NAME}} reads the environment variable PREFIX+NAME", strSetter(func(c *Config) *string { return &c.SecretPrefix })},
	{"secrets-dir", "PA_CONNECTOR_SECRETS_DIR", "", "directory whose file NAME holds the secret NAME (e.g. a mounted Kubernetes secret)", strSetter(func(c *Config) *string { return &c.SecretsDir })},
	{"http-addr", "PA_CONNECTOR_HTTP_ADDR", ":8080", "listener for /healthz, /readyz and /metrics (empty: none)", strSetter(func(c *Config) *string { return &c.HTTPAddr })},
	{"log-level", "PA_CONNECTOR_LOG_LEVEL", "info", "debug, info, warn or error", strSetter(func(c *Config) *string { return &c.LogLevel })},
	{"log-format", "PA_CONNECTOR_LOG_FORMAT", "json", "json or console", strSetter(func(c *Config) *string { return &c.LogFormat })},
	{"job-timeout", "PA_CONNECTOR_JOB_TIMEOUT", "5m", "how long an activated job is reserved for this worker", durationSetter(func(c *Config) *time.Duration { return &c.JobTimeout })},
	{"streaming", "PA_CONNECTOR_STREAMING", "auto", "job streaming: auto (when the gateway is 8.4 or newer), true or false", strSetter(func(c *Config) *string { return &c.Streaming })},
	{"request-timeout", "PA_CONNECTOR_REQUEST_TIMEOUT", "20s", "long-polling timeout of one activation request", durationSetter(func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"poll-interval", "PA_CONNECTOR_POLL_INTERVAL", "100ms", "pause after an empty poll while a job stream is open", durationSetter(func(c *Config) *time.Duration { return &c.PollInterval })},
	{"shutdown-grace", "PA_CONNECTOR_SHUTDOWN_GRACE", "20s", "on SIGTERM, how long in-flight jobs may finish before they are handed back", durationSetter(func(c *Config) *time.Duration { return &c.ShutdownGrace })},
	{"max-output-bytes", "PA_CONNECTOR_MAX_OUTPUT_BYTES", strconv.Itoa(connector.DefaultMaxOutputBytes), "largest JSON size of a job's output variables", intSetter(func(c *Config) *int { return &c.MaxOutputBytes })},
	{"worker-name", "PA_CONNECTOR_WORKER_NAME", "pa-connector", "worker name reported to Zeebe", strSetter(func(c *Config) *string { return &c.WorkerName })},
	{"dataverse-limits", "PA_CONNECTOR_DATAVERSE_LIMITS", "", "client-side service-protection limits per Dataverse caller, as concurrent=48,requests=5800,executionTime=19m,window=5m,triggersPerMinute=66 (defaults: just under Dataverse's documented limits)", strSetter(func(c *Config) *string { return &c.DataverseLimits })},
	{"pprof", "PA_CONNECTOR_PPROF", "false", "serve /debug/pprof on the HTTP listener", boolSetter(func(c *Config) *bool { return &c.Pprof })},
	{"public-url", "PA_CONNECTOR_PUBLIC_URL", "", "public HTTPS base URL at which Power Automate reaches POST /callbacks/ on the HTTP listener (e.g. https://pa.example.com); when set, triggers use completion callbacks instead of polling (see docs/callbacks.md)", strSetter(func(c *Config) *string { return &c.PublicURL })},
	{"callback-key", "PA_CONNECTOR_CALLBACK_KEY", "", "key (at least 32 bytes, e.g. openssl rand -base64 48) that signs the run a trigger records on its task, and signs and encrypts callback tokens; required with the public URL; never logged. Unset: read from the file " + CallbackKeyFile + " in the secrets directory; with neither, a random key per process, so a job redelivered after a restart or to another replica whose run was recorded becomes an incident (a run may have started) instead of resuming that run. Set the same key on every replica", func(c *Config, v string) error { c.CallbackKey = Secret(v); return nil }},
	{"callback-message", "PA_CONNECTOR_CALLBACK_MESSAGE", callback.DefaultMessage, "name of the Zeebe message published for a completed run (correlation key: the flow session id)", strSetter(func(c *Config) *string { return &c.CallbackMessage })},
	{"callback-message-ttl", "PA_CONNECTOR_CALLBACK_MESSAGE_TTL", "1h", "how long Zeebe keeps that message for a catch event not reached yet", durationSetter(func(c *Config) *time.Duration { return &c.CallbackMessageTTL })},
	{"callback-token-ttl", "PA_CONNECTOR_CALLBACK_TOKEN_TTL", "0", "lifetime of a callback URL; 0: the run's timeout plus 6h30m (a run may wait 6 hours for a machine)", durationSetter(func(c *Config) *time.Duration { return &c.CallbackTokenTTL })},
	{"callback-safety-poll", "PA_CONNECTOR_CALLBACK_SAFETY_POLL", "5m", "how often a runFlowAndWait job waiting for its callback reads the run's status anyway (a lost callback, or one taken by another replica)", durationSetter(func(c *Config) *time.Duration { return &c.CallbackSafetyPoll })},
}

// ErrHelp is returned by ParseConfig when --help was asked for; the help has been printed.
var ErrHelp = flag.ErrHelp

// ParseConfig reads settings from args and the environment (getenv).
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("pa-connector", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	given := map[string]*string{}
	for _, s := range settings {
		given[s.name] = fs.String(s.name, "", s.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			PrintHelp(out)
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, s := range settings {
		v, from := s.def, "default"
		if e := getenv(s.env); e != "" {
			v, from = e, s.env
		}
		if explicit[s.name] {
			v, from = *given[s.name], "--"+s.name
		}
		if err := s.set(&c, v); err != nil {
			return c, fmt.Errorf("%s: %w", from, err)
		}
	}
	if c.CallbackKey == "" && c.SecretsDir != "" {
		if b, err := os.ReadFile(filepath.Join(c.SecretsDir, CallbackKeyFile)); err == nil {
			c.CallbackKey = Secret(strings.TrimRight(string(b), "\r\n"))
		}
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if strings.TrimSpace(c.JobType) == "" {
		errs = append(errs, errors.New("PA_CONNECTOR_JOB_TYPE must not be empty"))
	}
	if c.MaxJobsActive < 1 || c.MaxJobsActive > 10000 {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_MAX_JOBS_ACTIVE must be between 1 and 10000, got %d", c.MaxJobsActive))
	}
	if c.MaxJobsWaiting < 0 || c.MaxJobsWaiting > 100000 {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_MAX_JOBS_WAITING must be between 0 and 100000, got %d", c.MaxJobsWaiting))
	}
	if _, err := egress.NewHostPolicy(c.AllowedHosts); err != nil {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_ALLOWED_HOSTS: %w", err))
	}
	if _, err := egress.ParseLimits(c.DataverseLimits); err != nil {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_DATAVERSE_LIMITS: %w", err))
	}
	if c.SecretPrefix == "" {
		errs = append(errs, errors.New("PA_CONNECTOR_SECRET_PREFIX must not be empty: an empty prefix would make every environment variable readable as a secret"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_LOG_LEVEL must be debug, info, warn or error, got %q", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_LOG_FORMAT must be json or console, got %q", c.LogFormat))
	}
	switch strings.ToLower(c.Streaming) {
	case "auto", "true", "false":
	default:
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_STREAMING must be auto, true or false, got %q", c.Streaming))
	}
	if c.JobTimeout < time.Second {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_JOB_TIMEOUT must be at least 1s, got %s", c.JobTimeout))
	}
	if c.RequestTimeout < time.Second {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_REQUEST_TIMEOUT must be at least 1s, got %s", c.RequestTimeout))
	}
	if c.MaxOutputBytes < 1024 || c.MaxOutputBytes > 4<<20 {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_MAX_OUTPUT_BYTES must be between 1024 and 4194304 (the gateway's message limit is 4 MB), got %d", c.MaxOutputBytes))
	}
	errs = append(errs, c.validateCallbacks()...)
	return errors.Join(errs...)
}

// PrintHelp documents every setting.
func PrintHelp(w io.Writer) {
	fmt.Fprint(w, `pa-connector: a Zeebe job worker that runs Microsoft Power Automate desktop flows
through the Dataverse Web API.

Usage: pa-connector [flags]
       pa-connector templates generate --help   element templates per desktop flow
       pa-connector expr eval|lint --help       evaluate an expression, lint a template

Settings (flag, environment variable, default):
`)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s\n      %s (default %s)\n      %s\n", s.name, s.env, def, s.help)
	}
	fmt.Fprint(w, `
Zeebe gateway (the Zeebe client's own variables):
  ZEEBE_ADDRESS                   gateway host:port (default 127.0.0.1:26500)
  ZEEBE_INSECURE_CONNECTION       true for a plaintext gateway (self-managed without TLS)
  ZEEBE_CA_CERTIFICATE_PATH       CA certificate for the gateway's TLS
  ZEEBE_CLIENT_ID, ZEEBE_CLIENT_SECRET, ZEEBE_AUTHORIZATION_SERVER_URL, ZEEBE_TOKEN_AUDIENCE,
  ZEEBE_TOKEN_SCOPE               OAuth for Camunda SaaS or an identity-secured gateway
  ZEEBE_KEEP_ALIVE                gRPC keep-alive interval

Secrets: {{secrets.NAME}} in a job variable reads PA_CONNECTOR_SECRET_PREFIX+NAME from the
environment, else the file NAME in PA_CONNECTOR_SECRETS_DIR.

HTTP: /healthz (alive), /readyz (gateway reachable, not draining), /metrics (Prometheus), and
with PA_CONNECTOR_PUBLIC_URL, POST /callbacks/{token} (Power Automate's completion callbacks).
A client has 5 s to send a request's headers, 15 s for the request, 60 s to read the answer and
30 s idle between requests; at most 64 connections are held (a quarter of RLIMIT_NOFILE when
lower), the longest-idle one closed for a new one.

Outbound (Dataverse, Entra ID, REST calls):
  HTTPS_PROXY, HTTP_PROXY         proxy for https and http requests (lower-case names too)
  NO_PROXY                        hosts reached directly, as Go's http.ProxyFromEnvironment reads
                                  them; loopback targets are never proxied
  SSL_CERT_FILE, SSL_CERT_DIR     CA certificates trusted for HTTPS instead of the system's (Go
                                  reads them on Linux and BSD), e.g. dataverse-emulator's
                                  -tls-ca-out file
  PA_CONNECTOR_ALLOWED_HOSTS keeps applying to the target, checked before the proxy is asked; the
  proxy itself is reached wherever it is. No redirect is ever followed (a 3xx is an incident
  naming the Location's host).
Signals: SIGTERM or SIGINT stop activation, let in-flight jobs finish within the grace period,
hand the rest back with their retries unchanged, and exit 0.
`)
}

// validateCallbacks checks the callback settings; its messages never quote the key.
func (c *Config) validateCallbacks() []error {
	var errs []error
	if strings.TrimSpace(c.CallbackMessage) == "" {
		errs = append(errs, errors.New("PA_CONNECTOR_CALLBACK_MESSAGE must not be empty"))
	}
	if c.CallbackMessageTTL > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_CALLBACK_MESSAGE_TTL must be at most 168h, got %s", c.CallbackMessageTTL))
	}
	if c.CallbackTokenTTL != 0 && (c.CallbackTokenTTL < time.Minute || c.CallbackTokenTTL > 7*24*time.Hour) {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_CALLBACK_TOKEN_TTL must be 0 (the run's timeout plus a margin) or between 1m and 168h, got %s", c.CallbackTokenTTL))
	}
	if c.CallbackSafetyPoll < time.Second || c.CallbackSafetyPoll > 24*time.Hour {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_CALLBACK_SAFETY_POLL must be between 1s and 24h, got %s", c.CallbackSafetyPoll))
	}
	if c.CallbackKey != "" && len(c.CallbackKey) < callback.MinKeyBytes {
		// It signs the runs triggers record, with or without a public URL.
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_CALLBACK_KEY must be at least %d bytes, got %d (e.g. openssl rand -base64 48)", callback.MinKeyBytes, len(c.CallbackKey)))
	}
	if c.PublicURL == "" {
		return errs
	}
	u, err := url.Parse(c.PublicURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_PUBLIC_URL must be an absolute URL such as https://pa.example.com, got %q", cut(c.PublicURL, 80)))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		errs = append(errs, errors.New("PA_CONNECTOR_PUBLIC_URL must not have a query, fragment or user info"))
	case utf8.RuneCountInString(strings.TrimRight(c.PublicURL, "/")) > callback.MaxPublicURL:
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_PUBLIC_URL must be at most %d characters, got %d: a callback URL (public URL + token) must fit the %d characters Dataverse stores", callback.MaxPublicURL, utf8.RuneCountInString(c.PublicURL), operations.MaxCallbackURL))
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_PUBLIC_URL must be https (Power Automate calls back only over HTTPS, to a DNS name); http is for a loopback address in tests, got %q", c.PublicURL))
	}
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("PA_CONNECTOR_PUBLIC_URL needs the HTTP listener (PA_CONNECTOR_HTTP_ADDR) to receive callbacks"))
	}
	if c.CallbackKey == "" {
		errs = append(errs, fmt.Errorf("PA_CONNECTOR_CALLBACK_KEY is required with PA_CONNECTOR_PUBLIC_URL (or the file %s in PA_CONNECTOR_SECRETS_DIR)", CallbackKeyFile))
	}
	return errs
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cut shortens a setting quoted in a message to n bytes.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
