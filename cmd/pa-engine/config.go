package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// config is pa-engine's configuration: every setting is a flag and a PA_ENGINE_* environment
// variable; a flag wins over the environment, the environment over the default.
type config struct {
	Address           string
	DataDir           string
	Records           string
	RecordsMaxBytes   int64
	MonitoringAddress string
	BackpressureLimit int
	SnapshotBytes     int64
	LogLevel          string
	TLSCert           string
	TLSKey            string
}

type setting struct {
	name, def, help string
	set             func(c *config, v string) error
}

func str(f func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *f(c) = v; return nil }
}

func integer(name string, f func(*config) *int64) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: %q is not a whole number >= 0", name, v)
		}
		*f(c) = n
		return nil
	}
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "pa-engine")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "pa-engine")
	}
	return filepath.Join(os.TempDir(), "pa-engine")
}

var settings = []setting{
	{"address", "127.0.0.1:26500", "gRPC listen address of the Zeebe gateway API (host:port); 127.0.0.1 keeps it off the network",
		str(func(c *config) *string { return &c.Address })},
	{"data-dir", defaultDataDir(), "directory of the command log and snapshots: everything acknowledged survives kill -9; a new directory is a fresh engine",
		str(func(c *config) *string { return &c.DataDir })},
	{"records", "", `file of exported records, one JSON record per line in Zeebe's record shape (default DATA_DIR/records.log; "off" exports nothing)`,
		str(func(c *config) *string { return &c.Records })},
	{"records-max-bytes", "1073741824", "rotate the records file to FILE.1 past this size (0: never)",
		integer("records-max-bytes", func(c *config) *int64 { return &c.RecordsMaxBytes })},
	{"monitoring-address", "127.0.0.1:9600", `listen address of /healthz, /readyz and /metrics ("off": none; port 0 picks a free port, logged at start)`,
		str(func(c *config) *string { return &c.MonitoringAddress })},
	{"backpressure-limit", "0", "refuse commands other than complete, fail, cancel and deploy with RESOURCE_EXHAUSTED while more than this many are in flight (0: never)",
		func(c *config, v string) error {
			var n int64
			if err := integer("backpressure-limit", func(*config) *int64 { return &n })(c, v); err != nil {
				return err
			}
			c.BackpressureLimit = int(n)
			return nil
		}},
	{"snapshot-bytes", "8388608", "write a snapshot and drop the log before it once the log grows past this size (bounds the replay after a crash: about 1 s per 8 MiB here)",
		integer("snapshot-bytes", func(c *config) *int64 { return &c.SnapshotBytes })},
	{"log-level", "info", "debug, info, warn or error (JSON lines on stderr)",
		str(func(c *config) *string { return &c.LogLevel })},
	{"tls-cert", "", "PEM certificate (chain) to serve gRPC over TLS; with --tls-key",
		str(func(c *config) *string { return &c.TLSCert })},
	{"tls-key", "", "PEM private key for --tls-cert",
		str(func(c *config) *string { return &c.TLSKey })},
}

func envName(name string) string {
	return "PA_ENGINE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

var errHelp = errors.New("help requested")

// load reads defaults, then the environment, then the flags.
func load(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	for _, s := range settings {
		v := s.def
		if e := getenv(envName(s.name)); e != "" {
			v = e
		}
		if err := s.set(c, v); err != nil {
			return nil, fmt.Errorf("%s: %w", envName(s.name), err)
		}
	}
	fs := flag.NewFlagSet("pa-engine", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range settings {
		s := s
		fs.Func(s.name, s.help, func(v string) error { return s.set(c, v) })
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(out)
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if c.Records == "" {
		c.Records = filepath.Join(c.DataDir, "records.log")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", c.LogLevel)
	}
	return c, nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `pa-engine: a single-node process engine that serves Zeebe 8.5's gateway gRPC API, for the
pa-connector demo, tests, benchmarks and for trying processes without a cluster (docs/engine.md).

Usage: pa-engine [flags]

Every flag can also be set by its environment variable; a flag wins.

`)
	for _, s := range settings {
		fmt.Fprintf(w, "  --%s (%s)\n      %s", s.name, envName(s.name), s.help)
		if s.def != "" {
			fmt.Fprintf(w, " [default %s]", s.def)
		}
		fmt.Fprintln(w)
	}
}
