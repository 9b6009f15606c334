package operations

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedCatalog answers EntityDefinitions with one table; the first read waits for release, and
// every read after it (a job that did not wait for the first) is reported on extra.
type gatedCatalog struct {
	reads   atomic.Int32
	release chan struct{}
	extra   chan struct{}
	fail    bool // the first read fails (another job's credentials were refused)
}

func (g *gatedCatalog) Do(ctx context.Context, _ Call) (*Response, error) {
	if g.reads.Add(1) == 1 {
		<-g.release
		if g.fail {
			return nil, errors.New("401 for the first job's token")
		}
	} else {
		select {
		case g.extra <- struct{}{}:
		default:
		}
	}
	return &Response{Status: 200, Body: map[string]any{"value": []any{
		map[string]any{"LogicalName": "lead", "EntitySetName": "leads", "PrimaryIdAttribute": "leadid"}}}}, nil
}

// A burst of jobs on a cold cache reads the table list once: the jobs that arrive while it is
// being read wait for it instead of each reading EntityDefinitions (a large answer that also
// counts against Dataverse's service protection limits). When that read fails, each waiting job
// reads with its own credentials instead of inheriting another job's error.
func TestConcurrentResolutionsShareOneTableListRead(t *testing.T) {
	for _, fail := range []bool{false, true} {
		g := &gatedCatalog{release: make(chan struct{}), extra: make(chan struct{}, 1), fail: fail}
		const n = 20
		var waiting sync.WaitGroup
		waiting.Add(n - 1)
		ts := &Tables{waiting: waiting.Done}
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := ts.Resolve(context.Background(), g, "https://org.example", "leads")
				errs <- err
			}()
		}
		allWaiting := make(chan struct{})
		go func() { waiting.Wait(); close(allWaiting) }()
		select {
		case <-allWaiting:
		case <-g.extra:
			t.Fatalf("a second EntityDefinitions read started while the first was in flight")
		case <-time.After(10 * time.Second):
			t.Fatalf("after 10 s, %d reads and not all %d other jobs waiting for the first", g.reads.Load(), n-1)
		}
		close(g.release)
		failed := 0
		for range n {
			if err := <-errs; err != nil {
				failed++
			}
		}
		want := int32(1)
		if fail {
			want = 1 + (n - 1) // every waiting job reads again with its own credentials
		}
		if failed != map[bool]int{false: 0, true: 1}[fail] || g.reads.Load() != want {
			t.Fatalf("first read fails=%v: %d reads, %d jobs failed; want %d reads and only the first job's read failing", fail, g.reads.Load(), failed, want)
		}
	}
}
