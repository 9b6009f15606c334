// Command smoke checks a running Zeebe broker end to end, the way the
// connector uses it:
//
//  1. deploys two one-service-task processes (job types unique per run),
//  2. a raw StreamActivatedJobs stream receives and completes a job,
//  3. a job worker with StreamEnabled(true) completes a job while
//     CreateProcessInstanceWithResult waits for the instance to end,
//  4. a polling job worker (StreamEnabled(false)) does the same,
//  5. a job failed with retries 0 raises an incident, and the INCIDENT
//     CREATED record (with our errorMessage) shows up in the exporter's
//     record file (scripts/zeebe.sh logs-path).
//
// Usage (broker started with scripts/zeebe.sh start):
//
//	go run ./scripts/zeebe/smoke -records "$(scripts/zeebe.sh logs-path)"
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/worker"
	"github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
)

const bpmnTemplate = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
  id="Definitions_%[1]s" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="%[1]s" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>
    <bpmn:serviceTask id="task" name="task">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="%[2]s" retries="1"/>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
`

func main() {
	address := flag.String("address", "127.0.0.1:26500", "gateway gRPC address")
	records := flag.String("records", "", "exporter record file to scan for the INCIDENT record (scripts/zeebe.sh logs-path); empty skips that check")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	run := fmt.Sprintf("%d", time.Now().UnixNano())
	okType := "pa-smoke-task-" + run
	failType := "pa-smoke-fail-" + run
	okProcess := "pa-smoke-ok"
	failProcess := "pa-smoke-incident"

	client, err := zbc.NewClient(&zbc.ClientConfig{GatewayAddress: *address, UsePlaintextConnection: true})
	must(err, "client")
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	topo, err := client.NewTopologyCommand().Send(ctx)
	must(err, "topology")
	log.Printf("topology: %d broker(s), gateway %s", len(topo.GetBrokers()), topo.GetGatewayVersion())

	for _, p := range [][2]string{{okProcess, okType}, {failProcess, failType}} {
		bpmn := fmt.Sprintf(bpmnTemplate, p[0], p[1])
		dep, err := client.NewDeployResourceCommand().AddResource([]byte(bpmn), p[0]+".bpmn").Send(ctx)
		must(err, "deploy "+p[0])
		log.Printf("deployed %s: key %d", p[0], dep.GetDeployments()[0].GetProcess().GetProcessDefinitionKey())
	}

	// 2. Raw job stream (StreamActivatedJobs, 8.4+): no polling involved.
	{
		jobs := make(chan entities.Job, 1)
		sctx, scancel := context.WithCancel(ctx)
		streamErr := make(chan error, 1)
		go func() {
			streamErr <- client.NewStreamJobsCommand().JobType(okType).Consumer(jobs).
				WorkerName("smoke-raw-stream").Timeout(30 * time.Second).
				RequestTimeout(time.Minute).Send(sctx)
		}()
		time.Sleep(2 * time.Second) // let the gateway register the stream with the broker
		t0 := time.Now()
		inst, err := client.NewCreateInstanceCommand().BPMNProcessId(okProcess).LatestVersion().Send(ctx)
		must(err, "create instance (stream)")
		select {
		case job := <-jobs:
			log.Printf("raw stream: got job %d of instance %d after %v", job.GetKey(), inst.GetProcessInstanceKey(), time.Since(t0).Round(time.Millisecond))
			checkActivation(*records, job.GetKey(), "push")
			_, err := client.NewCompleteJobCommand().JobKey(job.GetKey()).Send(ctx)
			must(err, "complete streamed job")
		case err := <-streamErr:
			fail("raw stream ended before a job arrived: %v", err)
		case <-time.After(15 * time.Second):
			fail("raw stream: no job within 15 s")
		}
		scancel()
	}

	// 3 and 4. Job workers, streaming and polling, with CreateInstanceWithResult.
	for _, streaming := range []bool{true, false} {
		var handled atomic.Int32
		var jobKey atomic.Int64
		b := client.NewJobWorker().JobType(okType).
			Handler(func(c worker.JobClient, job entities.Job) {
				handled.Add(1)
				jobKey.Store(job.GetKey())
				cmd, err := c.NewCompleteJobCommand().JobKey(job.GetKey()).
					VariablesFromMap(map[string]interface{}{"streaming": streaming})
				if err != nil {
					log.Printf("variables: %v", err)
					return
				}
				if _, err := cmd.Send(context.Background()); err != nil {
					log.Printf("complete: %v", err)
				}
			}).
			Name(fmt.Sprintf("smoke-worker-stream-%v", streaming)).
			Timeout(30 * time.Second).
			StreamEnabled(streaming)
		if streaming {
			// A long poll interval: after the first (empty) poll only the
			// stream can deliver the job quickly.
			b = b.PollInterval(time.Hour)
		} else {
			b = b.PollInterval(100 * time.Millisecond)
		}
		w := b.Open()
		time.Sleep(2 * time.Second)
		t0 := time.Now()
		cmd, err := client.NewCreateInstanceCommand().BPMNProcessId(okProcess).LatestVersion().
			VariablesFromMap(map[string]interface{}{"run": run})
		must(err, "variables")
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
		res, err := cmd.WithResult().Send(rctx)
		rcancel()
		must(err, fmt.Sprintf("create instance with result (streaming=%v)", streaming))
		log.Printf("worker streaming=%v: instance %d completed with result %s after %v (handled %d)",
			streaming, res.GetProcessInstanceKey(), res.GetVariables(), time.Since(t0).Round(time.Millisecond), handled.Load())
		if streaming {
			checkActivation(*records, jobKey.Load(), "push")
		} else {
			checkActivation(*records, jobKey.Load(), "poll")
		}
		t1 := time.Now()
		w.Close()
		w.AwaitClose()
		log.Printf("worker streaming=%v closed in %v", streaming, time.Since(t1).Round(time.Millisecond))
	}

	// 5. Fail a job with retries 0 -> incident; find it in the exporter records.
	tInc := time.Now()
	inst, err := client.NewCreateInstanceCommand().BPMNProcessId(failProcess).LatestVersion().Send(ctx)
	must(err, "create instance (incident)")
	errMsg := "smoke: boom " + run
	t0 := time.Now()
	resp, err := client.NewActivateJobsCommand().JobType(failType).MaxJobsToActivate(1).
		Timeout(30 * time.Second).WorkerName("smoke-fail").Send(ctx)
	must(err, "activate jobs (incident)")
	if len(resp) != 1 {
		fail("activate jobs (incident): got %d jobs", len(resp))
	}
	log.Printf("activated job %d by ActivateJobs after %v", resp[0].GetKey(), time.Since(t0).Round(time.Millisecond))
	_, err = client.NewFailJobCommand().JobKey(resp[0].GetKey()).Retries(0).ErrorMessage(errMsg).Send(ctx)
	must(err, "fail job")
	log.Printf("failed job %d of instance %d with retries 0 (create+activate+fail took %v)", resp[0].GetKey(), inst.GetProcessInstanceKey(), time.Since(tInc).Round(time.Millisecond))

	if *records != "" {
		line := waitForIncident(*records, errMsg, 20*time.Second)
		log.Printf("incident record: %s", line)
	}
	fmt.Println("SMOKE OK")
}

// checkActivation asserts from the exporter records how the job was handed
// out: "push" (job stream: the JOB_BATCH ACTIVATED event follows the command
// that created the job) or "poll" (it follows a JOB_BATCH ACTIVATE command,
// i.e. an ActivateJobs request). No-op without a record file.
func checkActivation(path string, key int64, want string) {
	if path == "" {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := activationKind(path, key); got != "" {
			if got != want {
				fail("job %d was activated by %s, want %s", key, got, want)
			}
			log.Printf("records: job %d was activated by %s", key, got)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fail("no JOB_BATCH ACTIVATED record for job %d in %s", key, path)
}

func activationKind(path string, key int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	type record struct {
		Position             int64  `json:"position"`
		SourceRecordPosition int64  `json:"sourceRecordPosition"`
		RecordType           string `json:"recordType"`
		ValueType            string `json:"valueType"`
		Intent               string `json:"intent"`
		Value                struct {
			JobKeys []int64 `json:"jobKeys"`
		} `json:"value"`
	}
	byPos := map[int64]record{}
	var activated *record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r record
		if json.Unmarshal(line, &r) != nil {
			continue
		}
		byPos[r.Position] = r
		if r.RecordType == "EVENT" && r.ValueType == "JOB_BATCH" && r.Intent == "ACTIVATED" {
			for _, k := range r.Value.JobKeys {
				if k == key {
					rc := r
					activated = &rc
				}
			}
		}
	}
	if activated == nil {
		return ""
	}
	src, ok := byPos[activated.SourceRecordPosition]
	if ok && src.ValueType == "JOB_BATCH" && src.Intent == "ACTIVATE" {
		return "poll"
	}
	return "push"
}

// waitForIncident scans the exporter record file until an INCIDENT/CREATED
// record with errorMessage == msg appears.
func waitForIncident(path, msg string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if line, ok := findIncident(path, msg); ok {
			return line
		}
		time.Sleep(200 * time.Millisecond)
	}
	fail("no INCIDENT CREATED record with errorMessage %q in %s within %v", msg, path, timeout)
	return ""
}

func findIncident(path, msg string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"INCIDENT"`) {
			continue
		}
		var rec struct {
			RecordType string `json:"recordType"`
			ValueType  string `json:"valueType"`
			Intent     string `json:"intent"`
			Value      struct {
				ErrorType    string `json:"errorType"`
				ErrorMessage string `json:"errorMessage"`
			} `json:"value"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec.RecordType == "EVENT" && rec.ValueType == "INCIDENT" && rec.Intent == "CREATED" && rec.Value.ErrorMessage == msg {
			return line, true
		}
	}
	return "", false
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func fail(format string, args ...interface{}) {
	log.Printf("SMOKE FAILED: "+format, args...)
	os.Exit(1)
}
