//go:build integration

// Package integration runs the real pa-connector binary against a real Zeebe broker and the
// Dataverse emulator binary over real HTTP. Start the broker first (scripts/zeebe.sh start, or
// make test, which does it); these tests fail, never skip, when it is not there.
package integration

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
	"sync"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
)

var (
	binDir       string
	workerBin    string
	failpointBin string // the worker built with -tags failpoints, for crash tests
	emulatorBin  string
	gateway      string
	zeebe        zbc.Client
	recordsLog   string
	repoRoot     string
	deployedOnce sync.Map
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	repoRoot, err = filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	binDir, err = os.MkdirTemp("", "pa-connector-it-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(binDir)
	workerBin = filepath.Join(binDir, "pa-connector")
	emulatorBin = filepath.Join(binDir, "dataverse-emulator")
	failpointBin = filepath.Join(binDir, "pa-connector-failpoints")
	for bin, pkg := range map[string]string{workerBin: "./cmd/pa-connector", emulatorBin: "./cmd/dataverse-emulator", failpointBin: "./cmd/pa-connector"} {
		args := []string{"build", "-o", bin, pkg}
		if bin == failpointBin {
			args = []string{"build", "-tags", "failpoints", "-o", bin, pkg}
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	gateway = os.Getenv("ZEEBE_ADDRESS")
	if gateway == "" {
		gateway = "127.0.0.1:26500"
	}
	recordsLog = os.Getenv("ZEEBE_RECORDS_LOG")
	if recordsLog == "" {
		out, err := exec.Command(filepath.Join(repoRoot, "scripts/zeebe.sh"), "logs-path").Output()
		if err == nil {
			recordsLog = strings.TrimSpace(string(out))
		}
	}
	zeebe, err = zbc.NewClient(&zbc.ClientConfig{GatewayAddress: gateway, UsePlaintextConnection: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "zeebe client:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, err := zeebe.NewTopologyCommand().Send(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "no Zeebe gateway at %s (start it with scripts/zeebe.sh start): %v\n", gateway, err)
			return 1
		}
		time.Sleep(500 * time.Millisecond)
	}
	return m.Run()
}

// proc is a started binary with its output captured.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan string
	done   chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

// Log returns everything the process wrote to stderr so far.
func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func start(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	stdout, _ := p.cmd.StdoutPipe()
	stderrPipe, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			select {
			case p.lines <- s.Text():
			default:
			}
		}
	}()
	go func() {
		r := bufio.NewReader(stderrPipe)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				p.Write([]byte(line))
				select {
				case p.lines <- line:
				default:
				}
			}
			if err != nil {
				break
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), tail(p.Log(), 60))
		}
	})
	return p
}

// waitLine waits for an output line containing s and returns it.
func (p *proc) waitLine(t *testing.T, s string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) && (!strings.HasPrefix(s, "http://") || strings.HasPrefix(l, s)) {
				return l
			}
		case <-p.done:
			t.Fatalf("process exited while waiting for %q", s)
		case <-deadline:
			t.Fatalf("no line containing %q within %s", s, timeout)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// emulator is a running dataverse-emulator binary.
type emulator struct {
	*proc
	URL string
}

func startEmulator(t *testing.T, config map[string]any) *emulator {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emulator.json")
	raw, _ := json.Marshal(config)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, emulatorBin, nil, "-listen", "127.0.0.1:0", "-config", path, "-callback-allow-host", "127.0.0.1")
	url := strings.TrimSpace(p.waitLine(t, "http://", 20*time.Second))
	return &emulator{proc: p, URL: url}
}

// calls returns the emulator's per-operation call counts.
func (e *emulator) counts(t *testing.T) map[string]int {
	t.Helper()
	res, err := http.Get(e.URL + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Counts map[string]int `json:"counts"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/_emulator/calls: %v: %s", err, raw)
	}
	return body.Counts
}

func (e *emulator) post(t *testing.T, path string, body any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	res, err := http.Post(e.URL+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("POST %s: %s", path, res.Status)
	}
}

// worker is a running pa-connector binary.
type worker struct {
	*proc
	HTTP string
}

func startWorker(t *testing.T, env ...string) *worker {
	t.Helper()
	return startWorkerBin(t, workerBin, env...)
}

func startWorkerBin(t *testing.T, bin string, env ...string) *worker {
	t.Helper()
	base := []string{
		"ZEEBE_ADDRESS=" + gateway, "ZEEBE_INSECURE_CONNECTION=true",
		"PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1", "PA_CONNECTOR_HTTP_ADDR=127.0.0.1:0",
		"PA_CONNECTOR_LOG_LEVEL=debug", "PA_CONNECTOR_SHUTDOWN_GRACE=5s",
	}
	p := start(t, bin, append(base, env...))
	line := p.waitLine(t, "serving /healthz", 20*time.Second)
	var l struct {
		Addr string `json:"addr"`
	}
	json.Unmarshal([]byte(line), &l)
	p.waitLine(t, "connected to the Zeebe gateway", 30*time.Second)
	return &worker{proc: p, HTTP: "http://" + l.Addr}
}

// deploy deploys a BPMN file (path relative to the repository root) once per test binary run.
func deploy(t *testing.T, path string) {
	t.Helper()
	if _, ok := deployedOnce.Load(path); ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := zeebe.NewDeployResourceCommand().AddResourceFile(filepath.Join(repoRoot, path)).Send(ctx); err != nil {
		t.Fatalf("deploying %s: %v", path, err)
	}
	deployedOnce.Store(path, true)
}

// runProcess creates an instance and waits for it to complete, returning its variables.
func runProcess(t *testing.T, processID string, vars map[string]any, timeout time.Duration) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	cmd, err := zeebe.NewCreateInstanceCommand().BPMNProcessId(processID).LatestVersion().VariablesFromMap(vars)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cmd.WithResult().Send(ctx)
	if err != nil {
		t.Fatalf("process %s did not complete: %v", processID, err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(res.GetVariables()), &out); err != nil {
		t.Fatal(err)
	}
	out["__key"] = float64(res.GetProcessInstanceKey())
	return out
}

// runProcessNoFatal is runProcess for use off the test goroutine: nil when the instance fails.
func runProcessNoFatal(t *testing.T, processID string, vars map[string]any, timeout time.Duration) map[string]any {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd, err := zeebe.NewCreateInstanceCommand().BPMNProcessId(processID).LatestVersion().VariablesFromMap(vars)
	if err != nil {
		t.Error(err)
		return nil
	}
	res, err := cmd.WithResult().Send(ctx)
	if err != nil {
		t.Errorf("process %s: %v", processID, err)
		return nil
	}
	var out map[string]any
	json.Unmarshal([]byte(res.GetVariables()), &out)
	return out
}

// createInstance starts an instance without waiting and returns its key.
func createInstance(t *testing.T, processID string, vars map[string]any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, err := zeebe.NewCreateInstanceCommand().BPMNProcessId(processID).LatestVersion().VariablesFromMap(vars)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cmd.Send(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res.GetProcessInstanceKey()
}

// elementCompleted waits for the broker's record of an element completing in an instance.
func elementCompleted(t *testing.T, processInstanceKey int64, elementID string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, r := range records(recordsLog) {
			if r.ValueType == "PROCESS_INSTANCE" && r.Intent == "ELEMENT_COMPLETED" &&
				r.Value.ProcessInstanceKey == processInstanceKey && r.Value.ElementID == elementID {
				return true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// waitIncident scans the broker's exported records for an incident created in the process
// instance and returns its error message. It reads what the broker wrote, not the worker's log.
func waitIncident(t *testing.T, processInstanceKey int64, timeout time.Duration) string {
	t.Helper()
	if recordsLog == "" {
		t.Fatal("no exporter records file: set ZEEBE_RECORDS_LOG or use scripts/zeebe.sh")
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if msg, ok := findIncident(recordsLog, processInstanceKey); ok {
			return msg
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no incident for process instance %d within %s in %s", processInstanceKey, timeout, recordsLog)
	return ""
}
