//go:build integration

package conformance

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retryExhausted retries a call while it is refused for backpressure.
func retryExhausted(t testing.TB, what string, call func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := call()
		if err == nil {
			return
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond) // backpressure retry
	}
}

// §H: with a backpressure limit (2 in flight), a burst of SetVariables is partly refused with
// RESOURCE_EXHAUSTED "Reached maximum capacity of requests handled" and the refused ones leave no
// record; CompleteJob and FailJob sent during the burst are never refused.
func TestK78BackpressureRefusal(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "--backpressure-limit", "2")
	e.deploy(t, "k78.bpmn") // never refused
	const instances, burst = 21, 300
	var piks []int64
	for range instances {
		var pik int64
		retryExhausted(t, "CreateProcessInstance", func() error {
			resp, err := e.zc.NewCreateInstanceCommand().BPMNProcessId("k78").LatestVersion().Send(ctxT(t, 15*time.Second))
			pik = resp.GetProcessInstanceKey()
			return err
		})
		piks = append(piks, pik)
	}
	target := piks[0] // stays active: its job is never answered
	var jobs []*pb.ActivatedJob
	deadline := time.Now().Add(30 * time.Second)
	for len(jobs) < instances && time.Now().Before(deadline) {
		got, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k78", Worker: "k78", Timeout: 120000, MaxJobsToActivate: instances, RequestTimeout: 1000})
		if err != nil && status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("ActivateJobs: %v", err)
		}
		jobs = append(jobs, got...)
	}
	var answers []*pb.ActivatedJob
	for _, j := range jobs {
		if j.GetProcessInstanceKey() != target {
			answers = append(answers, j)
		}
	}
	if len(answers) != instances-1 {
		t.Fatalf("activated %d jobs to answer, want %d", len(answers), instances-1)
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	setErrs := make([]error, burst)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := e.zc.NewSetVariablesCommand().ElementInstanceKey(target).VariablesFromString(fmt.Sprintf(`{"bp%d":%d}`, i, i))
			if err != nil {
				setErrs[i] = err
				return
			}
			_, setErrs[i] = c.Send(ctx)
		}()
	}
	answerErrs := make([]error, len(answers))
	for i, j := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if i%2 == 0 {
				_, answerErrs[i] = e.zc.NewCompleteJobCommand().JobKey(j.GetKey()).Send(ctx)
			} else {
				_, answerErrs[i] = e.zc.NewFailJobCommand().JobKey(j.GetKey()).Retries(2).ErrorMessage("k78").Send(ctx)
			}
		}()
	}
	close(start)
	wg.Wait()

	for i, err := range answerErrs {
		if err != nil {
			what := "CompleteJob"
			if i%2 == 1 {
				what = "FailJob"
			}
			t.Errorf("%s during the burst: %v (never refused by backpressure)", what, err)
		}
	}
	var refused, accepted []int
	for i, err := range setErrs {
		switch status.Code(err) {
		case codes.OK:
			accepted = append(accepted, i)
		case codes.ResourceExhausted:
			refused = append(refused, i)
			if msg := status.Convert(err).Message(); msg != "Reached maximum capacity of requests handled" {
				t.Errorf("SetVariables refused with %q, want %q", msg, "Reached maximum capacity of requests handled")
			}
		default:
			t.Errorf("SetVariables %d: %v", i, err)
		}
	}
	t.Logf("%d of %d SetVariables refused, %d accepted", len(refused), burst, len(accepted))
	if len(refused) == 0 {
		t.Fatalf("none of %d concurrent SetVariables was refused with --backpressure-limit 2", burst)
	}
	e.barrier(t)
	names := map[string]bool{}
	for _, r := range e.find(recFilter(func(r rec) bool { return r.ValueType == "VARIABLE_DOCUMENT" })) {
		for name := range r.Value.M("variables") {
			names[name] = true
		}
	}
	for _, r := range e.find(recFilter(func(r rec) bool { return r.ValueType == "VARIABLE" })) {
		names[r.Value.S("name")] = true
	}
	for _, i := range refused {
		if n := fmt.Sprintf("bp%d", i); names[n] {
			t.Errorf("refused SetVariables %s left a record", n)
		}
	}
	for _, i := range accepted {
		if n := fmt.Sprintf("bp%d", i); !names[n] {
			t.Errorf("accepted SetVariables %s has no record", n)
		}
	}
}
