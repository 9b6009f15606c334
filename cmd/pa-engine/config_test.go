package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHelpDocumentsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if _, err := load([]string{"--help"}, env(nil), &out); !errors.Is(err, errHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, s := range settings {
		for _, want := range []string{"--" + s.name, envName(s.name), s.help} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("--help lacks %q", want)
			}
		}
	}
}

func TestPrecedenceFlagOverEnvironmentOverDefault(t *testing.T) {
	c, err := load(nil, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Address != "127.0.0.1:26500" || c.BackpressureLimit != 0 || c.Records != c.DataDir+"/records.log" {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = load([]string{"--address", "127.0.0.1:1"}, env(map[string]string{"PA_ENGINE_ADDRESS": "127.0.0.1:2",
		"PA_ENGINE_BACKPRESSURE_LIMIT": "5", "PA_ENGINE_DATA_DIR": "/d"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Address != "127.0.0.1:1" || c.BackpressureLimit != 5 || c.DataDir != "/d" || c.Records != "/d/records.log" {
		t.Fatalf("flag over environment over default: %+v", c)
	}
}

func TestBadSettingsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--backpressure-limit", "-1"}, want: "backpressure-limit"},
		{env: map[string]string{"PA_ENGINE_SNAPSHOT_BYTES": "lots"}, want: "PA_ENGINE_SNAPSHOT_BYTES"},
		{args: []string{"--log-level", "loud"}, want: "--log-level"},
		{args: []string{"--tls-cert", "c.pem"}, want: "--tls-key"},
		{args: []string{"extra"}, want: `"extra"`},
	} {
		_, err := load(tc.args, env(tc.env), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want one naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}
