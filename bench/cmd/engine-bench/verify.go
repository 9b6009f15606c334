package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recordsCheck is what the records file says about a run's process.
type recordsCheck struct {
	Lines              int `json:"lines"`
	InstancesCompleted int `json:"instancesCompleted"` // PROCESS ELEMENT_COMPLETED of the process
	JobsCompleted      int `json:"jobsCompleted"`      // JOB COMPLETED events of the job type
	Rejections         int `json:"rejections"`         // COMMAND_REJECTION records (any)
}

// checkRecords reads the records file (and its rotated predecessor, if any).
func checkRecords(path, processID, jobType string) (*recordsCheck, error) {
	out := &recordsCheck{}
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = scanRecords(f, processID, jobType, out)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return out, nil
}

func scanRecords(r io.Reader, processID, jobType string, out *recordsCheck) error {
	type rec struct {
		ValueType  string `json:"valueType"`
		Intent     string `json:"intent"`
		RecordType string `json:"recordType"`
		Value      struct {
			BpmnProcessID   string `json:"bpmnProcessId"`
			BpmnElementType string `json:"bpmnElementType"`
			Type            string `json:"type"`
		} `json:"value"`
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		out.Lines++
		rej := bytes.Contains(line, []byte(`"recordType":"COMMAND_REJECTION"`))
		if !rej && !bytes.Contains(line, []byte(`"intent":"ELEMENT_COMPLETED"`)) && !bytes.Contains(line, []byte(`"intent":"COMPLETED"`)) {
			continue
		}
		var x rec
		if err := json.Unmarshal(line, &x); err != nil {
			return fmt.Errorf("line %d: %w", out.Lines, err)
		}
		switch {
		case x.RecordType == "COMMAND_REJECTION":
			out.Rejections++
		case x.RecordType != "EVENT":
		case x.ValueType == "PROCESS_INSTANCE" && x.Intent == "ELEMENT_COMPLETED" &&
			x.Value.BpmnElementType == "PROCESS" && x.Value.BpmnProcessID == processID:
			out.InstancesCompleted++
		case x.ValueType == "JOB" && x.Intent == "COMPLETED" && x.Value.Type == jobType:
			out.JobsCompleted++
		}
	}
	return sc.Err()
}

// noJobsLeft checks that no job of the type is activatable any more.
func noJobsLeft(ctx context.Context, addr, jobType string) error {
	conn, err := dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	st, err := pb.NewGatewayClient(conn).ActivateJobs(ctx, &pb.ActivateJobsRequest{Type: jobType, Worker: "engine-bench-check",
		Timeout: 1000, MaxJobsToActivate: 100, RequestTimeout: -1})
	if err != nil {
		return err
	}
	n := 0
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n += len(r.Jobs)
	}
	if n > 0 {
		return fmt.Errorf("%d jobs of type %s still activatable after the run", n, jobType)
	}
	return nil
}

// createInstances creates n one-task instances ({"i": 0..n-1}) with the given creators in
// flight and no worker: n open instances, n activatable jobs.
func createInstances(ctx context.Context, addr, processID string, n, creators, conns int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	clients := make([]pb.GatewayClient, conns)
	for i := range clients {
		c, err := dial(addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		clients[i] = pb.NewGatewayClient(c)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < creators; g++ {
		wg.Add(1)
		go func(cl pb.GatewayClient) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				req := &pb.CreateProcessInstanceRequest{BpmnProcessId: processID, Version: -1, Variables: `{"i":` + strconv.FormatInt(i, 10) + `}`}
				for {
					_, err := cl.CreateProcessInstance(ctx, req)
					if err == nil {
						break
					}
					if status.Code(err) == codes.ResourceExhausted {
						time.Sleep(time.Millisecond)
						continue
					}
					cancel(fmt.Errorf("CreateProcessInstance: %w", err))
					return
				}
			}
		}(clients[g%conns])
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// activateAll activates jobs of the type until want distinct instances' jobs (i = 0..want-1)
// are in hand, failing when they are not within limit: a restart that lost state fails here.
func activateAll(ctx context.Context, addr, jobType string, want int, limit time.Duration) ([]*pb.ActivatedJob, error) {
	conn, err := dial(addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cl := pb.NewGatewayClient(conn)
	seen := make([]bool, want)
	var out []*pb.ActivatedJob
	deadline := time.Now().Add(limit)
	for len(out) < want {
		if time.Now().After(deadline) {
			return out, fmt.Errorf("only %d of %d jobs activatable within %v", len(out), want, limit)
		}
		st, err := cl.ActivateJobs(ctx, &pb.ActivateJobsRequest{Type: jobType, Worker: "engine-bench-recovery",
			Timeout: jobTimeout.Milliseconds(), MaxJobsToActivate: 500, RequestTimeout: 1000, FetchVariable: []string{"i"}})
		if err != nil {
			return out, err
		}
		for {
			r, err := st.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return out, err
			}
			for _, j := range r.Jobs {
				i, ok := variableI(j.Variables)
				if !ok || i < 0 || i >= want || seen[i] {
					return out, fmt.Errorf("job %d: unexpected or repeated variables %q", j.Key, j.Variables)
				}
				seen[i] = true
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// completeAll completes the jobs, 64 in flight.
func completeAll(ctx context.Context, addr string, jobs []*pb.ActivatedJob) error {
	conn, err := dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	cl := pb.NewGatewayClient(conn)
	ch := make(chan *pb.ActivatedJob)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if _, err := cl.CompleteJob(ctx, &pb.CompleteJobRequest{JobKey: j.Key}); err != nil {
					select {
					case errs <- fmt.Errorf("CompleteJob %d: %w", j.Key, err):
					default:
					}
					return
				}
			}
		}()
	}
	var failed error
loop:
	for _, j := range jobs {
		select {
		case ch <- j:
		case failed = <-errs:
			break loop
		}
	}
	close(ch)
	wg.Wait()
	if failed != nil {
		return failed
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
