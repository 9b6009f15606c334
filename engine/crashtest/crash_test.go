//go:build integration

package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/camunda/zeebe/clients/go/v8/pkg/worker"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const (
	processID     = "crash"
	jobTimeout    = 3 * time.Second
	incidentEvery = 50
	kills         = 3
	// plannedMessage is the error message of the planned incidents' FailJob.
	plannedMessage = "planned incident (crash test)"
)

// pathFor is the route of instance n: the crash-a worker completes TaskA with it.
func pathFor(n int) string {
	switch {
	case n%incidentEvery == 0:
		return "incident"
	case n%2 == 0:
		return "timer"
	}
	return "direct"
}

var engineBin string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	// The Go client lets ZEEBE_* variables override the address and credentials it is given.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ZEEBE_") {
			os.Unsetenv(k)
		}
	}
	if bin := os.Getenv("PA_CRASH_ENGINE_BIN"); bin != "" {
		// A given binary (for instance one built from a clean checkout).
		engineBin = bin
		return m.Run()
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: repository root:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "pa-engine-crashtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	engineBin = filepath.Join(tmp, "pa-engine")
	build := exec.Command("go", "build", "-o", engineBin, "./cmd/pa-engine")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "crashtest: building ./cmd/pa-engine: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			return filepath.Dir(mod), nil
		}
	}
	return filepath.Abs("../..")
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// ---------------------------------------------------------------------------------------------
// The engine process

type engineProc struct {
	addr, dataDir, records, logPath string
	extra                           []string // PA_CRASH_ENGINE_FLAGS

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	started time.Time
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (p *engineProc) start() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"--address", p.addr, "--data-dir", p.dataDir, "--records", p.records,
		"--monitoring-address", "127.0.0.1:0"}, p.extra...)
	cmd := exec.Command(engineBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.exited, p.started = cmd, exited, started
	p.mu.Unlock()
	return nil
}

// waitReady polls Topology on a connection of its own (short reconnect backoff) and returns the
// time from the process start to the first successful answer.
func (p *engineProc) waitReady(timeout time.Duration) (time.Duration, error) {
	p.mu.Lock()
	started, exited := p.started, p.exited
	p.mu.Unlock()
	conn, err := grpc.Dial(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 5 * time.Millisecond, Multiplier: 1.2, MaxDelay: 20 * time.Millisecond},
			MinConnectTimeout: 200 * time.Millisecond,
		}))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	gw := pb.NewGatewayClient(conn)
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return 0, fmt.Errorf("pa-engine exited before it was ready:\n%s", p.logTail(30))
		default:
		}
		// WaitForReady: the call waits for the connection (bounded by ctx), so this loop does
		// not spin while the engine is still replaying its log.
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		_, err := gw.Topology(ctx, &pb.TopologyRequest{}, grpc.WaitForReady(true))
		cancel()
		if err == nil {
			return time.Since(started), nil
		}
		last = err
	}
	return 0, fmt.Errorf("pa-engine at %s not ready after %s (last Topology error: %v):\n%s", p.addr, timeout, last, p.logTail(30))
}

func (p *engineProc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	select {
	case <-exited:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(wait):
		return false
	}
}

// kill is SIGKILL; it returns once the process is gone.
func (p *engineProc) kill() error {
	if !p.signal(syscall.SIGKILL, 30*time.Second) {
		return errors.New("pa-engine did not die within 30 s of SIGKILL")
	}
	return nil
}

// stop is SIGTERM, then SIGKILL after 10 s.
func (p *engineProc) stop() {
	if !p.signal(syscall.SIGTERM, 10*time.Second) {
		_ = p.kill()
	}
}

func (p *engineProc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dump makes the engine print its goroutines (SIGQUIT: the Go runtime writes every stack to
// stderr and exits) and returns the stacks that run engine or gateway code; for a stuck engine.
func (p *engineProc) dump() string {
	before := int64(0)
	if fi, err := os.Stat(p.logPath); err == nil {
		before = fi.Size()
	}
	if !p.signal(syscall.SIGQUIT, 15*time.Second) {
		_ = p.kill()
	}
	b, err := os.ReadFile(p.logPath)
	if err != nil || int64(len(b)) < before {
		return fmt.Sprint("no dump: ", err)
	}
	var keep []string
	for _, g := range strings.Split(string(b[before:]), "\n\n") {
		if strings.Contains(g, "pa-connector/engine") && len(keep) < 20 {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}

// recoveries returns, per start, the replay duration the engine logged ("state recovered").
func (p *engineProc) recoveries() []string {
	b, _ := os.ReadFile(p.logPath)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		var l struct {
			Message   string  `json:"message"`
			Recovery  float64 `json:"recovery"`
			Instances int     `json:"instances"`
			Jobs      int     `json:"jobs"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "state recovered" {
			out = append(out, fmt.Sprintf("%.0f ms (%d instances, %d jobs open)", l.Recovery, l.Instances, l.Jobs))
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// Records

// record is the part of an exported record (zeebe-engine-semantics.md §I) the oracles read.
type record struct {
	Key                  int64  `json:"key"`
	Position             int64  `json:"position"`
	Timestamp            int64  `json:"timestamp"`
	ValueType            string `json:"valueType"`
	Intent               string `json:"intent"`
	RecordType           string `json:"recordType"`
	RejectionType        string `json:"rejectionType"`
	SourceRecordPosition int64  `json:"sourceRecordPosition"`
	Value                struct {
		ProcessInstanceKey *int64  `json:"processInstanceKey"`
		ElementID          string  `json:"elementId"`
		BpmnElementType    string  `json:"bpmnElementType"`
		Name               string  `json:"name"`
		Value              any     `json:"value"`
		ScopeKey           int64   `json:"scopeKey"`
		ErrorType          string  `json:"errorType"`
		ErrorMessage       string  `json:"errorMessage"`
		JobKey             int64   `json:"jobKey"`
		JobKeys            []int64 `json:"jobKeys"`
		Retries            int32   `json:"retries"`
		Type               string  `json:"type"`
	} `json:"value"`

	line int
	raw  string
}

func (r *record) pik() int64 {
	if r.Value.ProcessInstanceKey == nil {
		return -1
	}
	return *r.Value.ProcessInstanceKey
}

func (r *record) event(valueType, intent string) bool {
	return r.RecordType == "EVENT" && r.ValueType == valueType && r.Intent == intent
}

func (r *record) short() string {
	s := r.raw
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return fmt.Sprintf("line %d: %s", r.line, s)
}

// introduces tells whether the record is the one that brings its key into existence.
func (r *record) introduces() bool {
	if r.RecordType != "EVENT" || r.Key < 0 {
		return false
	}
	switch r.ValueType + " " + r.Intent {
	case "PROCESS_INSTANCE ELEMENT_ACTIVATING", "PROCESS_INSTANCE SEQUENCE_FLOW_TAKEN", "JOB CREATED",
		"JOB_BATCH ACTIVATED", "INCIDENT CREATED", "TIMER CREATED", "VARIABLE CREATED",
		"PROCESS_INSTANCE_CREATION CREATED", "DEPLOYMENT CREATED", "PROCESS CREATED":
		return true
	}
	return false
}

// tail reads the records file incrementally while the engine writes it (whole lines only: a
// line torn by a kill is cut by the engine when it starts again).
type tail struct {
	path    string
	off     int64
	lastPos int64
	maxKey  int64
	bad     int

	instances map[int64]bool
	completed map[int64]bool
	incident  map[int64]bool
}

func newTail(path string) *tail {
	return &tail{path: path, lastPos: -1, maxKey: -1, instances: map[int64]bool{}, completed: map[int64]bool{}, incident: map[int64]bool{}}
}

func (t *tail) refresh() error {
	f, err := os.Open(t.path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return nil
	}
	t.off += int64(end + 1)
	for _, line := range bytes.Split(b[:end], []byte("\n")) {
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r record
		if json.Unmarshal(line, &r) != nil {
			t.bad++
			continue
		}
		t.lastPos = r.Position
		if r.Key > t.maxKey {
			t.maxKey = r.Key
		}
		if r.ValueType == "PROCESS_INSTANCE" && r.Value.BpmnElementType == "PROCESS" && r.RecordType == "EVENT" {
			switch r.Intent {
			case "ELEMENT_ACTIVATING":
				t.instances[r.Key] = true
			case "ELEMENT_COMPLETED":
				t.completed[r.Key] = true
			}
		}
		if r.event("INCIDENT", "CREATED") {
			t.incident[r.pik()] = true
		}
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Client ledgers

// sent is one command the clients sent and how it was answered.
type sent struct {
	op       string // create, complete, fail
	n        int    // create: the instance's n
	key      int64  // create: the acknowledged instance key; complete, fail: the job key
	instance int64
	element  string
	attempt  int
	code     codes.Code
	err      string
	epoch    int32 // kills before it was sent
	at       time.Time
	answered time.Time
}

// unknownOutcome: the command may or may not have been applied (the engine went away).
func unknownOutcome(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Canceled:
		return true
	}
	return false
}

type ledger struct {
	mu      sync.Mutex
	entries []sent
}

func (l *ledger) add(s sent) {
	l.mu.Lock()
	l.entries = append(l.entries, s)
	l.mu.Unlock()
}

func (l *ledger) all() []sent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sent(nil), l.entries...)
}

// logCounter takes the Go client's log lines (the JobWorker logs failed polls with the
// standard logger) and keeps the last few.
type logCounter struct {
	mu    sync.Mutex
	n     int
	lasts []string
}

func (c *logCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n++
	c.lasts = append(c.lasts, strings.TrimSpace(string(p)))
	if len(c.lasts) > 5 {
		c.lasts = c.lasts[1:]
	}
	c.mu.Unlock()
	return len(p), nil
}

// ---------------------------------------------------------------------------------------------
// The run

type restart struct {
	killAt, killed  time.Time // SIGKILL sent; the process seen gone
	startAt         time.Time
	finishedAtKill  int64
	createdAtKill   int64
	lastPosAtKill   int64
	maxKeyAtKill    int64
	minKeyAfter     int64 // the lowest key drawn after the restart
	downtime, ready time.Duration
	reexported      int // filled from the records afterwards
}

type run struct {
	t    *testing.T
	n    int
	eng  *engineProc
	cc   zbc.Client // creations
	wc   zbc.Client // job workers
	rng  *rand.Rand
	seed int64

	epoch     atomic.Int32
	finished  atomic.Int64 // OK answers to TaskB completes and Doomed fails
	createdOK atomic.Int64

	creates, answers ledger

	mu       sync.Mutex
	problems []string
}

func (r *run) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *run) problemList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

func (r *run) problemCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.problems)
}

func newClient(addr string) (zbc.Client, error) {
	return zbc.NewClient(&zbc.ClientConfig{
		GatewayAddress:         addr,
		UsePlaintextConnection: true,
		// Reconnect promptly after a restart (gRPC's default backoff grows to 120 s).
		DialOpts: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 300 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
}

// retryWait is the pause between two attempts of a command whose outcome was unknown.
func retryWait(attempt int) time.Duration {
	d := 20 * time.Millisecond << min(attempt-1, 5)
	return min(d, 500*time.Millisecond)
}

// create creates instance n, again after an unknown outcome, until it is acknowledged.
func (r *run) create(n int) {
	deadline := time.Now().Add(90 * time.Second)
	for attempt := 1; ; attempt++ {
		cmd, err := r.cc.NewCreateInstanceCommand().BPMNProcessId(processID).LatestVersion().
			VariablesFromMap(map[string]any{"n": n})
		if err != nil {
			r.problem("create n=%d: %v", n, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s := sent{op: "create", n: n, attempt: attempt, epoch: r.epoch.Load(), at: time.Now()}
		resp, err := cmd.Send(ctx)
		cancel()
		s.answered, s.code = time.Now(), status.Code(err)
		if err == nil {
			s.key = resp.GetProcessInstanceKey()
			r.creates.add(s)
			r.createdOK.Add(1)
			return
		}
		s.err = err.Error()
		r.creates.add(s)
		if !unknownOutcome(s.code) {
			r.problem("create n=%d attempt %d: unexpected answer %v", n, attempt, err)
			return
		}
		if time.Now().After(deadline) {
			r.problem("create n=%d: still no answer after %d attempts: %v", n, attempt, err)
			return
		}
		<-time.After(retryWait(attempt)) // retry backoff, not synchronisation
	}
}

// answer completes (or, for the planned incidents, fails with retries 0) a job, again after an
// unknown outcome for up to 20 s; a job left unanswered times out and comes back.
func (r *run) answer(job entities.Job, op, vars string) {
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s := sent{op: op, key: job.GetKey(), instance: job.GetProcessInstanceKey(), element: job.GetElementId(),
			attempt: attempt, epoch: r.epoch.Load(), at: time.Now()}
		var err error
		switch op {
		case "complete":
			cmd, cerr := r.wc.NewCompleteJobCommand().JobKey(job.GetKey()).VariablesFromString(vars)
			if cerr != nil {
				cancel()
				r.problem("complete %d: %v", job.GetKey(), cerr)
				return
			}
			_, err = cmd.Send(ctx)
		case "fail":
			_, err = r.wc.NewFailJobCommand().JobKey(job.GetKey()).Retries(0).ErrorMessage(plannedMessage).Send(ctx)
		}
		cancel()
		s.answered, s.code = time.Now(), status.Code(err)
		if err != nil {
			s.err = err.Error()
		}
		r.answers.add(s)
		if err == nil {
			if s.element == "TaskB" || s.element == "Doomed" {
				r.finished.Add(1)
			}
			return
		}
		if !unknownOutcome(s.code) || time.Now().After(deadline) {
			return // judged against the records at the end
		}
		<-time.After(retryWait(attempt)) // retry backoff, not synchronisation
	}
}

func (r *run) handleA(_ worker.JobClient, job entities.Job) {
	vars, err := job.GetVariablesAsMap()
	n, ok := vars["n"].(float64)
	if err != nil || !ok {
		r.problem("job %d (instance %d): variable n missing or not a number: %v %v", job.GetKey(), job.GetProcessInstanceKey(), vars, err)
		return
	}
	r.answer(job, "complete", fmt.Sprintf(`{"path":%q}`, pathFor(int(n))))
}

func (r *run) handleB(_ worker.JobClient, job entities.Job) {
	if job.GetElementId() == "Doomed" {
		r.answer(job, "fail", "")
		return
	}
	r.answer(job, "complete", `{"done":true}`)
}

// pollUntil polls cond every 20 ms until it holds or the deadline passes.
func pollUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func TestCrashRestartThreeTimes(t *testing.T) {
	began := time.Now()
	n := envInt("PA_CRASH_INSTANCES", 1000)
	if n < 50 {
		t.Fatalf("PA_CRASH_INSTANCES=%d: at least 50 (one planned incident per 50)", n)
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("PA_CRASH_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("PA_CRASH_SEED=%q: %v", v, err)
		}
		seed = s
	}
	createWindow := time.Duration(envInt("PA_CRASH_CREATE_SECONDS", max(4, n/100))) * time.Second
	stream := os.Getenv("PA_CRASH_STREAM") != "0"
	t.Logf("seed %d (PA_CRASH_SEED=%d reproduces the kill moments), %d instances created over %s, streaming workers %v, extra engine flags %q",
		seed, seed, n, createWindow, stream, os.Getenv("PA_CRASH_ENGINE_FLAGS"))

	dir, err := os.MkdirTemp("", "pa-engine-crashtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("PA_CRASH_KEEP") == "1" {
			t.Logf("kept for inspection: %s (records.jsonl, engine.log, data/)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	eng := &engineProc{addr: fmt.Sprintf("127.0.0.1:%d", port), dataDir: filepath.Join(dir, "data"),
		records: filepath.Join(dir, "records.jsonl"), logPath: filepath.Join(dir, "engine.log"),
		extra: strings.Fields(os.Getenv("PA_CRASH_ENGINE_FLAGS"))}
	if err := eng.start(); err != nil {
		t.Fatal(err)
	}
	defer eng.stop()
	firstReady, err := eng.waitReady(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}

	clientLog := &logCounter{}
	log.SetOutput(clientLog)
	defer log.SetOutput(os.Stderr)

	r := &run{t: t, n: n, eng: eng, rng: rand.New(rand.NewSource(seed)), seed: seed}
	if r.cc, err = newClient(eng.addr); err != nil {
		t.Fatal(err)
	}
	defer r.cc.Close()
	if r.wc, err = newClient(eng.addr); err != nil {
		t.Fatal(err)
	}
	defer r.wc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	dep, err := r.cc.NewDeployResourceCommand().AddResourceFile("testdata/crash.bpmn").Send(ctx)
	cancel()
	if err != nil {
		t.Fatalf("deploying testdata/crash.bpmn: %v", err)
	}
	t.Logf("deployed %s (key %d); engine ready %s after its start", processID, dep.GetDeployments()[0].GetProcess().GetProcessDefinitionKey(), firstReady.Round(time.Millisecond))

	// Job workers: the Go client's JobWorker, 3 s job timeout so that jobs activated before a
	// kill come back, short backoffs so that polling resumes soon after a restart, 1 s long
	// polls (closing a JobWorker can wait for several of them). With streams,
	// each type has a streaming JobWorker and a polling one: jobs that become activatable while
	// no stream is open (after a restart, before the workers' streams are back) are only handed
	// to polls, and the Go client's streaming JobWorker 8.5.8 can stop polling for good (its
	// streamer swallows the "job finished" signals its poller counts; see docs/reliability.md).
	openWorker := func(typ string, h worker.JobHandler, stream bool, fetch ...string) worker.JobWorker {
		name := "crashtest-" + typ + "-poll"
		if stream {
			name = "crashtest-" + typ + "-stream"
		}
		b := r.wc.NewJobWorker().JobType(typ).Handler(h).Name(name).Timeout(jobTimeout).
			RequestTimeout(time.Second).MaxJobsActive(64).Concurrency(16).PollInterval(100 * time.Millisecond).
			BackoffSupplier(worker.NewExponentialBackoffBuilder().MinDelay(20 * time.Millisecond).MaxDelay(500 * time.Millisecond).Build()).
			StreamEnabled(stream)
		if len(fetch) > 0 {
			b = b.FetchVariables(fetch...)
		}
		return b.Open()
	}
	workers := []worker.JobWorker{openWorker("crash-a", r.handleA, false, "n"), openWorker("crash-b", r.handleB, false)}
	if stream {
		workers = append(workers, openWorker("crash-a", r.handleA, true, "n"), openWorker("crash-b", r.handleB, true))
	}
	closeWorkers := func() {
		// Close waits for the worker's open long poll and handlers: close them side by side.
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); w.Close() }()
		}
		wg.Wait()
		workers = nil
	}
	defer func() {
		if workers != nil {
			closeWorkers()
		}
	}()

	// Creations, spread over createWindow so that kills land among them.
	work := make(chan int)
	var creators sync.WaitGroup
	for i := 0; i < 16; i++ {
		creators.Add(1)
		go func() {
			defer creators.Done()
			for k := range work {
				r.create(k)
			}
		}()
	}
	go func() {
		defer close(work)
		tick := time.NewTicker(max(createWindow/time.Duration(n), time.Millisecond))
		defer tick.Stop()
		for k := 0; k < n; k++ {
			work <- k
			<-tick.C
		}
	}()
	creationsDone := make(chan struct{})
	go func() { creators.Wait(); close(creationsDone) }()

	// Kills: when the finished instances (answered OK) reach 20 %, 50 %, 80 % of n plus a
	// seeded random share of up to 10 %; down for a seeded 20–500 ms each time.
	tl := newTail(eng.records)
	var restarts []*restart
	for i, frac := range []float64{0.2, 0.5, 0.8}[:kills] {
		target := int64(frac*float64(n)) + int64(r.rng.Intn(n/10+1))
		down := time.Duration(20+r.rng.Intn(481)) * time.Millisecond
		if !pollUntil(90*time.Second, func() bool { return r.finished.Load() >= target || r.problemCount() > 0 }) {
			_ = tl.refresh()
			t.Fatalf("kill %d: only %d of the %d finished instances it waits for after 90 s (stuck?); last record position %d; problems: %v\nengine goroutines (SIGQUIT):\n%s",
				i+1, r.finished.Load(), target, tl.lastPos, r.problemList(), eng.dump())
		}
		if r.problemCount() > 0 {
			break
		}
		rs := &restart{finishedAtKill: r.finished.Load(), createdAtKill: r.createdOK.Load(), downtime: down}
		rs.killAt = time.Now()
		if err := eng.kill(); err != nil {
			t.Fatal(err)
		}
		rs.killed = time.Now()
		r.epoch.Add(1)
		if err := tl.refresh(); err != nil {
			t.Fatal(err)
		}
		rs.lastPosAtKill, rs.maxKeyAtKill = tl.lastPos, tl.maxKey
		<-time.After(down) // the injected downtime
		rs.startAt = time.Now()
		if err := eng.start(); err != nil {
			t.Fatal(err)
		}
		if rs.ready, err = eng.waitReady(60 * time.Second); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		restarts = append(restarts, rs)
		t.Logf("kill %d at %s: %d finished, %d created; records file at position %d; down %s; ready %s after start",
			i+1, rs.killAt.Sub(began).Round(time.Millisecond), rs.finishedAtKill, rs.createdAtKill, rs.lastPosAtKill,
			down, rs.ready.Round(time.Millisecond))
	}

	// The end: every creation answered, every instance seen in the records completed or at its
	// incident.
	var acked map[int64]bool
	ended := pollUntil(90*time.Second, func() bool {
		if r.problemCount() > 0 {
			return true
		}
		select {
		case <-creationsDone:
		default:
			return false
		}
		if acked == nil {
			acked = map[int64]bool{}
			for _, s := range r.creates.all() {
				if s.code == codes.OK {
					acked[s.key] = true
				}
			}
		}
		if err := tl.refresh(); err != nil {
			return false
		}
		for k := range acked {
			if !tl.instances[k] {
				return false
			}
		}
		for k := range tl.instances {
			if !tl.completed[k] && !tl.incident[k] {
				return false
			}
		}
		return true
	})
	runTime := time.Since(began)
	var dump string
	if !ended {
		dump = eng.dump()
	}
	phase := time.Now()
	closeWorkers()
	closed := time.Since(phase)
	phase = time.Now()
	eng.stop()
	stopped := time.Since(phase)
	if !ended {
		_ = tl.refresh()
		var open []string
		for k := range tl.instances {
			if !tl.completed[k] && !tl.incident[k] {
				open = append(open, strconv.FormatInt(k, 10))
			}
		}
		sort.Strings(open)
		t.Errorf("not finished 90 s after the last restart: %d instances neither completed nor at an incident (first: %v); %d creations acknowledged of %d; last record position %d\nengine goroutines (SIGQUIT):\n%s",
			len(open), open[:min(len(open), 10)], r.createdOK.Load(), n, tl.lastPos, dump)
	}
	for _, p := range r.problemList() {
		t.Error(p)
	}

	phase = time.Now()
	v := verify(t, r, restarts, began)
	t.Logf("after the run: workers closed in %s, engine stopped (SIGTERM) in %s, records verified in %s",
		closed.Round(time.Millisecond), stopped.Round(time.Millisecond), time.Since(phase).Round(time.Millisecond))
	t.Logf("client log lines (failed polls while the engine was down): %d; last: %q", clientLog.n, clientLog.lasts)
	rec := eng.recoveries()
	var lines []string
	lines = append(lines,
		fmt.Sprintf("seed %d; %d instances planned, %d planned incidents; streaming workers %v", seed, n, (n+incidentEvery-1)/incidentEvery, stream),
		fmt.Sprintf("instances: %d acknowledged (%d creations answered OK), %d more found only in the records (created, answer lost in a kill), %d completed, %d at their planned incident; %d lost, %d not ended as planned, %d unexplained",
			v.acked, v.ackedAnswers, v.orphans, v.completed, v.incidents, v.offenders("(lost)"), v.offenders("did not end as planned", "disagree"), v.offenders("no creation explains")),
		fmt.Sprintf("creations: %d attempts, %d retried after UNAVAILABLE/DEADLINE_EXCEEDED (%d instances needed a retry)", v.createAttempts, v.createRetries, v.createRetried),
		fmt.Sprintf("job answers: %d CompleteJob OK, %d FailJob OK, %d rejected NOT_FOUND (job already completed), %d FailJob FAILED_PRECONDITION (already failed), %d retried after an unknown outcome, %d given up (job timed out instead)",
			v.completeOK, v.failOK, v.notFound, v.failPrecondition, v.answerRetries, v.answerGaveUp),
		fmt.Sprintf("records: %d, last position %d, %d position gaps or duplicates, %d unreadable lines; %d JOB COMPLETED, %d jobs completed twice, %d acknowledged answers not in the records, %d unexpected answers; %d JOB TIMED_OUT; %d timers (%d crossed a restart, %d not triggered exactly once); %d key offences (reuse, order)",
			v.records, v.lastPos, v.offenders("record positions"), v.offenders("not JSON"), v.jobsCompleted, v.offenders("completed twice"),
			v.offenders("not borne out"), v.offenders("unexpected answers"), v.timedOut, v.timers, v.timersCrossing, v.offenders("timers not"),
			v.offenders("keys introduced twice", "keys drawn after", "stamped while")),
	)
	for i, rs := range restarts {
		eng := "?"
		if i+1 < len(rec) {
			eng = rec[i+1]
		}
		lines = append(lines, fmt.Sprintf("restart %d: killed at %s with %d/%d finished, %d created; down %s; Topology OK %s after start (engine replay %s); %d records of logged commands exported again after it; keys drawn before ≤ %d < %d ≤ keys drawn after",
			i+1, rs.killAt.Sub(began).Round(time.Millisecond), rs.finishedAtKill, n, rs.createdAtKill, rs.downtime,
			rs.ready.Round(time.Millisecond), eng, rs.reexported, rs.maxKeyAtKill, rs.minKeyAfter))
	}
	verdictWord := "PASS"
	if t.Failed() {
		verdictWord = "FAIL"
	}
	lines = append(lines, fmt.Sprintf("total: run %s (to the last instance finished), test %s; verdict %s", runTime.Round(100*time.Millisecond), time.Since(began).Round(100*time.Millisecond), verdictWord))
	t.Logf("SUMMARY\n  %s", strings.Join(lines, "\n  "))
}

// ---------------------------------------------------------------------------------------------
// Oracles

type verdict struct {
	checks                                          []*failures
	records, lastPos                                int64
	acked, ackedAnswers, orphans, completed         int
	incidents, lost                                 int
	createAttempts, createRetries, createRetried    int
	completeOK, failOK, notFound, failPrecondition  int
	answerRetries, answerGaveUp                     int
	jobsCompleted, timedOut, timers, timersCrossing int
}

type instance struct {
	key        int64
	n          int
	hasN       bool
	created    *record // ELEMENT_ACTIVATING of the PROCESS
	completed  []*record
	incidents  []*record
	jobs       map[string][]int64 // elementId → job keys created
	timerCount int
}

type job struct {
	created   *record
	completed []*record
	failed    []*record
	timedOut  int
}

// failures collects the offenders of one oracle and reports the first few.
type failures struct {
	t     *testing.T
	name  string
	count int
	first []string
}

func (f *failures) add(format string, args ...any) {
	f.count++
	if len(f.first) < 10 {
		f.first = append(f.first, fmt.Sprintf(format, args...))
	}
}

// check starts an oracle.
func (v *verdict) check(t *testing.T, name string) *failures {
	f := &failures{t: t, name: name}
	v.checks = append(v.checks, f)
	return f
}

// offenders is the number of offenders of the oracles whose name contains any of words.
func (v *verdict) offenders(words ...string) int {
	n := 0
	for _, f := range v.checks {
		for _, w := range words {
			if strings.Contains(f.name, w) {
				n += f.count
				break
			}
		}
	}
	return n
}

func (f *failures) report() {
	if f.count > 0 {
		f.t.Errorf("%s: %d offender(s); first:\n  %s", f.name, f.count, strings.Join(f.first, "\n  "))
	}
}

func verify(t *testing.T, r *run, restarts []*restart, began time.Time) verdict {
	var v verdict
	f, err := os.Open(r.eng.records)
	if err != nil {
		t.Fatalf("records file: %v", err)
	}
	defer f.Close()

	// 1. Positions: 1, 2, 3… over the whole file, across the restarts.
	positions := v.check(t, "record positions must run 1, 2, 3… without gap or duplicate")
	unparsable := v.check(t, "records file lines that are not JSON records")
	var recs []*record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	expect := int64(1)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			unparsable.add("line %d: %q", lineNo, string(line[:min(len(line), 200)]))
			continue
		}
		rec := &record{line: lineNo}
		if err := json.Unmarshal(line, rec); err != nil {
			unparsable.add("line %d: %v: %.200s", lineNo, err, line)
			continue
		}
		rec.raw = string(line)
		if rec.Position != expect {
			kind := "gap"
			if rec.Position < expect {
				kind = "duplicate or step back"
			}
			positions.add("%s: expected position %d, got %d at %s", kind, expect, rec.Position, rec.short())
		}
		expect = rec.Position + 1
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the records: %v", err)
	}
	positions.report()
	unparsable.report()
	v.records = int64(len(recs))
	if len(recs) > 0 {
		v.lastPos = recs[len(recs)-1].Position
	}

	// 2. Entities from the records.
	instances := map[int64]*instance{}
	inst := func(k int64) *instance {
		i := instances[k]
		if i == nil {
			i = &instance{key: k, jobs: map[string][]int64{}}
			instances[k] = i
		}
		return i
	}
	jobs := map[int64]*job{}
	jb := func(k int64) *job {
		j := jobs[k]
		if j == nil {
			j = &job{}
			jobs[k] = j
		}
		return j
	}
	type timer struct{ created, triggered []*record }
	timers := map[int64]*timer{}
	tm := func(k int64) *timer {
		x := timers[k]
		if x == nil {
			x = &timer{}
			timers[k] = x
		}
		return x
	}
	introduced := map[int64]*record{}
	keyReuse := v.check(t, "keys introduced twice (a key drawn again)")
	for _, rec := range recs {
		if rec.introduces() {
			if prev := introduced[rec.Key]; prev != nil {
				keyReuse.add("key %d introduced by %s and again by %s", rec.Key, prev.short(), rec.short())
			} else {
				introduced[rec.Key] = rec
			}
		}
		switch {
		case rec.event("PROCESS_INSTANCE", "ELEMENT_ACTIVATING") && rec.Value.BpmnElementType == "PROCESS":
			i := inst(rec.Key)
			if i.created != nil {
				keyReuse.add("process instance %d activated twice: %s", rec.Key, rec.short())
			}
			i.created = rec
		case rec.event("PROCESS_INSTANCE", "ELEMENT_COMPLETED") && rec.Value.BpmnElementType == "PROCESS":
			inst(rec.Key).completed = append(inst(rec.Key).completed, rec)
		case rec.event("VARIABLE", "CREATED") && rec.Value.Name == "n" && rec.Value.ScopeKey == rec.pik():
			s, _ := rec.Value.Value.(string)
			if n, err := strconv.Atoi(s); err == nil {
				i := inst(rec.pik())
				i.n, i.hasN = n, true
			}
		case rec.event("INCIDENT", "CREATED"):
			inst(rec.pik()).incidents = append(inst(rec.pik()).incidents, rec)
		case rec.event("JOB", "CREATED"):
			jb(rec.Key).created = rec
			i := inst(rec.pik())
			i.jobs[rec.Value.ElementID] = append(i.jobs[rec.Value.ElementID], rec.Key)
		case rec.event("JOB", "COMPLETED"):
			jb(rec.Key).completed = append(jb(rec.Key).completed, rec)
		case rec.event("JOB", "FAILED"):
			jb(rec.Key).failed = append(jb(rec.Key).failed, rec)
		case rec.event("JOB", "TIMED_OUT"):
			jb(rec.Key).timedOut++
			v.timedOut++
		case rec.event("TIMER", "CREATED"):
			tm(rec.Key).created = append(tm(rec.Key).created, rec)
			inst(rec.pik()).timerCount++
		case rec.event("TIMER", "TRIGGERED"):
			tm(rec.Key).triggered = append(tm(rec.Key).triggered, rec)
		}
	}
	keyReuse.report()

	// 3. Keys drawn after each restart are higher than every key drawn before its kill;
	// records of logged commands exported again after a restart carry the time of their
	// processing (before the kill).
	keyOrder := v.check(t, "keys drawn after a restart must be higher than those drawn before the kill")
	timing := v.check(t, "records stamped while the engine was down")
	for i, rs := range restarts {
		// Every record the killed process wrote is stamped no later than the moment it was seen
		// gone, every record of the restarted one no earlier than its start.
		killMs, startMs := rs.killed.UnixMilli(), rs.startAt.UnixMilli()
		var maxBefore int64 = -1
		var minAfter *record
		for _, rec := range recs {
			if rec.Position > rs.lastPosAtKill && rec.Timestamp <= killMs {
				rs.reexported++
			}
			if rec.Timestamp > killMs && rec.Timestamp < startMs {
				timing.add("restart %d (killed %d, started %d): %s", i+1, killMs, startMs, rec.short())
			}
			if !rec.introduces() {
				continue
			}
			if rec.Timestamp <= killMs && rec.Key > maxBefore {
				maxBefore = rec.Key
			}
			if rec.Timestamp >= startMs && (minAfter == nil || rec.Key < minAfter.Key) {
				minAfter = rec
			}
		}
		if minAfter != nil && minAfter.Key <= maxBefore {
			keyOrder.add("restart %d: key %d drawn after it (%s) is not above %d drawn before the kill", i+1, minAfter.Key, minAfter.short(), maxBefore)
		}
		rs.maxKeyAtKill = maxBefore
		if minAfter != nil {
			rs.minKeyAfter = minAfter.Key
		}
	}
	keyOrder.report()
	timing.report()

	// 4. Instances: every acknowledged one is in the records with the n it was created with;
	// those found only in the records are creations whose answer a kill took; every one
	// completed exactly once, or — exactly the planned ones — is at one JOB_NO_RETRIES incident.
	creates := r.creates.all()
	ackedKey := map[int64]sent{}
	ackedN := map[int]int{}
	unknownN := map[int]bool{}
	retriedN := map[int]bool{}
	lost := v.check(t, "acknowledged instances missing from the records (lost)")
	for _, s := range creates {
		v.createAttempts++
		if s.attempt > 1 {
			v.createRetries++
			retriedN[s.n] = true
		}
		if unknownOutcome(s.code) {
			unknownN[s.n] = true
		}
		if s.code != codes.OK {
			continue
		}
		v.ackedAnswers++
		if prev, dup := ackedKey[s.key]; dup {
			lost.add("instance key %d acknowledged twice (n=%d and n=%d)", s.key, prev.n, s.n)
		}
		ackedKey[s.key] = s
		ackedN[s.n]++
	}
	v.createRetried = len(retriedN)
	v.acked = len(ackedKey)
	for k := 0; k < r.n; k++ {
		if ackedN[k] == 0 {
			lost.add("n=%d: no creation acknowledged", k)
		}
	}
	mismatch := v.check(t, "instances whose records disagree with the creation that was acknowledged")
	for k, s := range ackedKey {
		i := instances[k]
		if i == nil || i.created == nil {
			lost.add("instance %d (n=%d, acknowledged at %s, epoch %d): no PROCESS ELEMENT_ACTIVATING record", k, s.n, s.answered.Format(time.RFC3339Nano), s.epoch)
			v.lost++
			continue
		}
		if !i.hasN || i.n != s.n {
			mismatch.add("instance %d acknowledged for n=%d, records say n=%d (found %v)", k, s.n, i.n, i.hasN)
		}
		if i.created.Timestamp > s.answered.UnixMilli() {
			mismatch.add("instance %d acknowledged at %d ms but created at %d ms (after its answer: the acknowledged creation was lost and redone?) %s",
				k, s.answered.UnixMilli(), i.created.Timestamp, i.created.short())
		}
	}
	phantom := v.check(t, "instances in the records that no creation explains")
	outcome := v.check(t, "instances that did not end as planned (completed, or the planned incident)")
	keys := make([]int64, 0, len(instances))
	for k := range instances {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	for _, k := range keys {
		i := instances[k]
		if i.created == nil {
			if k != -1 {
				outcome.add("records about instance %d, which was never activated", k)
			}
			continue
		}
		if _, ok := ackedKey[k]; !ok {
			v.orphans++
			if !i.hasN || !unknownN[i.n] {
				phantom.add("instance %d (n=%d, has n %v) was not acknowledged and no creation of that n had an unknown outcome: %s", k, i.n, i.hasN, i.created.short())
			}
		}
		planned := i.hasN && pathFor(i.n) == "incident"
		taskA, taskB, doomed := i.jobs["TaskA"], i.jobs["TaskB"], i.jobs["Doomed"]
		completedJobs := func(ks []int64) int {
			c := 0
			for _, jk := range ks {
				c += len(jobs[jk].completed)
			}
			return c
		}
		switch {
		case planned:
			ok := len(i.incidents) == 1 && len(i.completed) == 0 && len(doomed) == 1 && completedJobs(doomed) == 0 &&
				len(taskA) == 1 && completedJobs(taskA) == 1 && len(taskB) == 0
			if ok {
				inc := i.incidents[0]
				ok = inc.Value.ErrorType == "JOB_NO_RETRIES" && inc.Value.ElementID == "Doomed" && inc.Value.JobKey == doomed[0] &&
					inc.Value.ErrorMessage == plannedMessage
			}
			if ok {
				v.incidents++
			} else {
				outcome.add("planned incident instance %d (n=%d): %d incidents, %d completions, jobs TaskA %v Doomed %v TaskB %v (completed A %d, Doomed %d)",
					k, i.n, len(i.incidents), len(i.completed), taskA, doomed, taskB, completedJobs(taskA), completedJobs(doomed))
			}
		default:
			ok := len(i.incidents) == 0 && len(i.completed) == 1 && len(taskA) == 1 && len(taskB) == 1 && len(doomed) == 0 &&
				completedJobs(taskA) == 1 && completedJobs(taskB) == 1
			wantTimer := 0
			if i.hasN && pathFor(i.n) == "timer" {
				wantTimer = 1
			}
			ok = ok && i.timerCount == wantTimer
			if ok {
				v.completed++
			} else {
				var inc []string
				for _, x := range i.incidents {
					inc = append(inc, x.short())
				}
				outcome.add("instance %d (n=%d, path %s): %d completions, %d incidents %v, jobs TaskA %v TaskB %v Doomed %v (completed A %d, B %d), timers %d (want %d)",
					k, i.n, pathFor(i.n), len(i.completed), len(i.incidents), inc, taskA, taskB, doomed, completedJobs(taskA), completedJobs(taskB), i.timerCount, wantTimer)
			}
		}
	}
	lost.report()
	mismatch.report()
	phantom.report()
	outcome.report()
	diagnoseOpen(t, recs, instances, jobs, began)

	// 5. Jobs: at most one JOB COMPLETED per job; every answer the worker saw is borne out by
	// the records.
	twice := v.check(t, "jobs completed twice")
	for k, j := range jobs {
		v.jobsCompleted += len(j.completed)
		if len(j.completed) > 1 {
			var at []string
			for _, c := range j.completed {
				at = append(at, c.short())
			}
			twice.add("job %d: %s", k, strings.Join(at, " | "))
		}
	}
	twice.report()
	ackLost := v.check(t, "acknowledged job answers not borne out by the records")
	unexpected := v.check(t, "unexpected answers to CompleteJob/FailJob")
	okPerJob := map[int64]int{}
	for _, s := range r.answers.all() {
		if s.attempt > 1 {
			v.answerRetries++
		}
		j := jobs[s.key]
		switch {
		case s.code == codes.OK && s.op == "complete":
			v.completeOK++
			okPerJob[s.key]++
			switch {
			case j == nil || len(j.completed) == 0:
				ackLost.add("CompleteJob %d (instance %d, %s) answered OK at %s (epoch %d), no JOB COMPLETED record", s.key, s.instance, s.element, s.answered.Format(time.RFC3339Nano), s.epoch)
			case j.completed[0].Timestamp > s.answered.UnixMilli():
				ackLost.add("CompleteJob %d answered OK at %d ms but its JOB COMPLETED is stamped %d ms (the acknowledged completion was lost and redone): %s",
					s.key, s.answered.UnixMilli(), j.completed[0].Timestamp, j.completed[0].short())
			}
		case s.code == codes.OK && s.op == "fail":
			v.failOK++
			okPerJob[s.key]++
			if j == nil || len(j.failed) == 0 || j.failed[0].Value.Retries != 0 {
				ackLost.add("FailJob %d (instance %d) answered OK, no JOB FAILED record with retries 0", s.key, s.instance)
			} else if j.failed[0].Timestamp > s.answered.UnixMilli() {
				ackLost.add("FailJob %d answered OK at %d ms but JOB FAILED is stamped %d ms", s.key, s.answered.UnixMilli(), j.failed[0].Timestamp)
			}
		case s.code == codes.NotFound && s.op == "complete":
			v.notFound++
			if j == nil || len(j.completed) == 0 {
				unexpected.add("CompleteJob %d (instance %d, %s) rejected NOT_FOUND but the job was never completed: %s", s.key, s.instance, s.element, s.err)
			}
		case s.code == codes.FailedPrecondition && s.op == "fail":
			v.failPrecondition++
			if j == nil || len(j.failed) == 0 {
				unexpected.add("FailJob %d rejected FAILED_PRECONDITION but the job never failed: %s", s.key, s.err)
			}
		case unknownOutcome(s.code):
			// retried, or given up (counted below)
		default:
			unexpected.add("%s %d (instance %d, %s, attempt %d, epoch %d): %v %s", s.op, s.key, s.instance, s.element, s.attempt, s.epoch, s.code, s.err)
		}
	}
	// A command given up after unknown outcomes: its last attempt had an unknown outcome.
	last := map[int64]sent{}
	for _, s := range r.answers.all() {
		if p, ok := last[s.key]; !ok || s.at.After(p.at) {
			last[s.key] = s
		}
	}
	for _, s := range last {
		if unknownOutcome(s.code) {
			v.answerGaveUp++
		}
	}
	for k, c := range okPerJob {
		if c > 1 {
			twice.count++
			t.Errorf("job %d: %d answers OK to CompleteJob/FailJob (a job answered twice)", k, c)
		}
	}
	ackLost.report()
	unexpected.report()

	// 6. Timers: each triggered exactly once.
	timerOnce := v.check(t, "timers not triggered exactly once")
	for k, x := range timers {
		v.timers++
		if len(x.created) != 1 || len(x.triggered) != 1 {
			timerOnce.add("timer %d: %d created, %d triggered", k, len(x.created), len(x.triggered))
			continue
		}
		for _, rs := range restarts {
			if x.created[0].Timestamp <= rs.killed.UnixMilli() && x.triggered[0].Timestamp >= rs.startAt.UnixMilli() {
				v.timersCrossing++
				break
			}
		}
	}
	timerOnce.report()
	return v
}

// diagnoseOpen explains instances that neither completed nor reached an incident: where their
// open jobs are (never activated, or activated and then what), and when each job type was last
// polled (JOB_BATCH ACTIVATE) or pushed to a stream (JOB_BATCH ACTIVATED without one).
func diagnoseOpen(t *testing.T, recs []*record, instances map[int64]*instance, jobs map[int64]*job, began time.Time) {
	var open []*instance
	for _, i := range instances {
		if i.created != nil && len(i.completed) == 0 && len(i.incidents) == 0 {
			open = append(open, i)
		}
	}
	if len(open) == 0 {
		return
	}
	sort.Slice(open, func(a, b int) bool { return open[a].key < open[b].key })
	t0 := began.UnixMilli()
	activated := map[int64]*record{} // job key → last JOB_BATCH ACTIVATED naming it
	byPos := map[int64]*record{}
	type typeStat struct {
		polls, pushes      int
		lastPoll, lastPush *record
	}
	stats := map[string]*typeStat{}
	for _, rec := range recs {
		byPos[rec.Position] = rec
		if rec.ValueType != "JOB_BATCH" {
			continue
		}
		st := stats[rec.Value.Type]
		if st == nil {
			st = &typeStat{}
			stats[rec.Value.Type] = st
		}
		switch {
		case rec.RecordType == "COMMAND" && rec.Intent == "ACTIVATE":
			st.polls++
			st.lastPoll = rec
		case rec.event("JOB_BATCH", "ACTIVATED"):
			for _, k := range rec.Value.JobKeys {
				activated[k] = rec
			}
			// A poll's ACTIVATED follows its ACTIVATE command; a push has no command of its own.
			if src := byPos[rec.SourceRecordPosition]; src == nil || src.ValueType != "JOB_BATCH" || src.Position+1 != rec.Position {
				st.pushes++
				st.lastPush = rec
			}
		}
	}
	var lines []string
	for _, i := range open[:min(len(open), 10)] {
		for el, keys := range i.jobs {
			for _, k := range keys {
				j := jobs[k]
				if len(j.completed) > 0 || len(j.failed) > 0 {
					continue
				}
				state := "never activated"
				if a := activated[k]; a != nil {
					state = fmt.Sprintf("last activated at +%d ms (position %d, worker batch of %d), %d time-outs", a.Timestamp-t0, a.Position, len(a.Value.JobKeys), j.timedOut)
				}
				lines = append(lines, fmt.Sprintf("instance %d (n=%d): job %d at %s created at +%d ms (position %d): %s",
					i.key, i.n, k, el, j.created.Timestamp-t0, j.created.Position, state))
			}
		}
	}
	for typ, st := range stats {
		at := func(r *record) string {
			if r == nil {
				return "never"
			}
			return fmt.Sprintf("+%d ms (position %d)", r.Timestamp-t0, r.Position)
		}
		lines = append(lines, fmt.Sprintf("job type %s: %d polls (ActivateJobs), last %s; %d pushes to streams, last %s", typ, st.polls, at(st.lastPoll), st.pushes, at(st.lastPush)))
	}
	last := recs[len(recs)-1]
	lines = append(lines, fmt.Sprintf("last record at +%d ms (position %d)", last.Timestamp-t0, last.Position))
	t.Errorf("%d instances neither completed nor at an incident; their open jobs and the activity per job type:\n  %s", len(open), strings.Join(lines, "\n  "))
}
