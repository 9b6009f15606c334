//go:build integration

package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const (
	// firstKey is the first key of partition 1: (1 << 51) + 1 (§J).
	firstKey int64 = 2251799813685249
	// unknownKey is a partition-1 key no test comes near.
	unknownKey int64 = firstKey + 987_654_321
)

var (
	engineBin string
	eng       *engine // the shared engine
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	// Most tests wait on timers, long polls or streams: run them all at once unless the caller
	// chose a -parallel of its own (the default would be GOMAXPROCS, 2 on CI).
	explicit := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			explicit = true
		}
	})
	if !explicit {
		_ = flag.Set("test.parallel", "128")
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: repository root:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "pa-engine-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	engineBin = filepath.Join(tmp, "pa-engine")
	build := exec.Command("go", "build", "-o", engineBin, "./cmd/pa-engine")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: building ./cmd/pa-engine: %v\n%s", err, out)
		return 1
	}
	eng, err = launch(filepath.Join(tmp, "shared"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: starting the shared engine:", err)
		return 1
	}
	code := m.Run()
	eng.stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- shared engine log (last lines) ---\n%s\n", eng.logTail(40))
	}
	return code
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

// ---------------------------------------------------------------------------------------------
// Engine processes

type engine struct {
	dir, dataDir, records, logPath, addr string
	flags                                []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}

	zc   zbc.Client
	conn *grpc.ClientConn
	gw   pb.GatewayClient
	log  *recordLog
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts an engine with a fresh data directory under dir and waits until Topology
// succeeds. The port is picked free and released before the engine binds it, so another engine
// started at the same moment may take it: an engine that exits at once is started again on
// another port.
func launch(dir string, flags []string) (*engine, error) {
	var lastErr error
	for attempt := range 3 {
		sub := dir
		if attempt > 0 {
			sub = filepath.Join(dir, fmt.Sprintf("attempt%d", attempt+1))
		}
		e, err := launchOnce(sub, flags)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if e == nil || !e.hasExited() {
			break
		}
	}
	return nil, lastErr
}

func (e *engine) hasExited() bool {
	e.mu.Lock()
	exited := e.exited
	e.mu.Unlock()
	select {
	case <-exited:
		return true
	default:
		return false
	}
}

func launchOnce(dir string, flags []string) (*engine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &engine{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		records: filepath.Join(dir, "records.jsonl"),
		logPath: filepath.Join(dir, "engine.log"),
		addr:    fmt.Sprintf("127.0.0.1:%d", port),
		flags:   flags,
	}
	e.log = &recordLog{path: e.records}
	if err := e.start(); err != nil {
		return nil, err
	}
	if err := e.connect(); err != nil {
		e.kill()
		return nil, err
	}
	err = e.waitReady(60 * time.Second)
	if err == nil && e.hasExited() {
		err = fmt.Errorf("pa-engine exited right after Topology answered on %s (another process on the port?):\n%s", e.addr, e.logTail(10))
	}
	if err != nil {
		e.kill()
		e.disconnect()
		return e, err
	}
	return e, nil
}

func (e *engine) start() error {
	logf, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"--address", e.addr, "--data-dir", e.dataDir, "--records", e.records,
		"--monitoring-address", "127.0.0.1:0"}, e.flags...)
	cmd := exec.Command(engineBin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
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
	e.mu.Lock()
	e.cmd, e.exited = cmd, exited
	e.mu.Unlock()
	return nil
}

func (e *engine) connect() error {
	zc, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: e.addr, UsePlaintextConnection: true})
	if err != nil {
		return err
	}
	conn, err := grpc.Dial(e.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		zc.Close()
		return err
	}
	e.zc, e.conn, e.gw = zc, conn, pb.NewGatewayClient(conn)
	return nil
}

func (e *engine) disconnect() {
	if e.zc != nil {
		e.zc.Close()
	}
	if e.conn != nil {
		e.conn.Close()
	}
}

func (e *engine) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-e.exited:
			return fmt.Errorf("pa-engine exited before it was ready:\n%s", e.logTail(30))
		default:
		}
		// both connections must be up: a client that dialled before the engine listened sits
		// in reconnect backoff and fails calls with UNAVAILABLE meanwhile
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := e.gw.Topology(ctx, &pb.TopologyRequest{})
		if err == nil {
			_, err = e.zc.NewTopologyCommand().Send(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond) // readiness probe interval, not synchronisation
	}
	return fmt.Errorf("pa-engine at %s not ready after %s (last Topology error: %v):\n%s", e.addr, timeout, last, e.logTail(30))
}

func (e *engine) signal(sig syscall.Signal, wait time.Duration) bool {
	e.mu.Lock()
	cmd, exited := e.cmd, e.exited
	e.mu.Unlock()
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

// kill sends SIGKILL and waits for the process to be gone.
func (e *engine) kill() { e.signal(syscall.SIGKILL, 30*time.Second) }

// stop sends SIGTERM, then SIGKILL after 10 s.
func (e *engine) stop() {
	if !e.signal(syscall.SIGTERM, 10*time.Second) {
		e.kill()
	}
	e.disconnect()
}

// Kill is kill -9 of a private engine; its data directory and records file stay.
func (e *engine) Kill(t testing.TB) {
	t.Helper()
	e.kill()
	e.disconnect()
}

// Restart starts the engine again on the same address, data directory and records file.
func (e *engine) Restart(t testing.TB) {
	t.Helper()
	e.kill()
	e.disconnect()
	if err := e.start(); err != nil {
		t.Fatalf("restarting pa-engine: %v", err)
	}
	if err := e.connect(); err != nil {
		t.Fatalf("reconnecting: %v", err)
	}
	if err := e.waitReady(60 * time.Second); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func (e *engine) logTail(n int) string {
	b, err := os.ReadFile(e.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startEngine starts a private engine (fresh data directory) for one test; it is killed when
// the test ends.
func startEngine(t *testing.T, flags ...string) *engine {
	t.Helper()
	dir := t.TempDir()
	e, err := launch(dir, flags)
	if err != nil {
		t.Fatalf("starting a private pa-engine %v: %v", flags, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("private engine log (last lines):\n%s", e.logTail(30))
		}
		e.kill()
		e.disconnect()
	})
	return e
}

// ---------------------------------------------------------------------------------------------
// Records

// rec is one exported record (§I).
type rec struct {
	PartitionID          int            `json:"partitionId"`
	Value                val            `json:"value"`
	Key                  int64          `json:"key"`
	Position             int64          `json:"position"`
	Timestamp            int64          `json:"timestamp"`
	ValueType            string         `json:"valueType"`
	Intent               string         `json:"intent"`
	RejectionType        string         `json:"rejectionType"`
	RejectionReason      string         `json:"rejectionReason"`
	RecordVersion        int            `json:"recordVersion"`
	Authorizations       map[string]any `json:"authorizations"`
	SourceRecordPosition int64          `json:"sourceRecordPosition"`
	BrokerVersion        string         `json:"brokerVersion"`
	RecordType           string         `json:"recordType"`

	Raw string `json:"-"`
}

func (r rec) String() string {
	s := r.Raw
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// val is a record's value; numbers are json.Number.
type val map[string]any

func (v val) Has(name string) bool { _, ok := v[name]; return ok }

// I returns an integer field, or -999 when it is absent or not a number.
func (v val) I(name string) int64 {
	if n, ok := v[name].(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
		if f, err := n.Float64(); err == nil {
			return int64(f)
		}
	}
	return -999
}

func (v val) S(name string) string {
	s, _ := v[name].(string)
	return s
}

func (v val) B(name string) bool {
	b, _ := v[name].(bool)
	return b
}

func (v val) M(name string) val {
	m, _ := v[name].(map[string]any)
	return val(m)
}

func (v val) L(name string) []any {
	l, _ := v[name].([]any)
	return l
}

// recordLog reads the engine's records file incrementally (the engine flushes it
// asynchronously; readers poll).
type recordLog struct {
	path string

	mu      sync.Mutex
	recs    []rec
	bad     []string
	offset  int64
	pending []byte
	last    time.Time
}

func (l *recordLog) refresh() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) < 20*time.Millisecond {
		return
	}
	l.last = time.Now()
	f, err := os.Open(l.path)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < l.offset {
		// truncated: start over
		l.offset, l.pending, l.recs, l.bad = 0, nil, nil, nil
	}
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		return
	}
	b, err := io.ReadAll(f)
	if err != nil || len(b) == 0 {
		return
	}
	l.offset += int64(len(b))
	data := append(l.pending, b...)
	lines := bytes.Split(data, []byte("\n"))
	l.pending = append([]byte(nil), lines[len(lines)-1]...)
	for _, line := range lines[:len(lines)-1] {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r rec
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%v: %.300s", err, line))
			continue
		}
		r.Raw = string(line)
		l.recs = append(l.recs, r)
	}
}

// all returns the records read so far (after a refresh).
func (l *recordLog) all() []rec {
	l.refresh()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recs[:len(l.recs):len(l.recs)]
}

func (l *recordLog) badLines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bad...)
}

// matcher selects records.
type matcher interface {
	match(rec) bool
	String() string
}

// recFilter adapts a function to a matcher.
type recFilter func(rec) bool

func (f recFilter) match(r rec) bool { return f(r) }
func (f recFilter) String() string   { return "custom filter" }

// query is a matcher with a readable description.
type query struct {
	recordType, valueType, intent string
	key                           *int64
	fields                        []fieldEq
	conds                         []namedCond
}

type fieldEq struct {
	name string
	want any
}

type namedCond struct {
	desc string
	fn   func(rec) bool
}

func ev(valueType, intent string) query {
	return query{recordType: "EVENT", valueType: valueType, intent: intent}
}
func cmd(valueType, intent string) query {
	return query{recordType: "COMMAND", valueType: valueType, intent: intent}
}
func rej(valueType, intent string) query {
	return query{recordType: "COMMAND_REJECTION", valueType: valueType, intent: intent}
}

func (q query) k(key int64) query { q.key = &key; return q }

// f requires value.<name> == want (string, integer, bool, or a JSON-equal value).
func (q query) f(name string, want any) query {
	q.fields = append(append([]fieldEq(nil), q.fields...), fieldEq{name, want})
	return q
}

func (q query) pi(pik int64) query { return q.f("processInstanceKey", pik) }

func (q query) where(desc string, fn func(rec) bool) query {
	q.conds = append(append([]namedCond(nil), q.conds...), namedCond{desc, fn})
	return q
}

func (q query) match(r rec) bool {
	if q.recordType != "" && r.RecordType != q.recordType {
		return false
	}
	if q.valueType != "" && r.ValueType != q.valueType {
		return false
	}
	if q.intent != "" && r.Intent != q.intent {
		return false
	}
	if q.key != nil && r.Key != *q.key {
		return false
	}
	for _, f := range q.fields {
		if !eqVal(r.Value[f.name], f.want) {
			return false
		}
	}
	for _, c := range q.conds {
		if !c.fn(r) {
			return false
		}
	}
	return true
}

func (q query) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", q.recordType, q.valueType, q.intent)
	if q.key != nil {
		fmt.Fprintf(&b, " key=%d", *q.key)
	}
	for _, f := range q.fields {
		fmt.Fprintf(&b, " %s=%v", f.name, f.want)
	}
	for _, c := range q.conds {
		fmt.Fprintf(&b, " [%s]", c.desc)
	}
	return b.String()
}

func eqVal(got, want any) bool {
	switch w := want.(type) {
	case string:
		s, ok := got.(string)
		return ok && s == w
	case int, int32, int64:
		n, ok := got.(json.Number)
		return ok && n.String() == fmt.Sprint(w)
	case bool:
		b, ok := got.(bool)
		return ok && b == w
	case nil:
		return got == nil
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	var g, wv any
	_ = json.Unmarshal(gb, &g)
	_ = json.Unmarshal(wb, &wv)
	return reflect.DeepEqual(g, wv)
}

// find returns the records read so far that match.
func (e *engine) find(m matcher) []rec {
	var out []rec
	for _, r := range e.log.all() {
		if m.match(r) {
			out = append(out, r)
		}
	}
	return out
}

// waitScale stretches every wait for a record: the timeouts in the tests are what a quiet
// machine needs; a busy 2-core CI machine gets twice that. Timing assertions never rest on these
// waits (they compare record timestamps or measured durations).
const waitScale = 2

// waitRecord polls the records file (every 50 ms) until a record matches, and returns the
// first match; it fails the test after timeout.
func (e *engine) waitRecord(t testing.TB, m matcher, timeout time.Duration) rec {
	t.Helper()
	timeout *= waitScale
	deadline := time.Now().Add(timeout)
	seen := 0
	for {
		all := e.log.all()
		for _, r := range all[seen:] {
			if m.match(r) {
				return r
			}
		}
		seen = len(all)
		if time.Now().After(deadline) {
			t.Fatalf("no record %s within %s (%d records read)", m, timeout, seen)
		}
		time.Sleep(50 * time.Millisecond) // file poll interval
	}
}

// waitRecords waits until n records match and returns them (in log order).
func (e *engine) waitRecords(t testing.TB, m matcher, n int, timeout time.Duration) []rec {
	t.Helper()
	timeout *= waitScale
	deadline := time.Now().Add(timeout)
	for {
		got := e.find(m)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records %s within %s, want %d: %v", len(got), m, timeout, n, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecord on the shared engine.
func waitRecord(t testing.TB, m matcher, timeout time.Duration) rec {
	t.Helper()
	return eng.waitRecord(t, m, timeout)
}

// barrier publishes a marker message (TTL 0) and waits for its MESSAGE PUBLISHED record. The
// records file is written in log order, so every record of a command answered before the
// barrier was sent is in the file once the barrier is. It returns the barrier's position.
func (e *engine) barrier(t testing.TB) int64 {
	t.Helper()
	corr := fmt.Sprintf("barrier-%d", time.Now().UnixNano())
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := e.zc.NewPublishMessageCommand().MessageName("conformance-barrier").CorrelationKey(corr).Send(ctx)
		cancel()
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("barrier message: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // backpressure retry
	}
	return e.waitRecord(t, ev("MESSAGE", "PUBLISHED").f("correlationKey", corr), 30*time.Second).Position
}

// none asserts that no record matches, after a barrier.
func (e *engine) none(t testing.TB, m matcher, why string) {
	t.Helper()
	e.barrier(t)
	if got := e.find(m); len(got) > 0 {
		t.Errorf("%s: want no record %s, found %d, first: %v", why, m, len(got), got[0])
	}
}

// ---------------------------------------------------------------------------------------------
// gRPC assertions

// rejMsg is the gRPC message of a rejected command (§0).
func rejMsg(intent, rejectionType, reason string) string {
	return fmt.Sprintf("Command '%s' rejected with code '%s': %s", intent, rejectionType, reason)
}

// wantErr asserts the gRPC code and the exact message.
func wantErr(t testing.TB, err error, code codes.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("want %s %q, got OK", code, msg)
		return
	}
	st := status.Convert(err)
	if st.Code() != code || st.Message() != msg {
		t.Errorf("want %s %q\n      got %s %q", code, msg, st.Code(), st.Message())
	}
}

// wantErrPrefix asserts the gRPC code and the beginning of the message.
func wantErrPrefix(t testing.TB, err error, code codes.Code, prefix string) string {
	t.Helper()
	if err == nil {
		t.Errorf("want %s %q…, got OK", code, prefix)
		return ""
	}
	st := status.Convert(err)
	if st.Code() != code || !strings.HasPrefix(st.Message(), prefix) {
		t.Errorf("want %s %q…\n      got %s %q", code, prefix, st.Code(), st.Message())
	}
	return st.Message()
}

// wantRejection asserts a rejected command: gRPC code and message, and the COMMAND_REJECTION
// record in the log.
func (e *engine) wantRejection(t testing.TB, err error, code codes.Code, valueType, intent, rejectionType, reason string) {
	t.Helper()
	wantErr(t, err, code, rejMsg(intent, rejectionType, reason))
	e.waitRecord(t, rej(valueType, intent).where("rejectionType="+rejectionType+" reason="+reason, func(r rec) bool {
		return r.RejectionType == rejectionType && r.RejectionReason == reason
	}), 10*time.Second)
}

func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// jsonEq asserts that a JSON document equals the expected one (ignoring member order).
func jsonEq(t testing.TB, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("%s: not JSON: %q (%v)", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %q: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func jsonMap(t testing.TB, doc string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if doc == "" {
		return m
	}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("not a JSON object: %q: %v", doc, err)
	}
	return m
}

// ---------------------------------------------------------------------------------------------
// Commands

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deploy deploys testdata files under their base names.
func (e *engine) deploy(t testing.TB, files ...string) *pb.DeployResourceResponse {
	t.Helper()
	c := e.zc.NewDeployResourceCommand()
	for _, f := range files {
		c = c.AddResource(fixture(t, f), f)
	}
	resp, err := c.Send(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("deploying %v: %v", files, err)
	}
	return resp
}

// create starts an instance of the latest version and returns its key.
func (e *engine) create(t testing.TB, pid string, vars map[string]any) int64 {
	t.Helper()
	c := e.zc.NewCreateInstanceCommand().BPMNProcessId(pid).LatestVersion()
	if vars != nil {
		var err error
		c, err = c.VariablesFromMap(vars)
		must(t, err, "variables")
	}
	resp, err := c.Send(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("creating an instance of %s: %v", pid, err)
	}
	return resp.GetProcessInstanceKey()
}

type result struct {
	resp    *pb.CreateProcessInstanceWithResultResponse
	err     error
	elapsed time.Duration
}

// createWithResult starts CreateProcessInstanceWithResult (60 s deadline) in the background.
func (e *engine) createWithResult(t testing.TB, pid string, vars map[string]any, fetch ...string) <-chan result {
	t.Helper()
	c := e.zc.NewCreateInstanceCommand().BPMNProcessId(pid).LatestVersion()
	if vars != nil {
		var err error
		c, err = c.VariablesFromMap(vars)
		must(t, err, "variables")
	}
	w := c.WithResult()
	if len(fetch) > 0 {
		w = w.FetchVariables(fetch...)
	}
	ch := make(chan result, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		resp, err := w.Send(ctx)
		ch <- result{resp, err, time.Since(start)}
	}()
	return ch
}

func awaitResult(t testing.TB, ch <-chan result) *pb.CreateProcessInstanceWithResultResponse {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("CreateProcessInstanceWithResult: %v", r.err)
		}
		return r.resp
	case <-time.After(70 * time.Second):
		t.Fatal("CreateProcessInstanceWithResult did not return")
	}
	return nil
}

// jobOf waits for the JOB CREATED record of an instance (optionally of one element).
func (e *engine) jobOf(t testing.TB, pik int64) rec {
	t.Helper()
	return e.waitRecord(t, ev("JOB", "CREATED").pi(pik), 15*time.Second)
}

// activate sends a raw ActivateJobs and collects the jobs until the stream ends.
func (e *engine) activate(ctx context.Context, req *pb.ActivateJobsRequest) ([]*pb.ActivatedJob, error) {
	stream, err := e.gw.ActivateJobs(ctx, req)
	if err != nil {
		return nil, err
	}
	var jobs []*pb.ActivatedJob
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return jobs, nil
		}
		if err != nil {
			return jobs, err
		}
		jobs = append(jobs, resp.GetJobs()...)
	}
}

// activateOne activates one job of the type (long polls of 1 s, up to 20 s).
func (e *engine) activateOne(t testing.TB, typ, worker string, timeout time.Duration, fetch ...string) *pb.ActivatedJob {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		jobs, err := e.activate(ctx, &pb.ActivateJobsRequest{Type: typ, Worker: worker, Timeout: timeout.Milliseconds(),
			MaxJobsToActivate: 1, FetchVariable: fetch, RequestTimeout: 1000})
		cancel()
		if err != nil {
			t.Fatalf("ActivateJobs(%s): %v", typ, err)
		}
		if len(jobs) > 1 {
			t.Fatalf("ActivateJobs(%s, max 1) returned %d jobs", typ, len(jobs))
		}
		if len(jobs) == 1 {
			return jobs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no job of type %s could be activated within 20 s", typ)
		}
	}
}

func (e *engine) complete(t testing.TB, jobKey int64, vars string) {
	t.Helper()
	c, err := e.zc.NewCompleteJobCommand().JobKey(jobKey).VariablesFromString(vars)
	must(t, err, "variables")
	_, err = c.Send(ctxT(t, 15*time.Second))
	must(t, err, fmt.Sprintf("CompleteJob(%d)", jobKey))
}

func (e *engine) completeErr(t testing.TB, jobKey int64) error {
	t.Helper()
	c, err := e.zc.NewCompleteJobCommand().JobKey(jobKey).VariablesFromString("{}")
	must(t, err, "variables")
	_, err = c.Send(ctxT(t, 15*time.Second))
	return err
}

// fail sends FailJob through the client's command (the request struct only carries the
// arguments).
func (e *engine) fail(t testing.TB, req *pb.FailJobRequest) error {
	t.Helper()
	c := e.zc.NewFailJobCommand().JobKey(req.GetJobKey()).Retries(req.GetRetries()).ErrorMessage(req.GetErrorMessage())
	if req.GetRetryBackOff() != 0 {
		c = c.RetryBackoff(time.Duration(req.GetRetryBackOff()) * time.Millisecond)
	}
	var d commands.DispatchFailJobCommand = c
	if req.GetVariables() != "" {
		var err error
		d, err = c.VariablesFromString(req.GetVariables())
		must(t, err, "variables")
	}
	_, err := d.Send(ctxT(t, 15*time.Second))
	return err
}

// processCompleted waits for the PROCESS element's ELEMENT_COMPLETED.
func (e *engine) processCompleted(t testing.TB, pik int64, timeout time.Duration) rec {
	t.Helper()
	return e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_COMPLETED").k(pik).f("bpmnElementType", "PROCESS"), timeout)
}

// elementCompleted waits for an element's ELEMENT_COMPLETED in an instance.
func (e *engine) elementCompleted(t testing.TB, pik int64, elementID string, timeout time.Duration) rec {
	t.Helper()
	return e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_COMPLETED").pi(pik).f("elementId", elementID), timeout)
}
