package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pa-connector/pa-connector/bench/fakegateway"
	"github.com/pa-connector/pa-connector/bench/procstat"
)

// result is one run's figures. Times per job are µs, latencies ms, memory MB (10^6 bytes, as the targets are written).
type result struct {
	Gateway       string  `json:"gateway"` // fake or engine
	Op            string  `json:"op"`
	Streaming     string  `json:"streaming"`
	GOGC          string  `json:"gogc,omitempty"` // the worker's GOGC when set
	Secrets       string  `json:"secrets"`        // env (SECRET_*) or dir (PA_CONNECTOR_SECRETS_DIR files)
	Jobs          int     `json:"jobs"`
	MaxJobsActive int     `json:"maxJobsActive"`
	Seconds       float64 `json:"seconds"`
	JobsPerSec    float64 `json:"jobsPerSec"`
	WorkerCPUus   float64 `json:"workerCpuUsPerJob"`
	P50ms         float64 `json:"p50ms"`
	P99ms         float64 `json:"p99ms"`
	WorkerP50ms   float64 `json:"workerHistogramP50ms"` // from pa_connector_job_duration_seconds
	WorkerP99ms   float64 `json:"workerHistogramP99ms"`
	ReadyMs       float64 `json:"readyMs"`
	IdleRSSMB     float64 `json:"idleRssMB"`
	PeakRSSMB     float64 `json:"peakRssMB"`
	TokensPerJob  float64 `json:"tokenRequestsPerJob"`
	CallsPerJob   float64 `json:"dataverseCallsPerJob"`
	// SchemaReads counts the reads of the flow's input schema that triggers check inputs
	// against: one per cache lifetime for the whole run, however many jobs.
	SchemaReads    int     `json:"schemaReads"`
	AllocKiBPerJob float64 `json:"allocKiBPerJob"`
	MallocsPerJob  float64 `json:"mallocsPerJob"`
	SetVarsPerJob  float64 `json:"setVariablesPerJob,omitempty"` // extra gateway commands (fake gateway)
	ViaStream      int     `json:"viaStream,omitempty"`
	ViaPoll        int     `json:"viaPoll,omitempty"`
	EmulatorCPUus  float64 `json:"emulatorCpuUsPerJob"`
	DriverCPUus    float64 `json:"driverCpuUsPerJob"` // pa-bench itself: fake gateway or instance creation
	EngineCPUus    float64 `json:"engineCpuUsPerJob,omitempty"`
	HeldMs         float64 `json:"heldMs,omitempty"`                 // how long the emulator held each status request
	Rejected       int     `json:"backpressureRejections,omitempty"` // engine: creations refused with RESOURCE_EXHAUSTED and sent again
	Retried        int     `json:"transientRetries,omitempty"`       // engine: creations sent again after INTERNAL/UNAVAILABLE
	InFlightMax    int     `json:"inFlightMax,omitempty"`
	InFlightRSSMB  float64 `json:"inFlightRssMB,omitempty"` // highest VmRSS while jobs were in flight
}

// fakeRun configures one run against the fake gateway.
type fakeRun struct {
	op            operation
	jobs          int
	maxJobsActive int
	streaming     string
	secrets       string // env or dir
	gogc          string // the worker's GOGC ("": unset)
	// delay holds every GetFlowSession call this long (the in-flight memory run).
	delay time.Duration
	// profile fetches a CPU profile of this many seconds from the start, and the allocs profile
	// after the run, into the output directory.
	profileSeconds int
	name           string // file name stem for logs and profiles
}

const mb = 1e6

func (b *bench) runFake(ctx context.Context, r fakeRun) (res result, err error) {
	res = result{Gateway: "fake", Op: r.op.Name, Streaming: r.streaming, Secrets: r.secrets, GOGC: r.gogc, Jobs: r.jobs, MaxJobsActive: r.maxJobsActive, HeldMs: ms(r.delay)}
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
	gw, err := fakegateway.New(fakegateway.Options{})
	if err != nil {
		return res, err
	}
	defer gw.Close()
	w, err := startWorker(workerConfig{
		Bin: b.workerBin, Gateway: gw.Addr(), JobType: "power-automate:1", MaxJobsActive: r.maxJobsActive,
		Streaming: r.streaming, Pprof: r.profileSeconds > 0, LogPath: filepath.Join(b.out, r.name+".worker.log"), Env: withGOGC(b.workerEnv, r.gogc),
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
	ready, err := w.waitReady(ctx, 10*time.Second)
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
	if r.delay > 0 {
		if err := b.em.fault(ctx, "GetFlowSession", r.jobs, r.delay); err != nil {
			return res, err
		}
	}

	var prof sync.WaitGroup
	var profErr error
	if r.profileSeconds > 0 {
		prof.Add(1)
		go func() {
			defer prof.Done()
			profErr = fetch(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", w.http, r.profileSeconds),
				filepath.Join(b.out, r.name+".cpu.pprof"))
		}()
		time.Sleep(50 * time.Millisecond) // let the profile start before the jobs do
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	if r.delay > 0 {
		sampler.Add(1)
		go func() { defer sampler.Done(); b.sampleInFlight(sampleCtx, w, &res) }()
	}

	cpuW0, cpuE0, cpuD0 := w.cpu(), cpuOf(b.em.pid()), cpuOf(os.Getpid())
	job := fakegateway.Job{Type: r.op.jobType(), Variants: jsonVariants(vars), CustomHeaders: mustJSON(r.op.Headers)}
	batch := gw.Release(job, r.jobs, r.maxJobsActive)
	wctx, cancel := context.WithTimeout(ctx, b.runTimeout(r.jobs)+r.delay*time.Duration(1+r.jobs/max(r.maxJobsActive, 1)))
	werr := batch.Wait(wctx)
	cancel()
	cpuW1, cpuE1, cpuD1 := w.cpu(), cpuOf(b.em.pid()), cpuOf(os.Getpid())
	stopSampling()
	sampler.Wait()
	st := batch.Stats()
	mem := w.mem()
	m1, merr := w.metrics(ctx)
	calls1, cerr := b.em.calls(ctx)
	prof.Wait()
	if r.profileSeconds > 0 && profErr == nil {
		profErr = fetch(ctx, w.http+"/debug/pprof/allocs", filepath.Join(b.out, r.name+".allocs.pprof"))
	}
	stopped = true
	serr := w.stop()
	if werr != nil {
		return res, fmt.Errorf("%s: %w (worker log %s)", r.op.Name, werr, w.logf.Name())
	}
	if err := st.Err(); err != nil {
		return res, fmt.Errorf("%s: %w", r.op.Name, err)
	}
	if err := r.op.checkSample(st.Sample); err != nil {
		return res, err
	}
	if err := errors.Join(serr, merr, cerr, profErr); err != nil {
		return res, err
	}

	n := float64(r.jobs)
	res.Seconds = st.Elapsed.Seconds()
	res.JobsPerSec = n / st.Elapsed.Seconds()
	res.WorkerCPUus = us(cpuW1-cpuW0) / n
	res.EmulatorCPUus = us(cpuE1-cpuE0) / n
	res.DriverCPUus = us(cpuD1-cpuD0) / n
	res.P50ms = ms(percentile(st.Latencies, 50))
	res.P99ms = ms(percentile(st.Latencies, 99))
	res.PeakRSSMB = float64(mem.Peak) / mb
	res.ViaStream, res.ViaPoll = st.ViaStream, st.ViaPoll
	res.SetVarsPerJob = float64(st.SetVariables+st.UpdateTimeouts) / n
	res.TokensPerJob = float64(calls1.Counts["Token"]-calls0.Counts["Token"]) / n
	res.CallsPerJob = float64(calls1.dataverse()-calls0.dataverse()) / n
	res.SchemaReads = calls1.Counts[schemaReadOp] - calls0.Counts[schemaReadOp]
	fillFromMetrics(&res, m0, m1)
	return res, nil
}

// fillFromMetrics adds the worker's own view: allocation per job and its job-duration histogram.
func fillFromMetrics(res *result, m0, m1 metrics) {
	n := float64(res.Jobs)
	res.AllocKiBPerJob = (m1.sum("go_memstats_alloc_bytes_total") - m0.sum("go_memstats_alloc_bytes_total")) / 1024 / n
	res.MallocsPerJob = (m1.sum("go_memstats_mallocs_total") - m0.sum("go_memstats_mallocs_total")) / n
	if q, ok := m1.quantile("pa_connector_job_duration_seconds", 0.5); ok {
		res.WorkerP50ms = ms(q)
	}
	if q, ok := m1.quantile("pa_connector_job_duration_seconds", 0.99); ok {
		res.WorkerP99ms = ms(q)
	}
}

// sampleInFlight records the most jobs in flight and the highest RSS while any are.
func (b *bench) sampleInFlight(ctx context.Context, w *worker, res *result) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, err := w.metrics(ctx)
		if err != nil {
			continue
		}
		if n := int(m.sum("pa_connector_jobs_in_flight")); n > 0 {
			res.InFlightMax = max(res.InFlightMax, n)
			res.InFlightRSSMB = max(res.InFlightRSSMB, float64(w.mem().RSS)/mb)
		}
	}
}

func cpuOf(pid int) time.Duration {
	d, _ := procstat.CPU(pid)
	return d
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: %s", url, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func withGOGC(env []string, gogc string) []string {
	if gogc == "" {
		return env
	}
	return append(append([]string(nil), env...), "GOGC="+gogc)
}
