package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// memExporter keeps records in memory; drop makes it lose every batch from then on, as a
// crash between the log's fsync and the export would.
type memExporter struct {
	mu   sync.Mutex
	recs []Record
	drop bool
}

func (m *memExporter) Export(rs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drop {
		return nil
	}
	for _, r := range rs {
		data, _ := json.Marshal(r) // values may alias state the engine changes later
		var cp Record
		_ = json.Unmarshal(data, &cp)
		m.recs = append(m.recs, cp)
	}
	return nil
}

func (m *memExporter) LastPosition() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.recs) == 0 {
		return -1
	}
	return m.recs[len(m.recs)-1].Position
}

func (m *memExporter) positions() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int64, len(m.recs))
	for i, r := range m.recs {
		out[i] = r.Position
	}
	return out
}

func open(t *testing.T, dir string, exp Exporter) *Engine {
	t.Helper()
	e, err := Open(Options{DataDir: dir, Exporter: exp, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func do(t *testing.T, e *Engine, c *Cmd) *Result {
	t.Helper()
	res, err := e.Do(context.Background(), c, nil)
	if err != nil {
		t.Fatalf("%s: %v", c.Op, err)
	}
	return res
}

// stateJSON reads the state through the loop (a command is processed first, so the loop is
// between batches) and stops the engine as a crash would: no snapshot.
func crash(t *testing.T, e *Engine) []byte {
	t.Helper()
	close(e.stop)
	<-e.done
	data, err := json.Marshal(e.st)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.wal.Close(); err != nil {
		t.Fatal(err)
	}
	e.closed.Store(true)
	return data
}

// A mixed workload (parallel branches, sub-process, message, timers, errors, incidents,
// variables), then a crash: the state rebuilt from the log alone equals the live state, and
// records the exporter lost are exported again with the same positions.
func TestReplayRebuildsTheSameState(t *testing.T) {
	dir := t.TempDir()
	exp := &memExporter{}
	e := open(t, dir, exp)
	bpmnFile, err := os.ReadFile("testdata/mixed.bpmn")
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, e, &Cmd{Op: OpDeploy, Resources: []Resource{{Name: "mixed.bpmn", Content: bpmnFile}}}); r.Rejection != nil {
		t.Fatalf("deploy: %+v", r.Rejection)
	}
	var instances []int64
	for i := 0; i < 30; i++ {
		vars := fmt.Sprintf(`{"i":%d,"key":"k%d","raw":"r"}`, i, i%10)
		r := do(t, e, &Cmd{Op: OpCreate, ProcessID: "mixed", Version: -1, Variables: json.RawMessage(vars)})
		if r.Rejection != nil {
			t.Fatalf("create: %+v", r.Rejection)
		}
		instances = append(instances, r.Instance.Key)
	}
	jobs := do(t, e, &Cmd{Op: OpActivate, Type: "a", Worker: "w", Timeout: 60000, MaxJobs: 30}).Jobs
	if len(jobs) != 30 {
		t.Fatalf("activated %d jobs of type a, want 30", len(jobs))
	}
	for i, j := range jobs {
		switch i % 4 {
		case 0:
			do(t, e, &Cmd{Op: OpComplete, Key: j.Key, Variables: json.RawMessage(`{"result":"ok"}`)})
		case 1:
			do(t, e, &Cmd{Op: OpThrow, Key: j.Key, Code: "boom", Variables: json.RawMessage(`{"why":"x"}`)})
		case 2:
			do(t, e, &Cmd{Op: OpFail, Key: j.Key, Retries: 0, Message: "no"})
		case 3:
			do(t, e, &Cmd{Op: OpFail, Key: j.Key, Retries: 2, Backoff: 100})
		}
	}
	for i := 0; i < 10; i += 2 {
		do(t, e, &Cmd{Op: OpPublish, Name: "go", Corr: fmt.Sprintf("k%d", i), TTL: 60000, Variables: json.RawMessage(`{"m":1}`)})
	}
	do(t, e, &Cmd{Op: OpSetVariables, Key: instances[3], Variables: json.RawMessage(`{"late":true}`)})
	do(t, e, &Cmd{Op: OpSetVariables, Key: instances[4], Variables: json.RawMessage(`{"i":100}`)})
	do(t, e, &Cmd{Op: OpCancel, Key: instances[2]}) // its job failed without retries: an incident
	// Let timers and backoffs fire (the engine's clock), then take jobs of type b.
	count := func(kind string) int {
		exp.mu.Lock()
		defer exp.mu.Unlock()
		n := 0
		for _, r := range exp.recs {
			if r.ValueType+" "+r.Intent == kind {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); count("JOB RECURRED_AFTER_BACKOFF") < 7 || count("TIMER TRIGGERED") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("backoffs and timers did not fire within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(do(t, e, &Cmd{Op: OpActivate, Type: "b", Worker: "w", Timeout: 60000, MaxJobs: 5}).Jobs) == 0 {
		t.Fatal("no job of type b after the messages")
	}
	seen := map[string]int{}
	exp.mu.Lock()
	for _, r := range exp.recs {
		seen[r.ValueType+" "+r.Intent]++
	}
	exp.mu.Unlock()
	for _, want := range []string{"INCIDENT CREATED", "JOB ERROR_THROWN", "TIMER TRIGGERED", "MESSAGE_SUBSCRIPTION CORRELATED",
		"JOB RECURRED_AFTER_BACKOFF", "VARIABLE UPDATED", "PROCESS_INSTANCE ELEMENT_TERMINATED", "JOB CANCELED"} {
		if seen[want] == 0 {
			t.Errorf("the workload wrote no %s record: the test would not cover it (%v)", want, seen)
		}
	}
	exp.drop = true
	do(t, e, &Cmd{Op: OpPublish, Name: "go", Corr: "k1", TTL: 60000})
	live := crash(t, e)
	exported := exp.positions()

	exp.drop = false
	e2 := open(t, dir, exp)
	replayed := crash(t, e2)
	if string(live) != string(replayed) {
		t.Fatalf("replayed state differs from the live state:\nlive:     %.2000s\nreplayed: %.2000s", live, replayed)
	}
	after := exp.positions()
	if len(after) <= len(exported) {
		t.Fatalf("the records of the dropped batch were not exported again (%d records before, %d after)", len(exported), len(after))
	}
	for i := 1; i < len(after); i++ {
		if after[i] != after[i-1]+1 {
			t.Fatalf("positions not consecutive after re-export: %d then %d", after[i-1], after[i])
		}
	}
}
