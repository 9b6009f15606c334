package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// throughputResult is one throughput run on a fresh engine.
type throughputResult struct {
	Records       string        `json:"records"` // off | on
	Mode          string        `json:"mode"`    // poll | stream
	Instances     int           `json:"instances"`
	Seconds       float64       `json:"seconds"`
	PerSec        float64       `json:"instancesPerSec"`
	EngineCPUus   float64       `json:"engineCpuUsPerInstance"`
	LoadCPUus     float64       `json:"loadGeneratorCpuUsPerInstance"`
	ActivateP50   float64       `json:"createToActivateP50ms"`
	ActivateP99   float64       `json:"createToActivateP99ms"`
	CompleteP50   float64       `json:"createToCompleteP50ms"`
	CompleteP99   float64       `json:"createToCompleteP99ms"`
	ViaStream     int64         `json:"jobsViaStream"`
	ViaPoll       int64         `json:"jobsViaPoll"`
	Polls         int64         `json:"activateJobsCalls"`
	Refused       int64         `json:"createsRefused"`
	Commands      float64       `json:"engineCommands"`
	Batches       float64       `json:"engineBatches"` // fsyncs
	PerBatch      float64       `json:"commandsPerBatch"`
	SampleOK      int           `json:"withResultSampleOK"`
	PeakRSSMB     float64       `json:"enginePeakRssMB"`
	ReadyMS       float64       `json:"readyMs"`       // exec → first Topology
	EngineReadyMS float64       `json:"engineReadyMs"` // the engine's own ready_ms
	RecordsFile   *recordsCheck `json:"recordsFile,omitempty"`
}

// runThroughput starts a fresh engine, deploys the one-task process and runs the load.
func (b *bench) runThroughput(ctx context.Context, run int, records, mode string) (*throughputResult, error) {
	name := fmt.Sprintf("run%d-throughput-records-%s-%s", run, records, mode)
	dir := filepath.Join(b.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	recPath := "off"
	if records == "on" {
		recPath = filepath.Join(dir, "records.log")
	}
	eng, err := startEngine(ctx, b.engineBin, filepath.Join(dir, "data"), recPath, "", filepath.Join(dir, "engine.log"), b.engineArgs, b.engineEnv)
	if err != nil {
		return nil, err
	}
	defer eng.kill()
	r := &throughputResult{Records: records, Mode: mode, Instances: b.n, ReadyMS: ms(eng.ReadyAfter), EngineReadyMS: eng.EngineReadyMS()}
	b.readyFresh = append(b.readyFresh, r.ReadyMS)

	zc, err := newZB(eng.addr)
	if err != nil {
		return nil, err
	}
	defer zc.Close()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	processID, jobType := "engine-bench", "engine-bench-"+suffix
	if err := deploy(ctx, zc, processID, jobType); err != nil {
		return nil, err
	}

	var cpu0, cpu1 time.Duration
	var c0, c1 map[string]float64
	var cpuErr error
	o := b.load
	o.Addr, o.ProcessID, o.JobType, o.N, o.Mode = eng.addr, processID, jobType, b.n, mode
	if mode == modeStream {
		o.Pollers = 1 // alongside the streams, as the Zeebe clients poll while streaming
	}
	o.OnStart = func() {
		c0 = eng.counters()
		cpu0, cpuErr = eng.CPU()
	}
	o.OnDone = func() {
		var err error
		if cpu1, err = eng.CPU(); err != nil && cpuErr == nil {
			cpuErr = err
		}
		c1 = eng.counters()
	}
	lr, err := runLoad(ctx, o)
	if aerr := eng.Alive(); aerr != nil {
		return nil, fmt.Errorf("%s: %w", name, aerr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cpuErr != nil {
		return nil, cpuErr
	}
	n := float64(b.n)
	r.Seconds = lr.Elapsed.Seconds()
	r.PerSec = n / r.Seconds
	r.EngineCPUus = float64((cpu1 - cpu0).Microseconds()) / n
	r.LoadCPUus = float64(lr.SelfCPU.Microseconds()) / n
	r.ActivateP50, r.ActivateP99 = percentileMS(lr.ToActivate, 50), percentileMS(lr.ToActivate, 99)
	r.CompleteP50, r.CompleteP99 = percentileMS(lr.ToComplete, 50), percentileMS(lr.ToComplete, 99)
	r.ViaStream, r.ViaPoll, r.Polls, r.Refused, r.SampleOK = lr.ViaStream, lr.ViaPoll, lr.Polls, lr.Refused, lr.SampleOK
	if c0 != nil && c1 != nil {
		r.Commands = c1["pa_engine_commands_total"] - c0["pa_engine_commands_total"]
		r.Batches = c1["pa_engine_batches_total"] - c0["pa_engine_batches_total"]
		if r.Batches > 0 {
			r.PerBatch = r.Commands / r.Batches
		}
	}
	if m, err := eng.Mem(); err == nil {
		r.PeakRSSMB = mb(m.Peak)
	}
	if err := noJobsLeft(ctx, eng.addr, jobType); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := eng.stop(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if records == "on" {
		rc, err := checkRecords(recPath, processID, jobType)
		if err != nil {
			return nil, fmt.Errorf("%s: records: %w", name, err)
		}
		r.RecordsFile = rc
		want := b.n + b.load.Sample
		if rc.InstancesCompleted != want || rc.JobsCompleted != want {
			return nil, fmt.Errorf("%s: the records file shows %d instances and %d jobs completed, want %d of each",
				name, rc.InstancesCompleted, rc.JobsCompleted, want)
		}
	}
	if !b.keep {
		_ = os.RemoveAll(dir)
	}
	return r, nil
}
