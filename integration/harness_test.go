//go:build integration

// Package integration runs the real pa-connector binary against a Zeebe gateway and the
// Dataverse emulator binary over real HTTP. The gateway is pa-engine, the project's own engine
// (./cmd/pa-engine), which TestMain builds and starts on a free port with a data directory of
// its own, and stops at the end. With ZEEBE_ADDRESS set the tests use that gateway instead (a
// real cluster; ZEEBE_RECORDS_LOG names its exporter's records file, ZEEBE_CLIENT_ID and the
// other ZEEBE_* client settings are passed on to the worker). When the gateway cannot be
// reached these tests fail, never skip.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
)

var (
	binDir       string
	workerBin    string
	failpointBin string // the worker built with -tags failpoints, for crash tests
	emulatorBin  string
	engineBin    string // pa-engine: the shared test engine and the tests' private ones
	gateway      string
	zeebe        zbc.Client
	recordsLog   string
	repoRoot     string
	deployedOnce sync.Map

	// externalEnv holds the ZEEBE_* client settings (credentials, TLS) of an external gateway
	// (ZEEBE_ADDRESS set), given to workers that talk to it; insecure is the worker's
	// ZEEBE_INSECURE_CONNECTION for the shared gateway.
	externalEnv []string
	insecure    = "true"
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
	engineBin = filepath.Join(binDir, "pa-engine")
	for bin, pkg := range map[string]string{workerBin: "./cmd/pa-connector", emulatorBin: "./cmd/dataverse-emulator",
		failpointBin: "./cmd/pa-connector", engineBin: "./cmd/pa-engine"} {
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

	// The Zeebe client and the worker read ZEEBE_* variables from the environment, and they
	// override what a test configures: keep them for the external gateway only, away from
	// every process the tests start and from the clients of private engines.
	gateway = os.Getenv("ZEEBE_ADDRESS")
	external := gateway != ""
	var zeebeEnv []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ZEEBE_") {
			zeebeEnv = append(zeebeEnv, kv)
		}
	}
	if external {
		recordsLog = os.Getenv("ZEEBE_RECORDS_LOG")
		for _, kv := range zeebeEnv {
			name, value, _ := strings.Cut(kv, "=")
			switch name {
			case "ZEEBE_ADDRESS", "ZEEBE_HOST", "ZEEBE_PORT", "ZEEBE_RECORDS_LOG":
			case "ZEEBE_INSECURE_CONNECTION":
				insecure = value
			default:
				externalEnv = append(externalEnv, kv)
			}
		}
		if os.Getenv("ZEEBE_INSECURE_CONNECTION") == "" && (os.Getenv("ZEEBE_CLIENT_ID") != "" || os.Getenv("ZEEBE_CA_CERTIFICATE_PATH") != "") {
			insecure = "false" // credentials or a CA: a TLS gateway
		}
		// The environment configures this client (credentials, TLS) on top of the defaults.
		zeebe, err = zbc.NewClient(&zbc.ClientConfig{GatewayAddress: gateway, UsePlaintextConnection: insecure == "true"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "zeebe client:", err)
			return 1
		}
	}
	for _, kv := range zeebeEnv {
		name, _, _ := strings.Cut(kv, "=")
		os.Unsetenv(name)
	}

	if !external {
		e, err := startSharedEngine()
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting pa-engine:", err)
			return 1
		}
		defer e.stop()
		gateway, recordsLog = e.addr, e.records
		zeebe, err = zbc.NewClient(&zbc.ClientConfig{GatewayAddress: gateway, UsePlaintextConnection: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "zeebe client:", err)
			return 1
		}
		code := runTests(m)
		if code != 0 {
			fmt.Fprintf(os.Stderr, "pa-engine output (%s):\n%s\n", e.log, tail(readFile(e.log), 60))
		}
		return code
	}
	return runTests(m)
}

// runTests waits until the gateway answers Topology, then runs the tests.
func runTests(m *testing.M) int {
	defer zeebe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, err := zeebe.NewTopologyCommand().Send(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "no Zeebe gateway at %s: %v\n", gateway, err)
			return 1
		}
		time.Sleep(500 * time.Millisecond)
	}
	return m.Run()
}

// sharedEngine is the pa-engine all tests share (unless ZEEBE_ADDRESS names another gateway).
type sharedEngine struct {
	cmd                *exec.Cmd
	done               chan struct{}
	dir                string
	addr, records, log string
}

// startSharedEngine starts pa-engine on a free port with a new data directory and records file
// and waits until it answers Topology.
func startSharedEngine() (*sharedEngine, error) {
	dir, err := os.MkdirTemp("", "pa-connector-it-engine-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a port free a moment ago may be taken since
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		e := &sharedEngine{dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port),
			records: filepath.Join(dir, "records.log"), log: filepath.Join(dir, "engine.log"), done: make(chan struct{})}
		logf, err := os.OpenFile(e.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		e.cmd = exec.Command(engineBin, "--address", e.addr, "--data-dir", filepath.Join(dir, "data"),
			"--records", e.records, "--monitoring-address", "127.0.0.1:0", "--log-level", "info")
		e.cmd.Stdout, e.cmd.Stderr = logf, logf
		e.cmd.SysProcAttr = childProcAttr()
		if err := e.cmd.Start(); err != nil {
			logf.Close()
			return nil, err
		}
		go func() { e.cmd.Wait(); logf.Close(); close(e.done) }()
		if err := waitTopology(e.addr, e.done, 30*time.Second); err != nil {
			e.stop()
			lastErr = fmt.Errorf("%w\n%s", err, tail(readFile(e.log), 40))
			continue
		}
		return e, nil
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// stop sends SIGTERM, then SIGKILL after 10 s, and removes the engine's directory.
func (e *sharedEngine) stop() {
	stopProcess(e.cmd, e.done, 10*time.Second)
	os.RemoveAll(e.dir)
}

// stopProcess sends SIGTERM and waits for done; after grace it sends SIGKILL.
func stopProcess(cmd *exec.Cmd, done chan struct{}, grace time.Duration) (killed bool) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return false
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
		return true
	}
}

// waitTopology waits until the gateway at addr answers Topology, or done closes (the process
// exited), or timeout passes.
func waitTopology(addr string, done <-chan struct{}, timeout time.Duration) error {
	c, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: addr, UsePlaintextConnection: true})
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("pa-engine exited during start-up")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, last = c.NewTopologyCommand().Send(ctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pa-engine at %s did not answer Topology within %s: %v", addr, timeout, last)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
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
	base := []string{"ZEEBE_ADDRESS=" + gateway, "ZEEBE_INSECURE_CONNECTION=" + insecure}
	if target(env) == gateway {
		base = append(base, externalEnv...) // an external gateway's credentials and TLS settings
	} else {
		base = []string{"ZEEBE_INSECURE_CONNECTION=true"} // a private engine of the test's own
	}
	base = append(base, "PA_CONNECTOR_ALLOWED_HOSTS=127.0.0.1", "PA_CONNECTOR_HTTP_ADDR=127.0.0.1:0",
		"PA_CONNECTOR_LOG_LEVEL=debug", "PA_CONNECTOR_SHUTDOWN_GRACE=5s")
	p := start(t, bin, append(base, env...))
	line := p.waitLine(t, "serving /healthz", 20*time.Second)
	var l struct {
		Addr string `json:"addr"`
	}
	json.Unmarshal([]byte(line), &l)
	p.waitLine(t, "connected to the Zeebe gateway", 30*time.Second)
	return &worker{proc: p, HTTP: "http://" + l.Addr}
}

// target is the gateway a worker started with env talks to: its last ZEEBE_ADDRESS, else the
// shared gateway.
func target(env []string) string {
	addr := gateway
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "ZEEBE_ADDRESS="); ok {
			addr = v
		}
	}
	return addr
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

// elementCompleted waits for the engine's record of an element completing in an instance.
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

// waitIncident scans the engine's exported records for an incident created in the process
// instance and returns its error message. It reads what the engine wrote, not the worker's log.
func waitIncident(t *testing.T, processInstanceKey int64, timeout time.Duration) string {
	t.Helper()
	if recordsLog == "" {
		t.Fatal("no exporter records file: set ZEEBE_RECORDS_LOG with ZEEBE_ADDRESS, or leave both unset (the tests start pa-engine)")
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
