package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The emulator's fixed configuration: one flow that succeeds at once, a static token for
// bearer jobs, a client for client-credentials jobs, and Dataverse's limits switched off (the
// execution-time limit cannot be negative in the file, so it is set beyond reach).
const (
	workflowID   = "8d3f6b2e-1c4a-4b7e-9f10-5a6b7c8d9e01"
	tenantID     = "00000000-0000-4000-8000-00000000be0c"
	benchToken   = "bench-token"
	clientID     = "bench-client"
	clientSecret = "bench-secret-5f2c"
)

// benchContacts is how many contacts are seeded: listRows jobs read them all as one page.
const benchContacts = 50

// benchAccountID is the account every seeded contact's parentcustomerid points to.
const benchAccountID = "0b5e1f2a-0000-4000-8000-000000000001"

func contactID(k int) string   { return fmt.Sprintf("0b5e1f2a-0000-4000-8000-%012d", 1000+k) }
func contactName(k int) string { return fmt.Sprintf("Bench Contact %02d", k) }

// benchTables are the seed rows of the row jobs (getRow, listRows): one account and
// benchContacts contacts with a few columns and a lookup to it.
func benchTables() []map[string]any {
	var contacts []map[string]any
	for k := 0; k < benchContacts; k++ {
		contacts = append(contacts, map[string]any{
			"contactid": contactID(k), "firstname": "Bench", "lastname": fmt.Sprintf("Contact %02d", k),
			"fullname": contactName(k), "emailaddress1": fmt.Sprintf("contact%02d@bench.example", k),
			"jobtitle": "Buyer", "telephone1": "+1 555 0100",
			"parentcustomerid_account@odata.bind": "/accounts(" + benchAccountID + ")",
		})
	}
	return []map[string]any{
		{"logicalName": "account", "rows": []map[string]any{{"accountid": benchAccountID, "name": "Bench Account", "accountnumber": "B-1"}}},
		{"logicalName": "contact", "rows": contacts},
	}
}

// emulator is a running dataverse-emulator binary.
type emulator struct {
	cmd *exec.Cmd
	url string
}

func startEmulator(bin, dir string) (*emulator, error) {
	tokens := []string{benchToken}
	clients := map[string]string{}
	for k := 0; k < identities; k++ {
		tokens = append(tokens, fmt.Sprintf("%s-%d", benchToken, k))
		clients[fmt.Sprintf("%s-%d", clientID, k)] = clientSecret
	}
	cfg := map[string]any{
		"tenant":  tenantID,
		"tokens":  tokens,
		"clients": clients,
		"limits": map[string]any{
			"requests": -1, "executionTime": "100000h", "concurrent": -1, "triggersPerMinute": -1,
		},
		// An input schema, so every trigger checks its (empty) inputs against it.
		"flows": map[string]any{workflowID: map[string]any{"name": "pa-bench",
			"inputSchema": []map[string]any{{"name": "Note", "type": "string"}}}},
		"tables": benchTables(),
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	cfgPath := filepath.Join(dir, "emulator.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "emulator.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-config", cfgPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			first <- strings.TrimSpace(sc.Text())
		}
		close(first)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case u, ok := <-first:
		if !ok || !strings.HasPrefix(u, "http://") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("the emulator printed no URL (see %s)", logf.Name())
		}
		return &emulator{cmd: cmd, url: u}, nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the emulator printed no URL within 10 s")
	}
}

func (e *emulator) pid() int { return e.cmd.Process.Pid }

func (e *emulator) tokenURL() string { return e.url + "/" + tenantID + "/oauth2/v2.0/token" }

func (e *emulator) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
}

func (e *emulator) post(ctx context.Context, path string, body any, out any, header ...string) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %s: %s", path, res.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// reset forgets runs, calls and faults.
func (e *emulator) reset(ctx context.Context) error {
	return e.post(ctx, "/_emulator/reset", nil, nil)
}

// trigger starts one run and returns its flow session id (for status jobs).
func (e *emulator) trigger(ctx context.Context) (string, error) {
	var res struct {
		ID string `json:"flowsessionId"`
	}
	err := e.post(ctx, "/api/data/v9.2/workflows("+workflowID+")/Microsoft.Dynamics.CRM.RunDesktopFlow",
		map[string]any{"runMode": "unattended", "connectionName": "pa-bench"}, &res,
		"Authorization", "Bearer "+benchToken)
	if err == nil && res.ID == "" {
		err = fmt.Errorf("RunDesktopFlow answered no flowsessionId")
	}
	return res.ID, err
}

// fault delays the next count requests of op.
func (e *emulator) fault(ctx context.Context, op string, count int, delay time.Duration) error {
	return e.post(ctx, "/_emulator/faults", map[string]any{"op": op, "count": count, "delay": delay.String()}, nil)
}

// schemaReadOp is the emulator's operation name of a flow's input schema download.
const schemaReadOp = "GetWorkflowInputs"

// emulatorCalls is the part of GET /_emulator/calls the benchmark reads.
type emulatorCalls struct {
	Counts   map[string]int `json:"counts"`
	InFlight int            `json:"inFlight"`
}

// dataverse counts the Dataverse calls (every operation but the token endpoint and callbacks).
func (c emulatorCalls) dataverse() int {
	n := 0
	for op, k := range c.Counts {
		if op != "Token" && op != "Callback" {
			n += k
		}
	}
	return n
}

func (e *emulator) calls(ctx context.Context) (emulatorCalls, error) {
	var c emulatorCalls
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/_emulator/calls", nil)
	if err != nil {
		return c, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return c, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return c, fmt.Errorf("GET /_emulator/calls: %s", res.Status)
	}
	return c, json.NewDecoder(res.Body).Decode(&c)
}
