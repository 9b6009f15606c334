package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// report is everything one pa-bench invocation measured (results.json).
type report struct {
	Started           time.Time `json:"started"`
	Finished          time.Time `json:"finished"`
	Command           string    `json:"command"`
	Machine           machine   `json:"machine"`
	Jobs              int       `json:"jobs"`
	Runs              int       `json:"runs"`
	MaxJobsActive     int       `json:"maxJobsActive"`
	WorkerEnv         []string  `json:"workerEnv,omitempty"`
	Secrets           string    `json:"secrets"`
	GOGC              string    `json:"gogc"`
	Streaming         string    `json:"streaming"` // modes of the fake-gateway runs; the first for the rest
	EngineJobs        int       `json:"engineJobs"`
	EngineConcurrency int       `json:"engineConcurrency"`
	Fake              []result  `json:"fake"`
	Engine            []result  `json:"engine,omitempty"`
	InFlight          *result   `json:"inFlight,omitempty"`
	Profile           *profile  `json:"profile,omitempty"`
	EngineProfile     *profile  `json:"engineProfile,omitempty"`
}

type machine struct {
	CPUs       int     `json:"cpus"`
	CPUModel   string  `json:"cpuModel"`
	MemoryGB   float64 `json:"memoryGB"`
	Kernel     string  `json:"kernel"`
	Go         string  `json:"go"`
	LoadAvg    string  `json:"loadAvgAtStart"`
	BinaryMB   float64 `json:"workerBinaryMB"`
	BinaryPath string  `json:"workerBinary"`
}

func machineInfo(workerBin string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), BinaryPath: workerBin}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %g kB", &kb); err == nil {
			m.MemoryGB = kb * 1024 / 1e9
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if st, err := os.Stat(workerBin); err == nil {
		m.BinaryMB = float64(st.Size()) / 1e6
	}
	return m
}

func (r result) line() string {
	s := fmt.Sprintf("%d jobs in %.2f s = %.0f jobs/s, worker CPU %.0f µs/job, p50 %.2f ms, p99 %.2f ms, ready %.0f ms, RSS idle %.1f MB peak %.1f MB, %.4f token req/job, %.2f Dataverse calls/job",
		r.Jobs, r.Seconds, r.JobsPerSec, r.WorkerCPUus, r.P50ms, r.P99ms, r.ReadyMs, r.IdleRSSMB, r.PeakRSSMB, r.TokensPerJob, r.CallsPerJob)
	if r.EngineCPUus > 0 {
		s += fmt.Sprintf(", engine CPU %.0f µs/job (worker/engine %.2f)", r.EngineCPUus, r.WorkerCPUus/r.EngineCPUus)
	}
	return s
}

// key names what a row of runs has in common: the operation, and the streaming setting when it
// is not the default.
func (r result) key() string {
	k := r.Op
	if r.Streaming != "" && r.Streaming != "auto" {
		k += ", streaming=" + r.Streaming
	}
	if r.Secrets == "dir" {
		k += ", secrets from files"
	}
	if r.GOGC != "" {
		k += ", GOGC=" + r.GOGC
	}
	return k
}

// runs returns the results of one gateway kind and key (see result.key).
func (rep *report) runs(gateway, key string) []result {
	var out []result
	list := rep.Fake
	if gateway == "engine" {
		list = rep.Engine
	}
	for _, r := range list {
		if r.key() == key {
			out = append(out, r)
		}
	}
	return out
}

func (rep *report) ops(list []result) []string {
	var ops []string
	seen := map[string]bool{}
	for _, r := range list {
		if !seen[r.key()] {
			seen[r.key()] = true
			ops = append(ops, r.key())
		}
	}
	return ops
}

// medianResult is the per-field median of runs.
func medianResult(runs []result) result {
	if len(runs) == 0 {
		return result{}
	}
	f := func(g func(result) float64) float64 { return median(pick(runs, g)) }
	return result{
		Gateway: runs[0].Gateway, Op: runs[0].Op, Streaming: runs[0].Streaming, Secrets: runs[0].Secrets, GOGC: runs[0].GOGC, Jobs: runs[0].Jobs, MaxJobsActive: runs[0].MaxJobsActive,
		Seconds:        f(func(r result) float64 { return r.Seconds }),
		JobsPerSec:     f(func(r result) float64 { return r.JobsPerSec }),
		WorkerCPUus:    f(func(r result) float64 { return r.WorkerCPUus }),
		P50ms:          f(func(r result) float64 { return r.P50ms }),
		P99ms:          f(func(r result) float64 { return r.P99ms }),
		WorkerP50ms:    f(func(r result) float64 { return r.WorkerP50ms }),
		WorkerP99ms:    f(func(r result) float64 { return r.WorkerP99ms }),
		ReadyMs:        f(func(r result) float64 { return r.ReadyMs }),
		IdleRSSMB:      f(func(r result) float64 { return r.IdleRSSMB }),
		PeakRSSMB:      f(func(r result) float64 { return r.PeakRSSMB }),
		TokensPerJob:   f(func(r result) float64 { return r.TokensPerJob }),
		CallsPerJob:    f(func(r result) float64 { return r.CallsPerJob }),
		AllocKiBPerJob: f(func(r result) float64 { return r.AllocKiBPerJob }),
		MallocsPerJob:  f(func(r result) float64 { return r.MallocsPerJob }),
		EmulatorCPUus:  f(func(r result) float64 { return r.EmulatorCPUus }),
		DriverCPUus:    f(func(r result) float64 { return r.DriverCPUus }),
		EngineCPUus:    f(func(r result) float64 { return r.EngineCPUus }),
		Rejected:       int(f(func(r result) float64 { return float64(r.Rejected) })),
		Retried:        int(f(func(r result) float64 { return float64(r.Retried) })),
		SetVarsPerJob:  f(func(r result) float64 { return r.SetVarsPerJob }),
		ViaStream:      int(f(func(r result) float64 { return float64(r.ViaStream) })),
		ViaPoll:        int(f(func(r result) float64 { return float64(r.ViaPoll) })),
	}
}

// verdict compares a measured value with a target (atMost: lower is better).
func verdict(measured, target float64, atMost bool) string {
	if measured == 0 {
		return "not measured"
	}
	ratio := measured / target
	if atMost {
		if measured <= target {
			return fmt.Sprintf("yes (%.0f%% of the limit)", 100*ratio)
		}
		return fmt.Sprintf("**no**: %.2f× the limit", ratio)
	}
	if measured >= target {
		return fmt.Sprintf("yes (%.2f× the target)", ratio)
	}
	return fmt.Sprintf("**no**: %.0f%% of the target", 100*ratio)
}

func (rep *report) markdown() string {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := rep.Machine
	p("Generated by `pa-bench` on %s UTC in %s: `%s`.\n\n", rep.Started.UTC().Format("2006-01-02 15:04"),
		rep.Finished.Sub(rep.Started).Round(time.Second), rep.Command)
	p("Machine: %d × %s, %.1f GB memory, Linux %s, %s; load average at start %s (the machine is shared). ",
		m.CPUs, m.CPUModel, m.MemoryGB, m.Kernel, m.Go, m.LoadAvg)
	p("Worker binary %.1f MB. Fake-gateway figures are medians of %d runs of %d jobs per operation, PA_CONNECTOR_MAX_JOBS_ACTIVE=%d, PA_CONNECTOR_STREAMING=%s (rows without a streaming setting use the default, auto: stream and poll), secrets from SECRET_* variables unless a row says \"secrets from files\" (PA_CONNECTOR_SECRETS_DIR, as the Kubernetes Deployment mounts them), log level info (one JSON line per job, to a file). Jobs are spread over %d Dataverse callers and %d connections (see below).\n\n",
		m.BinaryMB, rep.Runs, rep.Jobs, rep.MaxJobsActive, rep.Streaming, identities, connections)

	// Targets.
	p("### Targets\n\nJudged on the default configuration (streaming auto, secrets from the environment, default GOGC); the variants are in the next table.\n\n| target | measured | met? |\n|---|---|---|\n")
	var ready, idle []float64
	// Targets are judged on the default configuration; the variants are in the tables below.
	var defaults []string
	for _, k := range rep.ops(rep.Fake) {
		if !strings.Contains(k, ",") {
			defaults = append(defaults, k)
		}
	}
	for _, op := range defaults {
		md := medianResult(rep.runs("fake", op))
		p("| worker CPU ≤ 150 µs per job (%s, fake gateway) | %.0f µs | %s |\n", op, md.WorkerCPUus, verdict(md.WorkerCPUus, 150, true))
	}
	for _, op := range defaults {
		md := medianResult(rep.runs("fake", op))
		p("| ≥ 3,000 jobs/s against the fake gateway (%s) | %.0f jobs/s | %s |\n", op, md.JobsPerSec, verdict(md.JobsPerSec, 3000, false))
	}
	if len(rep.Engine) == 0 {
		p("| worker CPU < ¼ of the engine's (pa-engine) | not run | — |\n")
	}
	for _, op := range rep.ops(rep.Engine) {
		md := medianResult(rep.runs("engine", op))
		if md.EngineCPUus > 0 {
			ratio := md.WorkerCPUus / md.EngineCPUus
			p("| worker CPU < ¼ of the engine's (%s, pa-engine) | %.0f vs %.0f µs/job = %.2f | %s |\n", op, md.WorkerCPUus, md.EngineCPUus, ratio, verdict(ratio, 0.25, true))
		} else {
			p("| worker CPU < ¼ of the engine's (%s) | engine pid unknown | — |\n", op)
		}
	}
	for _, r := range rep.Fake {
		ready = append(ready, r.ReadyMs)
		idle = append(idle, r.IdleRSSMB)
	}
	p("| idle RSS ≤ 25 MB | %.1f MB (median of %d starts) | %s |\n", median(idle), len(idle), verdict(median(idle), 25, true))
	if r := rep.InFlight; r != nil {
		p("| RSS ≤ 100 MB with %d jobs in flight | %.1f MB (%d in flight at most; VmHWM %.1f MB) | %s |\n",
			r.Jobs, r.InFlightRSSMB, r.InFlightMax, r.PeakRSSMB, verdict(max(r.InFlightRSSMB, r.PeakRSSMB), 100, true))
	}
	p("| ready ≤ 200 ms after start, gateway up | %.0f ms (median of %d starts, fake gateway) | %s |\n", median(ready), len(ready), verdict(median(ready), 200, true))
	if len(rep.Engine) > 0 {
		br := median(pick(rep.Engine, func(r result) float64 { return r.ReadyMs }))
		p("| ready ≤ 200 ms after start, pa-engine | %.0f ms (median of %d starts) | %s |\n", br, len(rep.Engine), verdict(br, 200, true))
	}

	// Fake gateway.
	p("\n### Fake gateway: the worker-only ceiling\n\n")
	p("Latency is from the gateway sending the job to the complete command arriving. CPU of the emulator and of pa-bench (the fake gateway) is per job too: all three share the 2 cores.\n\n")
	p("| operation | jobs/s | worker CPU µs/job | p50 ms | p99 ms | ready ms | idle RSS MB | peak RSS MB | token requests/job | Dataverse calls/job | other gateway commands/job | allocated KiB/job | allocations/job | emulator CPU µs/job | fake gateway CPU µs/job | jobs via stream / poll |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, op := range rep.ops(rep.Fake) {
		r := medianResult(rep.runs("fake", op))
		p("| %s | %.0f | %.0f | %.2f | %.2f | %.0f | %.1f | %.1f | %.4f | %.2f | %.2f | %.1f | %.0f | %.0f | %.0f | %d / %d |\n",
			op, r.JobsPerSec, r.WorkerCPUus, r.P50ms, r.P99ms, r.ReadyMs, r.IdleRSSMB, r.PeakRSSMB, r.TokensPerJob,
			r.CallsPerJob, r.SetVarsPerJob, r.AllocKiBPerJob, r.MallocsPerJob, r.EmulatorCPUus, r.DriverCPUus, r.ViaStream, r.ViaPoll)
	}
	p("\nEach run (jobs/s, worker µs/job):")
	for _, op := range rep.ops(rep.Fake) {
		var parts []string
		for _, r := range rep.runs("fake", op) {
			parts = append(parts, fmt.Sprintf("%.0f / %.0f", r.JobsPerSec, r.WorkerCPUus))
		}
		p(" %s %s;", op, strings.Join(parts, ", "))
	}
	p("\n")

	// pa-engine.
	p("\n### pa-engine\n\n")
	if len(rep.Engine) == 0 {
		p("Not run (pa-bench -engine not given).\n")
	} else {
		p("%d jobs per operation, %d process instances in flight (created with `CreateProcessInstanceWithResult`); latency is from creating an instance to its result (the process completed), the worker's own p50/p99 from its `pa_connector_job_duration_seconds` histogram (activation → answer, interpolated in buckets). Engine CPU is the whole pa-engine process's during the run, including instance creation and its records exporter.\n\n",
			rep.EngineJobs, rep.EngineConcurrency)
		p("| operation | jobs/s | worker CPU µs/job | engine CPU µs/job | worker ÷ engine | p50 ms | p99 ms | worker p50 / p99 ms | ready ms | idle RSS MB | peak RSS MB | token requests/job | Dataverse calls/job | pa-bench CPU µs/job | creations refused by backpressure / resent |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, op := range rep.ops(rep.Engine) {
			r := medianResult(rep.runs("engine", op))
			ratio := "—"
			if r.EngineCPUus > 0 {
				ratio = fmt.Sprintf("%.2f", r.WorkerCPUus/r.EngineCPUus)
			}
			p("| %s | %.0f | %.0f | %.0f | %s | %.1f | %.1f | %.1f / %.1f | %.0f | %.1f | %.1f | %.4f | %.2f | %.0f | %d / %d |\n",
				op, r.JobsPerSec, r.WorkerCPUus, r.EngineCPUus, ratio, r.P50ms, r.P99ms, r.WorkerP50ms, r.WorkerP99ms,
				r.ReadyMs, r.IdleRSSMB, r.PeakRSSMB, r.TokensPerJob, r.CallsPerJob, r.DriverCPUus, r.Rejected, r.Retried)
		}
	}

	if r := rep.InFlight; r != nil {
		p("\n### Jobs in flight\n\n")
		p("%d status jobs, PA_CONNECTOR_MAX_JOBS_ACTIVE=%d, every status request held %s by the emulator (fault injection): at most %d jobs were in flight at once (the worker's `pa_connector_jobs_in_flight`), RSS then at most %.1f MB, VmHWM %.1f MB; idle before %.1f MB; %.0f jobs/s, p50 %.0f ms.\n",
			r.Jobs, r.MaxJobsActive, durString(r), r.InFlightMax, r.InFlightRSSMB, r.PeakRSSMB, r.IdleRSSMB, r.JobsPerSec, r.P50ms)
	}
	if rep.Profile != nil {
		p("\n%s", rep.Profile.markdown("a fake-gateway run", "status jobs"))
	}
	if rep.EngineProfile != nil {
		p("\n%s", rep.EngineProfile.markdown("a pa-engine run", "status jobs"))
	}
	return b.String()
}

func durString(r *result) string {
	return (time.Duration(r.HeldMs) * time.Millisecond).String()
}

const (
	beginMarker = "<!-- pa-bench:begin (generated by make bench; edit outside these markers) -->"
	endMarker   = "<!-- pa-bench:end -->"
)

// spliceDoc replaces the generated section of path (between the markers) with md; a file
// without markers gets the section appended.
func spliceDoc(path, md string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	section := beginMarker + "\n\n" + md + "\n" + endMarker
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + section + s[j+len(endMarker):]
	case len(s) == 0:
		s = "# Benchmarks\n\n" + section + "\n"
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + section + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
