package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// engineRun configures one run against pa-engine, the project's own Zeebe gateway (or any
// Zeebe gateway given with -engine).
type engineRun struct {
	op            operation
	jobs          int
	maxJobsActive int
	concurrency   int // process instances in flight (created with result, awaited)
	streaming     string
	secrets       string
	name          string
	// profileSeconds > 0: a CPU profile of that many seconds from the start of the run.
	profileSeconds int
}

// processXML is a one-task process: start → the worker's job → end. The job type is unique per
// run, so other tests using the same engine neither take these jobs nor hand theirs to us.
func processXML(id, jobType string, headers map[string]string) []byte {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var hs strings.Builder
	for k, v := range headers {
		fmt.Fprintf(&hs, `<zeebe:header key="%s" value="%s"/>`, esc(k), esc(v))
	}
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="pa-bench-definitions" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + esc(id) + `" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>to-task</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="run-desktop-flow">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="` + esc(jobType) + `" retries="3"/>
        <zeebe:taskHeaders>` + hs.String() + `</zeebe:taskHeaders>
      </bpmn:extensionElements>
      <bpmn:incoming>to-task</bpmn:incoming><bpmn:outgoing>to-end</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>to-end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to-task" sourceRef="start" targetRef="run-desktop-flow"/>
    <bpmn:sequenceFlow id="to-end" sourceRef="run-desktop-flow" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
`)
}

func (b *bench) runEngine(ctx context.Context, r engineRun) (res result, err error) {
	res = result{Gateway: "engine", Op: r.op.Name, Streaming: r.streaming, Secrets: r.secrets, Jobs: r.jobs, MaxJobsActive: r.maxJobsActive}
	zc, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: b.engine, UsePlaintextConnection: true})
	if err != nil {
		return res, err
	}
	defer zc.Close()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	processID := "pa-bench-" + r.op.Name
	jobType := "pa-bench-" + r.op.Name + "-" + suffix
	taskType := jobType
	if r.op.JobType != "" {
		// dataverse:1 has a fixed type, which the worker serves beside its own: only on an
		// engine no other dataverse:1 worker uses (make bench starts one of its own).
		taskType = r.op.JobType
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	dep, err := zc.NewDeployResourceCommand().AddResource(processXML(processID, taskType, r.op.Headers), processID+".bpmn").Send(dctx)
	cancel()
	if err != nil {
		return res, fmt.Errorf("deploying %s: %w", processID, err)
	}
	defKey := dep.GetDeployments()[0].GetProcess().GetProcessDefinitionKey()

	if err := b.em.reset(ctx); err != nil {
		return res, err
	}
	vars, err := r.op.variants(ctx, b.em)
	if err != nil {
		return res, err
	}
	calls0, err := b.em.calls(ctx)
	if err != nil {
		return res, err
	}
	w, err := startWorker(workerConfig{
		Bin: b.workerBin, Gateway: b.engine, JobType: jobType, MaxJobsActive: r.maxJobsActive,
		Streaming: r.streaming, Pprof: r.profileSeconds > 0, LogPath: filepath.Join(b.out, r.name+".worker.log"), Env: b.workerEnv,
		SecretsDir: b.secretsDir(r.secrets),
	})
	if err != nil {
		return res, err
	}
	stopped := false
	defer func() {
		if !stopped {
			if serr := w.stop(); err == nil && serr != nil {
				err = serr
			}
		}
	}()
	ready, err := w.waitReady(ctx, 30*time.Second)
	if err != nil {
		return res, err
	}
	res.ReadyMs = ms(ready)
	sleep(ctx, b.idle)
	res.IdleRSSMB = float64(w.mem().RSS) / mb
	m0, err := w.metrics(ctx)
	if err != nil {
		return res, err
	}

	variants := jsonVariants(vars)
	latencies := make([]time.Duration, r.jobs)
	var next atomic.Int64
	var failures, rejected, retried atomic.Int64
	var firstErr atomic.Value
	var sample atomic.Value
	rctx, cancelRun := context.WithTimeout(ctx, b.runTimeout(r.jobs)*4)
	defer cancelRun()

	var prof sync.WaitGroup
	var profErr error
	if r.profileSeconds > 0 {
		prof.Add(1)
		go func() {
			defer prof.Done()
			profErr = fetch(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", w.http, r.profileSeconds),
				filepath.Join(b.out, r.name+".cpu.pprof"))
		}()
	}
	cpuW0, cpuE0, cpuD0, cpuB0 := w.cpu(), cpuOf(b.em.pid()), cpuOf(os.Getpid()), cpuOf(b.enginePID)
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < r.concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= r.jobs {
					return
				}
				cmd, err := zc.NewCreateInstanceCommand().ProcessDefinitionKey(defKey).VariablesFromString(variants[i%len(variants)])
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					failures.Add(1)
					continue
				}
				t0 := time.Now()
				ictx, done := context.WithTimeout(rctx, 2*time.Minute)
				out, err := cmd.WithResult().FetchVariables(r.op.Outputs...).Send(ictx)
				// The engine's backpressure refuses commands when too many are in flight: wait
				// and send again, counting the refusals (the Zeebe client does not retry them).
				// A gateway shared with other tests may also fail a request under load (INTERNAL,
				// UNAVAILABLE): send again, a few times. Such a retry may create a second
				// instance, so the worker can complete more jobs than instances were asked for.
				transient := 0
				for pause := 5 * time.Millisecond; ictx.Err() == nil; pause = min(2*pause, 500*time.Millisecond) {
					code := status.Code(err)
					if code == codes.ResourceExhausted {
						rejected.Add(1)
					} else if (code == codes.Internal || code == codes.Unavailable) && transient < 3 {
						transient++
						retried.Add(1)
					} else {
						break
					}
					sleep(ictx, pause)
					out, err = cmd.WithResult().FetchVariables(r.op.Outputs...).Send(ictx)
				}
				done()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					failures.Add(1)
					continue
				}
				latencies[i] = time.Since(t0)
				sample.CompareAndSwap(nil, out.GetVariables())
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpuW1, cpuE1, cpuD1, cpuB1 := w.cpu(), cpuOf(b.em.pid()), cpuOf(os.Getpid()), cpuOf(b.enginePID)
	mem := w.mem()
	// An instance's result can arrive before the worker has counted the job it completed.
	m1, merr := w.metrics(ctx)
	for deadline := time.Now().Add(5 * time.Second); merr == nil && time.Now().Before(deadline) &&
		int(m1.sum("pa_connector_jobs_handled_total")) < r.jobs; {
		sleep(ctx, 20*time.Millisecond)
		m1, merr = w.metrics(ctx)
	}
	calls1, cerr := b.em.calls(ctx)
	prof.Wait()
	if r.profileSeconds > 0 && profErr == nil {
		profErr = fetch(ctx, w.http+"/debug/pprof/allocs", filepath.Join(b.out, r.name+".allocs.pprof"))
	}
	stopped = true
	serr := w.stop()
	if f := failures.Load(); f > 0 || rctx.Err() != nil {
		return res, fmt.Errorf("%s on the engine: %d of %d instances did not complete (first error: %v; worker log %s)",
			r.op.Name, f+int64(r.jobs)-min(next.Load(), int64(r.jobs)), r.jobs, firstErr.Load(), w.logf.Name())
	}
	s, _ := sample.Load().(string)
	if err := r.op.checkSample(s); err != nil {
		return res, err
	}
	if completed := m1.sum("pa_connector_jobs_handled_total", `outcome="completed"`); int(completed) < r.jobs {
		return res, fmt.Errorf("%s on the engine: the worker completed %v jobs, want %d", r.op.Name, completed, r.jobs)
	}
	if err := errors.Join(serr, merr, cerr, profErr); err != nil {
		return res, err
	}
	n := float64(r.jobs)
	res.Seconds = elapsed.Seconds()
	res.JobsPerSec = n / elapsed.Seconds()
	res.WorkerCPUus = us(cpuW1-cpuW0) / n
	res.EmulatorCPUus = us(cpuE1-cpuE0) / n
	res.DriverCPUus = us(cpuD1-cpuD0) / n
	if b.enginePID > 0 {
		res.EngineCPUus = us(cpuB1-cpuB0) / n
	}
	res.P50ms = ms(percentile(latencies, 50))
	res.P99ms = ms(percentile(latencies, 99))
	res.PeakRSSMB = float64(mem.Peak) / mb
	res.Rejected = int(rejected.Load())
	res.Retried = int(retried.Load())
	res.TokensPerJob = float64(calls1.Counts["Token"]-calls0.Counts["Token"]) / n
	res.CallsPerJob = float64(calls1.dataverse()-calls0.dataverse()) / n
	res.SchemaReads = calls1.Counts[schemaReadOp] - calls0.Counts[schemaReadOp]
	fillFromMetrics(&res, m0, m1)
	return res, nil
}
