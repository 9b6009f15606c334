package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/callback"
)

const testCallbackKey = "callback-key-for-tests-0123456789abcdef"

func TestCallbackSettings(t *testing.T) {
	c, err := ParseConfig(nil, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "" || c.CallbackMessage != callback.DefaultMessage || c.CallbackMessageTTL != time.Hour ||
		c.CallbackTokenTTL != 0 || c.CallbackSafetyPoll != 5*time.Minute {
		t.Fatalf("callback defaults = %+v", c)
	}
	c, err = ParseConfig(nil, env(map[string]string{
		"PA_CONNECTOR_PUBLIC_URL": "https://pa.example.com/", "PA_CONNECTOR_CALLBACK_KEY": testCallbackKey,
		"PA_CONNECTOR_CALLBACK_MESSAGE": "run-done", "PA_CONNECTOR_CALLBACK_TOKEN_TTL": "PT12H",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.CallbackMessage != "run-done" || c.CallbackTokenTTL != 12*time.Hour || string(c.CallbackKey) != testCallbackKey {
		t.Fatalf("config = %+v", c)
	}
	// The key never prints.
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c)} {
		if strings.Contains(s, testCallbackKey) {
			t.Fatalf("the callback key shows in %q", s)
		}
	}
}

func TestCallbackKeyFromSecretsDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CallbackKeyFile), []byte(testCallbackKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(nil, env(map[string]string{"PA_CONNECTOR_PUBLIC_URL": "https://pa.example.com", "PA_CONNECTOR_SECRETS_DIR": dir}), nil)
	if err != nil || string(c.CallbackKey) != testCallbackKey {
		t.Fatalf("key from %s: %v", CallbackKeyFile, err)
	}
}

func TestCallbackSettingErrorsNameTheSetting(t *testing.T) {
	key := map[string]string{"PA_CONNECTOR_CALLBACK_KEY": testCallbackKey}
	with := func(m map[string]string) map[string]string {
		out := map[string]string{"PA_CONNECTOR_PUBLIC_URL": "https://pa.example.com"}
		for k, v := range key {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name, want string
		env        map[string]string
		args       []string
	}{
		{"no key", "PA_CONNECTOR_CALLBACK_KEY", map[string]string{"PA_CONNECTOR_PUBLIC_URL": "https://pa.example.com"}, nil},
		{"short key", "PA_CONNECTOR_CALLBACK_KEY", with(map[string]string{"PA_CONNECTOR_CALLBACK_KEY": "tooshort"}), nil},
		{"not a URL", "PA_CONNECTOR_PUBLIC_URL", with(map[string]string{"PA_CONNECTOR_PUBLIC_URL": "pa.example.com"}), nil},
		{"http to a DNS name", "https", with(map[string]string{"PA_CONNECTOR_PUBLIC_URL": "http://pa.example.com"}), nil},
		{"query", "PA_CONNECTOR_PUBLIC_URL", with(map[string]string{"PA_CONNECTOR_PUBLIC_URL": "https://pa.example.com/?a=b"}), nil},
		{"too long for a callback URL", "at most 256 characters", with(map[string]string{"PA_CONNECTOR_PUBLIC_URL": "https://pa.example.com/" + strings.Repeat("p", 256-22)}), nil},
		{"no listener", "PA_CONNECTOR_HTTP_ADDR", with(nil), []string{"--http-addr="}},
		{"token TTL", "PA_CONNECTOR_CALLBACK_TOKEN_TTL", with(map[string]string{"PA_CONNECTOR_CALLBACK_TOKEN_TTL": "5s"}), nil},
		{"safety poll", "PA_CONNECTOR_CALLBACK_SAFETY_POLL", with(map[string]string{"PA_CONNECTOR_CALLBACK_SAFETY_POLL": "10ms"}), nil},
		{"message", "PA_CONNECTOR_CALLBACK_MESSAGE", nil, []string{"--callback-message="}},
	}
	for _, c := range cases {
		_, err := ParseConfig(c.args, env(c.env), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to name %s", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), testCallbackKey) {
			t.Errorf("%s: the error quotes the key", c.name)
		}
	}
	if _, err := ParseConfig(nil, env(with(map[string]string{"PA_CONNECTOR_PUBLIC_URL": "http://127.0.0.1:8080"})), nil); err != nil {
		t.Fatalf("http to a loopback address (tests) should be allowed: %v", err)
	}
	if _, err := ParseConfig(nil, env(with(map[string]string{"PA_CONNECTOR_PUBLIC_URL": "https://pa.example.com/" + strings.Repeat("p", 256-23)})), nil); err != nil {
		t.Fatalf("a public URL of 256 characters should be allowed: %v", err)
	}
}

// The key signs records even without a public URL, so it is checked whenever it is set, and
// --help says what it is for.
func TestCallbackKeyCheckedWithoutPublicURL(t *testing.T) {
	env := map[string]string{"PA_CONNECTOR_CALLBACK_KEY": "short"}
	_, err := ParseConfig(nil, func(k string) string { return env[k] }, nil)
	if err == nil || !strings.Contains(err.Error(), "PA_CONNECTOR_CALLBACK_KEY must be at least 32 bytes") || strings.Contains(err.Error(), "short") {
		t.Fatalf("err = %v", err)
	}
	var help strings.Builder
	PrintHelp(&help)
	for _, w := range []string{"signs the run a trigger records", "random key per process", "same key on every replica"} {
		if !strings.Contains(help.String(), w) {
			t.Errorf("--help should say %q", w)
		}
	}
}
