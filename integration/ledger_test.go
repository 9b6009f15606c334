//go:build integration

package integration

// Helpers of the reliability tests (faults_test.go, load_test.go, security_test.go,
// outage_test.go): a ledger of what the engine recorded per process instance, read
// incrementally from the exporter's records file; bulk instance creation; the emulator's call
// log; a private engine that a test may stop, kill and restart; and a listener that counts
// every connection made to it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rec is the part of an exported record the ledger reads.
type rec struct {
	Key        int64  `json:"key"`
	Timestamp  int64  `json:"timestamp"`
	ValueType  string `json:"valueType"`
	Intent     string `json:"intent"`
	RecordType string `json:"recordType"`
	Value      struct {
		ProcessInstanceKey int64           `json:"processInstanceKey"`
		BpmnElementType    string          `json:"bpmnElementType"`
		ElementID          string          `json:"elementId"`
		ElementInstanceKey int64           `json:"elementInstanceKey"`
		ScopeKey           int64           `json:"scopeKey"`
		Name               string          `json:"name"`
		Value              json.RawMessage `json:"value"` // VARIABLE: the value as JSON text, in a JSON string
		Type               string          `json:"type"`
		Retries            int             `json:"retries"`
		RetryBackoff       int64           `json:"retryBackoff"`
		ErrorMessage       string          `json:"errorMessage"`
		ErrorType          string          `json:"errorType"`
	} `json:"value"`
}

// jobFailure is one JOB FAILED event.
type jobFailure struct {
	JobKey       int64
	ElementID    string
	Retries      int
	RetryBackoff time.Duration
	Message      string
}

// ledger is what the engine recorded, per process instance, since the ledger was made. It
// reads the records file from where it ended when the ledger was made, so it sees only what
// happened during the test (records are exported asynchronously: poll).
type ledger struct {
	path  string
	start int64
	off   int64
	rest  []byte

	completed map[int64]time.Time         // process instance → when the process element completed
	incidents map[int64]string            // process instance → first incident's message
	failures  map[int64][]jobFailure      // process instance → JOB FAILED events, in order
	vars      map[int64]map[string]string // process instance → process-scope variable → JSON value
	recorded  map[int64]int               // process instance → paConnectorRun variables written
	timedOut  map[int64]int               // process instance → jobs that timed out (their worker vanished)
	lines     int
}

func newLedger(t *testing.T, path string) *ledger {
	t.Helper()
	if path == "" {
		t.Fatal("no exporter records file: set ZEEBE_RECORDS_LOG with ZEEBE_ADDRESS, or leave both unset (the tests start pa-engine)")
	}
	l := &ledger{path: path, completed: map[int64]time.Time{}, incidents: map[int64]string{},
		failures: map[int64][]jobFailure{}, vars: map[int64]map[string]string{}, recorded: map[int64]int{}, timedOut: map[int64]int{}}
	if fi, err := os.Stat(path); err == nil {
		l.off = fi.Size()
	}
	l.start = l.off
	return l
}

// raw returns every line the engine exported since the ledger was made.
func (l *ledger) raw() string {
	f, err := os.Open(l.path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(l.start, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// poll reads the records written since the last poll.
func (l *ledger) poll() {
	f, err := os.Open(l.path)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < l.off {
		l.start, l.off, l.rest = 0, 0, nil // the file was wiped (a clean engine start)
	}
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		return
	}
	data, _ := io.ReadAll(f)
	l.off += int64(len(data))
	data = append(l.rest, data...)
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		l.rest = data
		return
	}
	l.rest = append([]byte(nil), data[end+1:]...)
	for _, line := range bytes.Split(data[:end], []byte{'\n'}) {
		l.add(line)
	}
}

func (l *ledger) add(line []byte) {
	if len(line) == 0 || line[0] != '{' {
		return
	}
	var r rec
	if json.Unmarshal(line, &r) != nil || r.RecordType != "EVENT" {
		return
	}
	l.lines++
	pik := r.Value.ProcessInstanceKey
	switch {
	case r.ValueType == "PROCESS_INSTANCE" && r.Intent == "ELEMENT_COMPLETED" && r.Value.BpmnElementType == "PROCESS":
		l.completed[pik] = time.UnixMilli(r.Timestamp)
	case r.ValueType == "INCIDENT" && r.Intent == "CREATED":
		if _, ok := l.incidents[pik]; !ok {
			l.incidents[pik] = r.Value.ErrorMessage
		}
	case r.ValueType == "JOB" && r.Intent == "FAILED":
		l.failures[pik] = append(l.failures[pik], jobFailure{JobKey: r.Key, ElementID: r.Value.ElementID,
			Retries: r.Value.Retries, RetryBackoff: time.Duration(r.Value.RetryBackoff) * time.Millisecond, Message: r.Value.ErrorMessage})
	case r.ValueType == "JOB" && r.Intent == "TIMED_OUT":
		l.timedOut[pik]++
	case r.ValueType == "VARIABLE" && (r.Intent == "CREATED" || r.Intent == "UPDATED"):
		var v string
		json.Unmarshal(r.Value.Value, &v)
		if r.Value.Name == "paConnectorRun" {
			l.recorded[pik]++
		}
		if r.Value.ScopeKey == pik {
			if l.vars[pik] == nil {
				l.vars[pik] = map[string]string{}
			}
			l.vars[pik][r.Value.Name] = v
		}
	}
}

// until polls the records until cond holds or timeout passes; it reports whether cond held.
func (l *ledger) until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		l.poll()
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ended counts the instances of keys that completed and those with an incident.
func (l *ledger) ended(keys []int64) (completed, incidents int) {
	for _, k := range keys {
		if _, ok := l.completed[k]; ok {
			completed++
		} else if _, ok := l.incidents[k]; ok {
			incidents++
		}
	}
	return
}

// waitEnded waits until every instance of keys completed or has an incident.
func (l *ledger) waitEnded(t *testing.T, keys []int64, timeout time.Duration) {
	t.Helper()
	if !l.until(timeout, func() bool { c, i := l.ended(keys); return c+i == len(keys) }) {
		c, i := l.ended(keys)
		t.Fatalf("after %s: %d of %d instances completed, %d have an incident, %d still running", timeout, c, len(keys), i, len(keys)-c-i)
	}
}

// retriesUsed is the number of retries the failures of keys' jobs spent: for each job, the
// drop from the task's retries (3 in the test processes) to its lowest retries in a JOB FAILED.
func (l *ledger) retriesUsed(keys []int64, initial int) (used int, failures int) {
	for _, k := range keys {
		lowest := map[int64]int{}
		for _, f := range l.failures[k] {
			failures++
			if r, ok := lowest[f.JobKey]; !ok || f.Retries < r {
				lowest[f.JobKey] = f.Retries
			}
		}
		for _, r := range lowest {
			used += initial - r
		}
	}
	return
}

// variable returns a process-scope variable of an instance, decoded.
func (l *ledger) variable(k int64, name string) any {
	raw, ok := l.vars[k][name]
	if !ok {
		return nil
	}
	var v any
	json.Unmarshal([]byte(raw), &v)
	return v
}

// createInstances starts n instances of processID with up to parallel creations at a time.
func createInstances(t *testing.T, c zbc.Client, processID string, n, parallel int, vars func(i int) map[string]any) []int64 {
	t.Helper()
	keys, err := startInstances(c, processID, n, parallel, vars)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// startInstances is createInstances for use off the test goroutine.
func startInstances(c zbc.Client, processID string, n, parallel int, vars func(i int) map[string]any) ([]int64, error) {
	keys := make([]int64, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd, err := c.NewCreateInstanceCommand().BPMNProcessId(processID).LatestVersion().VariablesFromMap(vars(i))
			// The engine sheds load with RESOURCE_EXHAUSTED (backpressure): try again, as clients do.
			for pause := 50 * time.Millisecond; err == nil; pause = min(2*pause, 2*time.Second) {
				res, serr := cmd.Send(ctx)
				if serr == nil {
					keys[i] = res.GetProcessInstanceKey()
					break
				}
				if status.Code(serr) != codes.ResourceExhausted || ctx.Err() != nil {
					err = serr
					break
				}
				time.Sleep(pause)
			}
			if err != nil {
				errs <- fmt.Errorf("creating instance %d of %s: %w", i, processID, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	return keys, <-errs
}

// cancelUnfinished cancels the instances of keys that have not completed (best effort).
func (l *ledger) cancelUnfinished(c zbc.Client, keys []int64) {
	l.poll()
	var left []int64
	for _, k := range keys {
		if _, ok := l.completed[k]; !ok && k != 0 {
			left = append(left, k)
		}
	}
	cancelInstances(c, left)
}

// cancelInstances cancels instances left running (best effort), so they do not linger on a
// shared engine.
func cancelInstances(c zbc.Client, keys []int64) {
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c.NewCancelInstanceCommand().ProcessInstanceKey(k).Send(ctx)
		cancel()
	}
}

// call is one request the emulator recorded.
type call struct {
	Op       string        `json:"op"`
	Method   string        `json:"method"`
	Path     string        `json:"path"`
	Status   int           `json:"status"`
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"durationNs"`
	Caller   string        `json:"caller"`
}

type emulatorState struct {
	Counts   map[string]int `json:"counts"`
	InFlight int            `json:"inFlight"`
	Calls    []call         `json:"calls"`
	Faults   []any          `json:"faults"`
}

func (e *emulator) state(t *testing.T) emulatorState {
	t.Helper()
	res, err := http.Get(e.URL + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s emulatorState
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatalf("/_emulator/calls: %v", err)
	}
	return s
}

// tally counts calls of one operation ("" = all) by status.
func tally(calls []call, op string) map[int]int {
	out := map[int]int{}
	for _, c := range calls {
		if op == "" || c.Op == op {
			out[c.Status]++
		}
	}
	return out
}

func (e *emulator) fault(t *testing.T, f map[string]any) {
	t.Helper()
	e.post(t, "/_emulator/faults", f)
}

// getBody GETs a URL and returns its status and body.
func getBody(url string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return def
	}
	return n
}

// freePorts returns n TCP ports on 127.0.0.1 that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// privateEngine is a pa-engine of the test's own (its own data directory, port and records
// file), which the test may stop, kill and start again without disturbing other tests.
type privateEngine struct {
	args    []string
	dir     string
	log     string
	cmd     *exec.Cmd
	done    chan struct{}
	Addr    string
	Records string
	Client  zbc.Client
}

// startPrivateEngine starts an engine of the test's own; flags are extra pa-engine flags (e.g.
// "--backpressure-limit", "5").
func startPrivateEngine(t *testing.T, flags ...string) *privateEngine {
	t.Helper()
	dir, err := os.MkdirTemp("", "pa-rel-engine-")
	if err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 1)
	e := &privateEngine{
		dir:     dir,
		log:     filepath.Join(dir, "engine.log"),
		Addr:    fmt.Sprintf("127.0.0.1:%d", p[0]),
		Records: filepath.Join(dir, "records.log"),
	}
	e.args = append([]string{"--address", e.Addr, "--data-dir", filepath.Join(dir, "data"), "--records", e.Records,
		"--monitoring-address", "127.0.0.1:0", "--log-level", "info"}, flags...)
	t.Cleanup(func() {
		if e.Client != nil {
			e.Client.Close()
		}
		if e.running() {
			stopProcess(e.cmd, e.done, 5*time.Second)
		}
		if t.Failed() {
			t.Logf("private pa-engine output (%s):\n%s", e.log, tail(readFile(e.log), 60))
		}
		os.RemoveAll(dir)
	})
	e.Start(t)
	e.Client, err = zbc.NewClient(&zbc.ClientConfig{GatewayAddress: e.Addr, UsePlaintextConnection: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *privateEngine) running() bool {
	if e.cmd == nil {
		return false
	}
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// Start starts the engine, keeping its data, and waits until it answers Topology.
func (e *privateEngine) Start(t *testing.T) {
	t.Helper()
	if e.running() {
		t.Fatalf("the private engine is already running")
	}
	logf, err := os.OpenFile(e.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	e.cmd = exec.Command(engineBin, e.args...)
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	e.cmd.SysProcAttr = childProcAttr()
	e.done = make(chan struct{})
	if err := e.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting the private engine: %v", err)
	}
	cmd, done := e.cmd, e.done
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	if err := waitTopology(e.Addr, e.done, 30*time.Second); err != nil {
		t.Fatalf("starting the private engine failed: %v\n%s", err, tail(readFile(e.log), 40))
	}
}

// Stop stops the engine (its data stays): SIGTERM, then SIGKILL after 5 s.
func (e *privateEngine) Stop(t *testing.T) {
	t.Helper()
	if !e.running() {
		t.Fatalf("stopping the private engine: not running")
	}
	if stopProcess(e.cmd, e.done, 5*time.Second) {
		t.Logf("the private engine did not stop within 5 s of SIGTERM: killed")
	}
}

// Kill kills the engine with SIGKILL, as a crash would (its data stays).
func (e *privateEngine) Kill(t *testing.T) {
	t.Helper()
	if !e.running() {
		t.Fatalf("killing the private engine: not running")
	}
	e.cmd.Process.Kill()
	<-e.done
}

func (e *privateEngine) deploy(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.Client.NewDeployResourceCommand().AddResourceFile(filepath.Join(repoRoot, path)).Send(ctx); err != nil {
		t.Fatalf("deploying %s: %v", path, err)
	}
}

// trap is a listener on a port no test allows: it counts every TCP connection made to it and
// answers HTTP requests with 200, so a request that should never be sent is seen.
type trap struct {
	URL   string
	conns atomic.Int64
	reqs  atomic.Int64
	srv   *http.Server
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &trap{URL: "http://" + l.Addr().String()}
	tr.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tr.reqs.Add(1)
			io.WriteString(w, `{"access_token":"trapped","token_type":"Bearer","expires_in":3600,"flowsessionId":"00000000-0000-4000-8000-000000000001"}`)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				tr.conns.Add(1)
			}
		},
	}
	go tr.srv.Serve(l)
	t.Cleanup(func() { tr.srv.Close() })
	return tr
}

// Hits is the number of connections the trap accepted.
func (tr *trap) Hits() int64 { return tr.conns.Load() }

// Port is the trap's port.
func (tr *trap) Port() string { return tr.URL[strings.LastIndexByte(tr.URL, ':')+1:] }

func hostPort(url string) string {
	return strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
}
