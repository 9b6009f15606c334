package connector

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	ok := map[string]time.Duration{"PT30S": 30 * time.Second, "PT0S": 0, "P1DT2H": 26 * time.Hour, "PT1M30.5S": 90*time.Second + 500*time.Millisecond, "PT2H": 2 * time.Hour, "P3D": 72 * time.Hour}
	for s, want := range ok {
		if got, err := parseDuration(s); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "P", "PT", "30s", "P1Y", "P1M", "PT-1S", "P1DT"} {
		if _, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) accepted", s)
		}
	}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		retries int32
		kind    string
		backoff time.Duration
	}{
		{"permanent", Permanentf("bad"), 0, "fail", 0},
		{"transient", &RetryError{Err: errors.New("x"), Backoff: time.Second}, 2, "fail", time.Second},
		{"throttled keeps retries", &RetryError{Err: errors.New("x"), Backoff: time.Minute, KeepRetries: true}, 3, "fail", time.Minute},
		{"unknown", errors.New("boom"), 2, "fail", 0},
		{"bpmn", &BPMNError{Code: "C"}, 0, "bpmn-error", 0},
	}
	for _, c := range cases {
		d := Decide(c.err, 3)
		if d.Kind != c.kind || d.Retries != c.retries || d.Backoff != c.backoff {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
	if d := Decide(errors.New("x"), 0); d.Retries != 0 {
		t.Errorf("retries went negative: %+v", d)
	}
}

// FuzzBindNative: any variables either bind or give an InputError; never a panic.
func FuzzBindNative(f *testing.F) {
	seeds := []string{
		`{"operationType":"triggerFlowRun","organizationUri":"https://o.crm.dynamics.com","authentication":{"type":"bearer","token":"t"},"workflowId":"6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6","connectionName":"c","runMode":"attended","connectionType":"2","runTimeout":"60","runInputs":{"a":1}}`,
		`{"operationType":"getStatusOfFlowRun","organizationUri":"https://o.crm.dynamics.com","authentication":{"type":"oauth-client-credentials-flow","oauthTokenEndpoint":"https://login.microsoftonline.com/t/oauth2/v2.0/token","clientId":"c","clientSecret":"s"},"flowSessionId":"6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"}`,
		`{"operationType":1}`, `{}`, `{"runTimeout":1e40}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeVariables(s)
		if err != nil {
			return
		}
		b, err := bindNative(v)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("bindNative error %T %v is not an InputError", err, err)
			}
			return
		}
		if b.call.URL == "" || b.creds == nil {
			t.Fatalf("bound without URL or credentials: %+v", b)
		}
		if b.call.Body != nil {
			var m map[string]any
			if err := json.Unmarshal(b.call.Body, &m); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if _, ok := m["connectionType"].(string); ok {
				t.Fatal("connectionType sent as a string")
			}
		}
	})
}

func FuzzBindREST(f *testing.F) {
	f.Add(`{"method":"post","url":"https://o.crm.dynamics.com/api/data/v9.2/workflows(6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6)/Microsoft.Dynamics.CRM.RunDesktopFlow","body":{"runMode":"attended","connectionName":"c","timeout":"60","connectionType":"1","inputs":{"x":1}}}`)
	f.Add(`{"method":"GET","url":"https://x.y/z","queryParameters":{"a":[1,2]},"headers":{"h":1}}`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeVariables(s)
		if err != nil {
			return
		}
		if _, err := bindREST(v); err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("bindREST error %T %v is not an InputError", err, err)
			}
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT30S", "P1DT2H3M4.5S", "P", "PT99999999999999999999S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("negative duration %v from %q", d, s)
		}
	})
}
