//go:build integration

package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDataverseTwoHostsTLS runs the worker against Dataverse laid out as in production: the
// organization over HTTPS (a self-signed CA the worker trusts through SSL_CERT_FILE), the token
// endpoint on a host of its own, and the client an application user with a role. The trigger
// gets its token from the token host for the organization and runs; an app the environment does
// not know is an incident naming Dataverse's 0x80072560 and starts nothing.
func TestDataverseTwoHostsTLS(t *testing.T) {
	const stranger = "99999999-2222-3333-4444-555555555555"
	cfg := exampleConfig()
	cfg["clients"] = map[string]string{clientID: clientSec, stranger: clientSec}
	dir := t.TempDir()
	path, caFile := filepath.Join(dir, "emulator.json"), filepath.Join(dir, "ca.pem")
	raw, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, emulatorBin, nil, "-listen", "127.0.0.1:0", "-token-listen", "127.0.0.1:0", "-tls-ca-out", caFile, "-config", path)
	// stdout's two URL lines, not the JSON log line on stderr that names both.
	var org, tokenURL string
	deadline := time.After(20 * time.Second)
	for org == "" || tokenURL == "" {
		select {
		case l := <-p.lines:
			l = strings.TrimSpace(l)
			switch {
			case !strings.HasPrefix(l, "https://"):
			case strings.HasSuffix(l, "/oauth2/v2.0/token"):
				tokenURL = l
			default:
				org = l
			}
		case <-p.done:
			t.Fatal("the emulator exited")
		case <-deadline:
			t.Fatalf("no organization and token URLs on stdout within 20s (got %q, %q)", org, tokenURL)
		}
	}
	if !strings.HasPrefix(org, "https://") || strings.Contains(org, "{") || !strings.HasPrefix(tokenURL, "https://127.0.0.1:") || strings.HasPrefix(tokenURL, org+"/") {
		t.Fatalf("emulator printed %q and %q: want the https organization, then a token URL on another port", org, tokenURL)
	}
	dv := &emulator{proc: p, URL: org}

	w := startWorker(t, "SSL_CERT_FILE="+caFile, "SECRET_DV_CLIENT_SECRET="+clientSec)
	deploy(t, "examples/oauth.bpmn")
	vars := baseVars(dv)
	vars["workflowId"] = flowOK
	vars["tokenEndpoint"] = tokenURL
	vars["clientId"] = clientID
	out := runProcess(t, "trigger-with-oauth", vars, 30*time.Second)
	if id, _ := out["flowSessionId"].(string); len(id) != 36 {
		t.Fatalf("flowSessionId = %v", out["flowSessionId"])
	}

	vars["clientId"] = stranger
	if msg := waitIncident(t, createInstance(t, "trigger-with-oauth", vars), 30*time.Second); !strings.Contains(msg, "0x80072560") {
		t.Errorf("incident of an app that is no user: %q, want Dataverse's 0x80072560", msg)
	}
	counts := httpsCounts(t, org, caFile)
	if counts["Token"] != 2 || counts["RunDesktopFlow"] != 2 {
		t.Errorf("emulator counts %v: want 2 tokens and 2 triggers (one refused)", counts)
	}
	noSecrets(t, w, clientSec)
}

// httpsCounts reads /_emulator/calls of an emulator serving HTTPS with the CA in caFile.
func httpsCounts(t *testing.T, org, caFile string) map[string]int {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := c.Get(org + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Counts map[string]int `json:"counts"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Counts
}
