package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

func noEnv(string) (string, bool) { return "", false }

func TestParseArgs(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		envListen: "127.0.0.1:9999", envTokens: "a,b", envClients: "id1:s1,id2:s2",
		envAllowHosts: "127.0.0.1", envTenant: "t-env", envConfig: "testdata/flows.json",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	s, err := parseArgs(nil, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.listen != "127.0.0.1:9999" || s.tenant != "t-env" || len(s.tokens) != 2 || len(s.clients) != 2 || s.config != "testdata/flows.json" {
		t.Errorf("from the environment: %+v", s)
	}
	s, err = parseArgs([]string{"-listen", "127.0.0.1:0", "-token", "x", "-client", "id3:s3", "-tenant", "t-flag"}, lookup, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.listen != "127.0.0.1:0" || s.tenant != "t-flag" || len(s.tokens) != 1 || s.clients[0] != "id3:s3" || s.hosts[0] != "127.0.0.1" {
		t.Errorf("flags over the environment: %+v", s)
	}
	o, err := s.options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Tenant != "t-flag" || o.Clients["id3"] != "s3" || len(o.Flows) != 4 || !contains(o.Tokens, "dev-token") || !contains(o.Tokens, "x") {
		t.Errorf("options: tenant %s clients %v flows %d tokens %v", o.Tenant, len(o.Clients), len(o.Flows), len(o.Tokens))
	}
	if f := o.Flows["f091ffab-58bb-4630-a115-659453d56f59"]; f.QueueDelay != time.Second || f.Duration != 3*time.Second {
		t.Errorf("durations: %+v", f)
	}

	s, _ = parseArgs(nil, noEnv, io.Discard)
	if s.listen != defaultListen {
		t.Errorf("default listen = %q", s.listen)
	}
	if _, err := parseArgs([]string{"extra"}, noEnv, io.Discard); err == nil {
		t.Error("an extra argument was accepted")
	}
	s, _ = parseArgs([]string{"-client", "no-secret-here"}, noEnv, io.Discard)
	if _, err := s.options(); err == nil || strings.Contains(err.Error(), "no-secret-here") {
		t.Errorf("bad -client: %v", err)
	}
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"unknown field":       `{"flowz": {}}`,
		"number duration":     `{"flows": {"f091ffab-58bb-4630-a115-659453d56f59": {"duration": 5}}}`,
		"bad duration":        `{"tokenTTL": "soon"}`,
		"negative duration":   `{"flows": {"f091ffab-58bb-4630-a115-659453d56f59": {"duration": "-1s"}}}`,
		"running finalStatus": `{"flows": {"f091ffab-58bb-4630-a115-659453d56f59": {"finalStatus": 2}}}`,
		"not JSON":            `flows: {}`,
		"bad column type":     `{"tables": [{"logicalName": "x", "columns": [{"logicalName": "a", "type": "Text"}]}]}`,
		"bad seed row":        `{"tables": [{"logicalName": "account", "rows": [{"nope": 1}]}]}`,
		"unknown table field": `{"tables": [{"logicalName": "x", "colums": []}]}`,
		"bad action type":     `{"actions": [{"name": "a", "inputs": [{"name": "p", "type": "Edm.Thing"}]}]}`,
		"bad flow auth":       `{"cloudFlows": {"0a0a0a0a-0000-4000-8000-000000000001": {"auth": "basic"}}}`,
		"bad input type":      `{"flows": {"f091ffab-58bb-4630-a115-659453d56f59": {"inputSchema": [{"name": "A", "type": "text"}]}}}`,
		"unknown input field": `{"flows": {"f091ffab-58bb-4630-a115-659453d56f59": {"inputSchema": [{"name": "A", "type": "string", "secret": true}]}}}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.json")
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := (settings{config: path}).options(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestFlowSchemaErrorsNameTheField: a bad input or output variable is refused at start with
// the flow and the variable's place in its schema.
func TestFlowSchemaErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const id = "f091ffab-58bb-4630-a115-659453d56f59"
	tests := map[string]struct{ config, want string }{
		"type":      {`{"inputSchema": [{"name": "A", "type": "string"}, {"name": "B", "type": "text"}]}`, "flows[" + id + "].inputSchema[1].type \"text\""},
		"no name":   {`{"outputSchema": [{"type": "string"}]}`, "flows[" + id + "].outputSchema[0].name is required"},
		"twice":     {`{"inputSchema": [{"name": "A", "type": "string"}, {"name": "A", "type": "number"}]}`, "flows[" + id + "].inputSchema[1].name \"A\" is declared twice"},
		"a default": {`{"inputSchema": [{"name": "N", "type": "number", "default": "7"}]}`, "flows[" + id + "].inputSchema[0].default is a string, not a number"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.json")
			if err := os.WriteFile(path, []byte(`{"flows": {"`+id+`": `+tc.config+`}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := (settings{config: path}).options()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %s", err, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-help"}, noEnv, io.Discard, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"-listen", "-config", "-token", "-client", "-callback-allow-host", "-tenant", envListen, "/_emulator/faults", `"flows"`, `"tables"`, `"cloudFlows"`, "EntityDefinitions", `"inputSchema"`, "inputs/$value", "MSCRM.IncludeUnpublished"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// syncBuffer collects the binary's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// binDir holds the binary the tests that run it as a process share: one go build, not one each.
var (
	binDir   string
	building sync.Once
	buildErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// emulatorBinary is this command built once into binDir.
func emulatorBinary(t *testing.T) string {
	t.Helper()
	building.Do(func() {
		var out []byte
		if binDir, buildErr = os.MkdirTemp("", "dataverse-emulator-test-"); buildErr != nil {
			return
		}
		if out, buildErr = exec.Command("go", "build", "-o", filepath.Join(binDir, "dataverse-emulator"), ".").CombinedOutput(); buildErr != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", buildErr, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "dataverse-emulator")
}

func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	bin := emulatorBinary(t)
	const clientSecret = "binary-secret-value"
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-config", "testdata/flows.json", "-client", "bin-client:"+clientSecret)
	cmd.Env = []string{} // no PA_EMULATOR_* from the outside
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("no URL on stdout; stderr: %s", stderr.String())
	}
	base := strings.TrimSpace(lines.Text())
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q is not the URL", base)
	}

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"bin-client"}, "client_secret": {clientSecret}, "scope": {base + "/.default"}}
	resp, err := http.PostForm(base+"/00000000-0000-4000-8000-00000000e1d0/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	send := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, base+"/api/data/v9.2/"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, b := send("POST", "workflows(eafba1a2-e8d4-4efa-b549-11d4dfd9a3d1)/Microsoft.Dynamics.CRM.RunDesktopFlow", `{"runMode":"attended","connectionName":"shared-uiflow-conn","inputs":"{\"X\":1}"}`)
	if status != 200 {
		t.Fatalf("RunDesktopFlow: %d %s", status, b)
	}
	var run struct{ FlowsessionID string }
	_ = json.Unmarshal(b, &run)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b = send("GET", "flowsessions("+run.FlowsessionID+")?$select=statuscode", "")
		var row struct{ StatusCode int }
		_ = json.Unmarshal(b, &row)
		if row.StatusCode == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not succeed: %s", b)
		}
		time.Sleep(50 * time.Millisecond) // polling a real process, as a client would
	}
	if status, b = send("GET", "flowsessions("+run.FlowsessionID+")/outputs/$value", ""); status != 200 || string(b) != `{"X":1}` {
		t.Errorf("outputs: %d %s", status, b)
	}
	resp, err = http.Get(base + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	var calls struct{ Counts map[string]int }
	_ = json.NewDecoder(resp.Body).Decode(&calls)
	resp.Body.Close()
	if calls.Counts["Token"] != 1 || calls.Counts["RunDesktopFlow"] != 1 {
		t.Errorf("counts = %v", calls.Counts)
	}

	// Seeded rows with a lookup between them, and a signed cloud-flow URL from the admin endpoint.
	status, b = send("GET", "contacts(emailaddress1='ada@contoso.example')?$select=fullname,_parentcustomerid_value&$expand=parentcustomerid_account($select=name)", "")
	if status != 200 || !strings.Contains(string(b), `"fullname":"Ada Lovelace"`) || !strings.Contains(string(b), `"name":"Contoso"`) {
		t.Errorf("seeded contact: %d %s", status, b)
	}
	resp, err = http.Get(base + "/_emulator/cloudflows")
	if err != nil {
		t.Fatal(err)
	}
	var flows []struct{ ID, URL string }
	_ = json.NewDecoder(resp.Body).Decode(&flows)
	resp.Body.Close()
	if len(flows) == 0 || !strings.Contains(flows[0].URL, "sig=") {
		t.Fatalf("cloud flows: %+v", flows)
	}
	resp, err = http.Post(flows[0].URL, "application/json", strings.NewReader(`{"recordId":"r-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"r-1"`) {
		t.Errorf("cloud flow: %d %s", resp.StatusCode, b)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	logs := stderr.String()
	if strings.Contains(logs, clientSecret) || strings.Contains(logs, tok.AccessToken) {
		t.Error("the log holds a secret or a token")
	}
	// JSON lines in zerolog's format, as the worker's and the engine's.
	var sawRequest, sawListening, sawShutdown bool
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(entry["time"])); err != nil || entry["level"] != "info" {
			t.Errorf("log line %s: want zerolog's time and level fields", line)
		}
		switch entry["message"] {
		case "request":
			if entry["operation"] == "RunDesktopFlow" && entry["status"] == 200.0 && entry["method"] == "POST" &&
				strings.HasSuffix(fmt.Sprint(entry["path"]), "/Microsoft.Dynamics.CRM.RunDesktopFlow") &&
				entry["duration_ms"] != nil && entry["caller"] != nil {
				sawRequest = true
			}
		case "listening":
			sawListening = entry["url"] == base && entry["flows"] != nil && entry["tenant"] != nil
		case "shutting down":
			sawShutdown = true
		}
	}
	if !sawRequest || !sawListening || !sawShutdown {
		t.Errorf("request line for RunDesktopFlow %v, listening line %v, shutting down line %v in:\n%s", sawRequest, sawListening, sawShutdown, logs)
	}
}

// TestBinaryTwoHostsTLS runs the binary as production is laid out: HTTPS
// with a self-signed CA written to a file, the token endpoint on its own
// host, and an application user declared in the config.
func TestBinaryTwoHostsTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := emulatorBinary(t)
	config := filepath.Join(dir, "emulator.json")
	if err := os.WriteFile(config, []byte(`{
		"clients": {"app": "app-secret", "stranger": "app-secret"},
		"securityRoles": {"Runner": {"prvReadworkflow": "Basic", "prvReadflowsession": "Basic"}},
		"appUsers": {"app": {"roles": ["Runner"]}},
		"flows": {"eafba1a2-e8d4-4efa-b549-11d4dfd9a3d1": {"duration": "1h"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-token-listen", "127.0.0.1:0", "-tls-ca-out", caFile, "-config", config)
	cmd.Env = []string{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	var org, tokenURL string
	if lines.Scan() {
		org = strings.TrimSpace(lines.Text())
	}
	if lines.Scan() {
		tokenURL = strings.TrimSpace(lines.Text())
	}
	if !strings.HasPrefix(org, "https://127.0.0.1:") || !strings.HasPrefix(tokenURL, "https://127.0.0.1:") || !strings.HasSuffix(tokenURL, "/oauth2/v2.0/token") {
		t.Fatalf("stdout lines %q, %q: want the https organization URL, then the token URL; stderr: %s", org, tokenURL, stderr.String())
	}
	if strings.HasPrefix(tokenURL, org+"/") {
		t.Fatalf("token endpoint %s on the organization's host", tokenURL)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	token := func(id string) string {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"app-secret"}, "scope": {org + "/.default"}}
		resp, err := c.PostForm(tokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		if resp.StatusCode != 200 || tok.AccessToken == "" {
			t.Fatalf("token for %s: %d", id, resp.StatusCode)
		}
		return tok.AccessToken
	}
	trigger := func(tok string) (int, string) {
		req, _ := http.NewRequest("POST", org+"/api/data/v9.2/workflows(eafba1a2-e8d4-4efa-b549-11d4dfd9a3d1)/Microsoft.Dynamics.CRM.RunDesktopFlow", strings.NewReader(`{"runMode":"unattended","connectionName":"c"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, b := trigger(token("app")); status != 200 {
		t.Errorf("the application user triggers over TLS: %d %s", status, b)
	}
	if status, b := trigger(token("stranger")); status != 403 || !strings.Contains(b, `"code":"0x80072560"`) {
		t.Errorf("an app that is no user: %d %s, want 403 0x80072560", status, b)
	}
	resp, err := c.Post(org+"/00000000-0000-4000-8000-00000000e1d0/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("token path on the organization's host: %d, want 404", resp.StatusCode)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
}

func TestTLSAndTokenHostFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{envTokenLis: "127.0.0.1:0", envTLSCAOut: "/tmp/ca.pem"}
	s, err := parseArgs(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	if err != nil || s.tokenListen != "127.0.0.1:0" || s.tlsCAOut != "/tmp/ca.pem" || !s.tls() {
		t.Errorf("from the environment: %+v, %v", s, err)
	}
	for _, args := range [][]string{
		{"-tls-cert", "c.pem"},
		{"-tls-key", "k.pem"},
		{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-ca-out", "ca.pem"},
	} {
		if _, err := parseArgs(args, noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "-tls-") {
			t.Errorf("%v: %v, want an error naming the TLS flags", args, err)
		}
	}
	if s, _ := parseArgs(nil, noEnv, io.Discard); s.tls() || s.tokenListen != "" {
		t.Errorf("defaults: %+v, want plain HTTP on one host", s)
	}
}

// The dynamics settings of the config file reach Options: testdata/flows.json sets each, a
// "0s" cancelDelay cancels at once, and an unknown triggerThrottle is refused naming the field.
func TestDynamicsSettings(t *testing.T) {
	t.Parallel()
	o, err := (settings{config: "testdata/flows.json"}).options()
	if err != nil {
		t.Fatal(err)
	}
	l := o.Limits
	if o.CancelDelay != 2*time.Second || l.TriggerThrottle != dataversetest.ThrottleFailedRun || l.Servers != 1 || l.MaxPenalty != 5*time.Minute {
		t.Errorf("cancelDelay %v, limits %+v", o.CancelDelay, l)
	}
	write := func(config string) string {
		path := filepath.Join(t.TempDir(), "c.json")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	o, err = (settings{config: write(`{"cancelDelay": "0s", "refuseCancelOfFinishedRun": true, "limits": {"triggerThrottle": "429", "servers": 3}}`)}).options()
	if err != nil {
		t.Fatal(err)
	}
	if o.CancelDelay >= 0 || !o.RefuseCancelOfFinishedRun || o.Limits.TriggerThrottle != dataversetest.Throttle429 || o.Limits.Servers != 3 {
		t.Errorf("options %+v", o)
	}
	if _, err := (settings{config: write(`{"limits": {"triggerThrottle": "queue"}}`)}).options(); err == nil || !strings.Contains(err.Error(), "limits.triggerThrottle") {
		t.Errorf("an unknown triggerThrottle: %v, want an error naming limits.triggerThrottle", err)
	}
}
