package operations

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedSchema answers a flow's input schema; the first read waits for release, and every read
// after it is counted. inputs is the one input the schema declares.
type gatedSchema struct {
	reads   atomic.Int32
	release chan struct{}
	fail    bool // the first read fails (another job's credentials were refused)
	mu      sync.Mutex
	input   string
}

func (g *gatedSchema) Do(ctx context.Context, _ Call) (*Response, error) {
	if g.reads.Add(1) == 1 && g.release != nil {
		<-g.release
		if g.fail {
			return nil, errors.New("401 for the first job's token")
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return &Response{Status: 200, Body: map[string]any{"schema": map[string]any{"type": "object",
		"properties": map[string]any{g.input: map[string]any{"type": "string"}}}}}, nil
}

// A burst of triggers of one flow on a cold cache reads its schema once; when that read fails,
// each waiting job reads with its own credentials instead of inheriting another's error.
func TestConcurrentChecksShareOneSchemaRead(t *testing.T) {
	for _, fail := range []bool{false, true} {
		g := &gatedSchema{release: make(chan struct{}), fail: fail, input: "Name"}
		const n = 20
		var waiting sync.WaitGroup
		waiting.Add(n - 1)
		s := &Schemas{waiting: waiting.Done}
		errs := make(chan error, n)
		for range n {
			go func() {
				errs <- s.Check(context.Background(), g, "https://org.example", "wf", map[string]any{"Name": "x"})
			}()
		}
		done := make(chan struct{})
		go func() { waiting.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("after 10 s, %d reads and not all %d other checks waiting for the first", g.reads.Load(), n-1)
		}
		if r := g.reads.Load(); r > 1 {
			t.Fatalf("%d reads while the first was in flight", r)
		}
		close(g.release)
		failed := 0
		for range n {
			if err := <-errs; err != nil {
				failed++
			}
		}
		want := map[bool]int32{false: 1, true: n}[fail]
		if failed != map[bool]int{false: 0, true: 1}[fail] || g.reads.Load() != want {
			t.Fatalf("first read fails=%v: %d reads, %d checks failed; want %d reads and only the first failing", fail, g.reads.Load(), failed, want)
		}
	}
}

// A cached schema is used for TTL; inputs it refuses read it again only when it is older than
// Refresh (a republished flow is seen, a wrong input does not read it on every job).
func TestSchemaCacheLifetimeAndRefresh(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := &gatedSchema{input: "Name"}
	s := &Schemas{TTL: 5 * time.Minute, Refresh: time.Minute, Now: func() time.Time { return now }}
	check := func(input string) error {
		return s.Check(context.Background(), g, "https://org.example/", "WF", map[string]any{input: "x"})
	}
	if err := check("Name"); err != nil || g.reads.Load() != 1 {
		t.Fatalf("first check: %v, %d reads", err, g.reads.Load())
	}
	g.mu.Lock()
	g.input = "Customer" // the flow is republished with another input
	g.mu.Unlock()
	now = now.Add(30 * time.Second)
	if err := check("Customer"); err == nil || g.reads.Load() != 1 {
		t.Fatalf("a refusal by a schema younger than Refresh: %v, %d reads; want refused from the cache", err, g.reads.Load())
	}
	now = now.Add(45 * time.Second)
	if err := check("Customer"); err != nil || g.reads.Load() != 2 {
		t.Fatalf("a refusal by a schema older than Refresh: %v, %d reads; want one re-read, then accepted", err, g.reads.Load())
	}
	if err := check("Customer"); err != nil || g.reads.Load() != 2 {
		t.Fatalf("right inputs within TTL: %v, %d reads", err, g.reads.Load())
	}
	now = now.Add(5 * time.Minute)
	if err := check("Customer"); err != nil || g.reads.Load() != 3 {
		t.Fatalf("after TTL: %v, %d reads; want the schema read again", err, g.reads.Load())
	}
	if err := s.Check(context.Background(), g, "https://ORG.example", "wf", map[string]any{"Customer": 1}); err == nil || g.reads.Load() != 3 {
		t.Fatalf("the cache key ignores case and a trailing slash: %v, %d reads", err, g.reads.Load())
	}
}
