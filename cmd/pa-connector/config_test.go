package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/zeebe"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaultsEnvAndFlags(t *testing.T) {
	c, err := ParseConfig(nil, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.JobType != "power-automate:1" || c.SecretPrefix != "SECRET_" || c.MaxJobsActive != 100 || c.MaxJobsWaiting != zeebe.DefaultMaxJobsWaiting || c.HTTPJSONCompat ||
		c.JobTimeout != 5*time.Minute || c.Streaming != "auto" || c.MaxOutputBytes != connector.DefaultMaxOutputBytes {
		t.Fatalf("defaults = %+v", c)
	}
	c, err = ParseConfig([]string{"--max-jobs-active", "7"}, env(map[string]string{
		"PA_CONNECTOR_MAX_JOBS_ACTIVE": "50", "PA_CONNECTOR_HTTP_JSON_COMPAT": "true", "PA_CONNECTOR_JOB_TIMEOUT": "PT2M",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxJobsActive != 7 || !c.HTTPJSONCompat || c.JobTimeout != 2*time.Minute {
		t.Fatalf("flag should win over env, env over default: %+v", c)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	cases := map[string]map[string]string{
		"PA_CONNECTOR_MAX_JOBS_ACTIVE":  {"PA_CONNECTOR_MAX_JOBS_ACTIVE": "lots"},
		"PA_CONNECTOR_MAX_JOBS_WAITING": {"PA_CONNECTOR_MAX_JOBS_WAITING": "-1"},
		"PA_CONNECTOR_SECRET_PREFIX":    {"PA_CONNECTOR_SECRET_PREFIX": ""},
		"PA_CONNECTOR_LOG_LEVEL":        {"PA_CONNECTOR_LOG_LEVEL": "chatty"},
		"PA_CONNECTOR_ALLOWED_HOSTS":    {"PA_CONNECTOR_ALLOWED_HOSTS": "https://x"},
		"PA_CONNECTOR_STREAMING":        {"PA_CONNECTOR_STREAMING": "maybe"},
		"PA_CONNECTOR_MAX_OUTPUT_BYTES": {"PA_CONNECTOR_MAX_OUTPUT_BYTES": "99999999"},
		"PA_CONNECTOR_DATAVERSE_LIMITS": {"PA_CONNECTOR_DATAVERSE_LIMITS": "requests=many"},
	}
	for name, e := range cases {
		if name == "PA_CONNECTOR_SECRET_PREFIX" {
			// An explicitly empty prefix can only come from the flag (an empty env var means unset).
			_, err := ParseConfig([]string{"--secret-prefix="}, env(nil), nil)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("empty prefix: %v", err)
			}
			continue
		}
		_, err := ParseConfig(nil, env(e), nil)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want it named", name, err)
		}
	}
}

func TestHelpDocumentsEverySetting(t *testing.T) {
	var out bytes.Buffer
	_, err := ParseConfig([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), "--"+s.name) || !strings.Contains(out.String(), s.env) {
			t.Errorf("--help does not document %s / %s", s.name, s.env)
		}
	}
	for _, z := range []string{"ZEEBE_ADDRESS", "ZEEBE_CLIENT_SECRET", "ZEEBE_INSECURE_CONNECTION"} {
		if !strings.Contains(out.String(), z) {
			t.Errorf("--help does not mention %s", z)
		}
	}
}

func TestParseLimits(t *testing.T) {
	l, err := egress.ParseLimits("concurrent=10, executionTime=4s,window=10s")
	if err != nil || l.Concurrent != 10 || l.ExecutionTime != 4*time.Second || l.Window != 10*time.Second || l.Requests != 0 {
		t.Fatalf("ParseLimits = %+v, %v", l, err)
	}
	for _, bad := range []string{"speed=1", "requests", "window=1ms", "concurrent=x"} {
		if _, err := egress.ParseLimits(bad); err == nil {
			t.Errorf("egress.ParseLimits(%q) accepted", bad)
		}
	}
}

// --help documents the proxy variables and the listener's limits as they are in the code.
func TestHelpDocumentsProxyAndListenerLimits(t *testing.T) {
	var b strings.Builder
	PrintHelp(&b)
	help := b.String()
	for _, want := range []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "No redirect is ever followed",
		fmt.Sprintf("%d s to send a request's headers", int(listenerReadHeaderTimeout.Seconds())),
		fmt.Sprintf("%d s for the request", int(listenerReadTimeout.Seconds())),
		fmt.Sprintf("%d s to read the answer", int(listenerWriteTimeout.Seconds())),
		fmt.Sprintf("%d s idle", int(listenerIdleTimeout.Seconds())),
		fmt.Sprintf("at most %d connections", listenerMaxConns)} {
		if !strings.Contains(strings.Join(strings.Fields(help), " "), want) {
			t.Errorf("--help does not say %q", want)
		}
	}
}
