package fakegateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newClient(t *testing.T, s *Server) zbc.Client {
	t.Helper()
	for _, k := range []string{"ZEEBE_ADDRESS", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET", "ZEEBE_AUTHORIZATION_SERVER_URL"} {
		t.Setenv(k, "")
	}
	c, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: s.Addr(), UsePlaintextConnection: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTopology(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topo, err := c.NewTopologyCommand().Send(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topo.GetGatewayVersion() != DefaultVersion || len(topo.GetBrokers()) != 1 {
		t.Fatalf("topology %v", topo)
	}
	_, err = c.NewCreateInstanceCommand().BPMNProcessId("p").LatestVersion().Send(ctx)
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("CreateProcessInstance: %v, want UNIMPLEMENTED", err)
	}
}

// TestPollAndStream activates a batch over both paths at once, answers every job, and checks
// the counts, the outstanding cap and that a job cannot be answered twice.
func TestPollAndStream(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const n, outstanding = 200, 8
	b := s.Release(Job{Type: "t", Variables: `{"a":1}`, CustomHeaders: `{"h":"v"}`}, n, outstanding)

	complete := func(j entities.Job) {
		if j.Variables != `{"a":1}` || j.CustomHeaders != `{"h":"v"}` || j.Retries != 3 {
			t.Errorf("job %+v", j.ActivatedJob)
		}
		cmd, err := c.NewCompleteJobCommand().JobKey(j.Key).VariablesFromString(`{"done":true}`)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := cmd.Send(ctx); err != nil {
			t.Error(err)
		}
	}

	sctx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	ch := make(chan entities.Job, 1)
	go func() {
		_ = c.NewStreamJobsCommand().JobType("t").Consumer(ch).Timeout(time.Minute).WorkerName("w").Send(sctx)
	}()
	go func() {
		for j := range ch {
			complete(j)
		}
	}()
	go func() {
		for ctx.Err() == nil {
			select {
			case <-b.Done():
				return
			default:
			}
			// The client gives the gateway 90% of its deadline as the long poll and keeps 10%
			// to receive the answer: with 200 ms that was 20 ms, and on a loaded machine a batch
			// the gateway had sent was dropped by the client (the test then waited for it in
			// vain). 5 s leaves 500 ms.
			pctx, done := context.WithTimeout(ctx, 5*time.Second)
			jobs, err := c.NewActivateJobsCommand().JobType("t").MaxJobsToActivate(4).Timeout(time.Minute).
				WorkerName("w").Send(pctx)
			done()
			if err != nil && ctx.Err() == nil && status.Code(err) != codes.DeadlineExceeded {
				t.Error(err)
				return
			}
			for _, j := range jobs {
				complete(j)
			}
		}
	}()
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if st.ViaPoll+st.ViaStream != n || len(st.Latencies) != n || st.Sample != `{"done":true}` {
		t.Fatalf("stats %+v", st)
	}
	if _, err := c.NewCompleteJobCommand().JobKey(keyBase).Send(ctx); status.Code(err) != codes.NotFound {
		t.Fatalf("second completion: %v, want NOT_FOUND", err)
	}
}

func TestFailuresAreReported(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := s.Release(Job{Type: "t", Variables: `{}`}, 2, 2)
	jobs, err := c.NewActivateJobsCommand().JobType("t").MaxJobsToActivate(2).Timeout(time.Minute).WorkerName("w").Send(ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("activate: %d jobs, %v", len(jobs), err)
	}
	if _, err := c.NewFailJobCommand().JobKey(jobs[0].Key).Retries(0).ErrorMessage("boom").Send(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NewThrowErrorCommand().JobKey(jobs[1].Key).ErrorCode("E").ErrorMessage("bpmn").Send(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	err = b.Stats().Err()
	if err == nil || !strings.Contains(err.Error(), "0 of 2 jobs completed") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Err() = %v", err)
	}
}

// TestOtherTypeGetsNothing: a poll for another job type waits out its request timeout.
func TestOtherTypeGetsNothing(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Release(Job{Type: "t", Variables: `{}`}, 1, 1)
	pctx, done := context.WithTimeout(ctx, 500*time.Millisecond)
	defer done()
	jobs, err := c.NewActivateJobsCommand().JobType("other").MaxJobsToActivate(1).Timeout(time.Minute).
		WorkerName("w").Send(pctx)
	if (err != nil && status.Code(err) != codes.DeadlineExceeded) || len(jobs) != 0 {
		t.Fatalf("got %d jobs, %v", len(jobs), err)
	}
}

// TestOutstandingCap: no more than the cap is activated and unanswered at once.
func TestOutstandingCap(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Release(Job{Type: "t", Variables: `{}`}, 10, 3)
	activate := func() []entities.Job {
		t.Helper()
		pctx, done := context.WithTimeout(ctx, 300*time.Millisecond)
		defer done()
		jobs, err := c.NewActivateJobsCommand().JobType("t").MaxJobsToActivate(10).Timeout(time.Minute).WorkerName("w").Send(pctx)
		if err != nil && status.Code(err) != codes.DeadlineExceeded {
			t.Fatal(err)
		}
		return jobs
	}
	first := activate()
	if len(first) != 3 {
		t.Fatalf("first activation: %d jobs, want 3", len(first))
	}
	if n := len(activate()); n != 0 {
		t.Fatalf("activation at the cap: %d jobs, want 0", n)
	}
	if _, err := c.NewCompleteJobCommand().JobKey(first[0].Key).Send(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(activate()); n != 1 {
		t.Fatalf("activation after one answer: %d jobs, want 1", n)
	}
}

func TestVariants(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Release(Job{Type: "t", Variants: []string{`{"v":0}`, `{"v":1}`}}, 3, 3)
	jobs, err := c.NewActivateJobsCommand().JobType("t").MaxJobsToActivate(3).Timeout(time.Minute).WorkerName("w").Send(ctx)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("activate: %d jobs, %v", len(jobs), err)
	}
	for i, j := range jobs {
		if want := []string{`{"v":0}`, `{"v":1}`}[(j.Key-keyBase)%2]; j.Variables != want {
			t.Errorf("job %d: variables %s, want %s", i, j.Variables, want)
		}
	}
}
