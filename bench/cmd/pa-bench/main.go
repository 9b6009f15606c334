// Command pa-bench measures the pa-connector binary: jobs/s, worker CPU per job, job latency,
// memory idle / at peak / with many jobs in flight, time to ready, and token requests and
// Dataverse calls per job. It runs the worker binary and the Dataverse emulator binary against
// an in-process fake Zeebe gateway (the worker-only ceiling) and, when given one, pa-engine (the
// project's own Zeebe gateway, or any other gateway);
// it profiles the worker during a fake-gateway run and writes the figures into
// docs/benchmarks.md. scripts/bench.sh (make bench) builds the binaries and runs it.
//
// It exits 1 only on functional errors (a job not completed, a worker that does not start or
// stop cleanly), never because a figure misses its target: the machine is shared and noisy.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type bench struct {
	workerBin, emulatorBin string
	engine                 string
	enginePID              int
	out                    string
	workerEnv              []string
	idle                   time.Duration
	em                     *emulator
}

// secretsDir is the PA_CONNECTOR_SECRETS_DIR for a secrets source ("" for env).
func (b *bench) secretsDir(source string) string {
	if source == "dir" {
		return filepath.Join(b.out, "secrets")
	}
	return ""
}

// runTimeout is how long a run of n jobs may take before it counts as failed: generous (about
// 50 jobs/s), since the benchmark fails only on jobs that never complete.
func (b *bench) runTimeout(n int) time.Duration {
	return 30*time.Second + time.Duration(n)*20*time.Millisecond
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		workerBin    = flag.String("worker", "bin/pa-connector", "the pa-connector binary")
		emulatorBin  = flag.String("emulator", "bin/dataverse-emulator", "the dataverse-emulator binary")
		jobs         = flag.Int("jobs", 10000, "jobs per operation and run")
		runs         = flag.Int("runs", 3, "runs per operation against the fake gateway (medians are reported)")
		ops          = flag.String("ops", "status,trigger", "operations to run: status, trigger (power-automate:1), getRow, listRows (dataverse:1)")
		maxJobs      = flag.Int("max-jobs-active", 100, "PA_CONNECTOR_MAX_JOBS_ACTIVE of the throughput runs")
		secrets      = flag.String("secrets", "env,dir", "where the worker reads the jobs' secrets in the fake-gateway throughput runs: env (SECRET_*), dir (PA_CONNECTOR_SECRETS_DIR files, as in Kubernetes); comma-separated, the others only with the first streaming mode")
		gogc         = flag.String("gogc", "400", "extra fake-gateway throughput runs with the worker's GOGC set to these values (comma-separated; empty: none); with the first streaming mode and secrets source")
		streaming    = flag.String("streaming", "auto,false", "PA_CONNECTOR_STREAMING values of the fake-gateway throughput runs, comma-separated (the first is also used for the engine, in-flight and profile runs)")
		engine       = flag.String("engine", "", "the gateway address (host:port, plaintext) of a running pa-engine; empty: fake gateway only")
		enginePID    = flag.Int("engine-pid", 0, "the engine's process id, to measure its CPU")
		engineJobs   = flag.Int("engine-jobs", 0, "jobs per operation against the engine (default -jobs)")
		engineRuns   = flag.Int("engine-runs", 1, "runs per operation against the engine")
		engineConc   = flag.Int("engine-concurrency", 100, "process instances in flight against the engine")
		inflight     = flag.Int("inflight", 1000, "jobs held in flight for the memory run (0: skip)")
		inflightWait = flag.Duration("inflight-delay", 3*time.Second, "how long the emulator holds each status request in the memory run")
		profileJobs  = flag.Int("profile-jobs", 50000, "status jobs of the profiled fake-gateway run (0: skip)")
		out          = flag.String("out", "", "directory for logs, profiles and results.json (default: a new temp dir)")
		doc          = flag.String("doc", "", "markdown file whose generated section is rewritten (e.g. docs/benchmarks.md)")
		command      = flag.String("command", "make bench", "the command line to print in the document")
		short        = flag.Bool("short", false, "smoke mode: 500 jobs, one run, fake gateway, small in-flight run, no profile, no document")
		idle         = flag.Duration("idle", time.Second, "pause after ready before idle RSS is read")
		render       = flag.String("render", "", "run nothing: rewrite -doc from this earlier output directory (its results.json and profiles)")
	)
	var workerEnv envList
	flag.Var(&workerEnv, "worker-env", "extra NAME=value for the worker (repeatable), e.g. GOGC=200")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *short {
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("jobs", func() { *jobs = 500 })
		def("runs", func() { *runs = 1 })
		def("engine", func() { *engine = "" })
		def("inflight", func() { *inflight = 200 })
		def("inflight-delay", func() { *inflightWait = time.Second })
		def("profile-jobs", func() { *profileJobs = 0 })
		def("doc", func() { *doc = "" })
		def("gogc", func() { *gogc = "" })
		def("idle", func() { *idle = 300 * time.Millisecond })
	}
	if *render != "" {
		if err := rerender(*render, *doc); err != nil {
			fmt.Fprintln(os.Stderr, "pa-bench:", err)
			return 1
		}
		return 0
	}
	if *engineJobs == 0 {
		*engineJobs = *jobs
	}
	if *out == "" {
		d, err := os.MkdirTemp("", "pa-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "pa-bench:", err)
			return 1
		}
		*out = d
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "pa-bench:", err)
		return 1
	}
	var opList []operation
	for _, name := range strings.Split(*ops, ",") {
		op, ok := operations[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "pa-bench: unknown operation %q (status, trigger, getRow, listRows)\n", name)
			return 2
		}
		opList = append(opList, op)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b := &bench{workerBin: *workerBin, emulatorBin: *emulatorBin, engine: *engine, enginePID: *enginePID,
		out: *out, idle: *idle, workerEnv: workerEnv}
	if err := writeSecretsDir(filepath.Join(*out, "secrets")); err != nil {
		fmt.Fprintln(os.Stderr, "pa-bench:", err)
		return 1
	}
	for _, p := range []*string{&b.workerBin, &b.emulatorBin} {
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
	em, err := startEmulator(b.emulatorBin, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pa-bench:", err)
		return 1
	}
	defer em.stop()
	b.em = em

	rep := &report{Started: time.Now(), Command: *command, Jobs: *jobs, Runs: *runs, MaxJobsActive: *maxJobs,
		EngineJobs: *engineJobs, EngineConcurrency: *engineConc, Streaming: *streaming, Secrets: *secrets, GOGC: *gogc, WorkerEnv: workerEnv}
	rep.Machine = machineInfo(b.workerBin)
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "pa-bench: "+format+"\n", args...) }
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "pa-bench: FAILED:", err)
		fmt.Fprintln(os.Stderr, "pa-bench: logs in", *out)
		return 1
	}
	logf("output in %s", *out)

	modes := strings.Split(*streaming, ",")
	mode := modes[0]
	sources := strings.Split(*secrets, ",")
	type variant struct{ streaming, secrets, gogc string }
	var variants []variant
	for _, m := range modes {
		variants = append(variants, variant{m, sources[0], ""})
	}
	for _, src := range sources[1:] {
		variants = append(variants, variant{mode, src, ""})
	}
	for _, g := range strings.Split(*gogc, ",") {
		if g = strings.TrimSpace(g); g != "" {
			variants = append(variants, variant{mode, sources[0], g})
		}
	}
	for _, op := range opList {
		for _, v := range variants {
			for i := 0; i < *runs; i++ {
				name := fmt.Sprintf("fake-%s-streaming-%s-secrets-%s-%d", op.Name, v.streaming, v.secrets, i+1)
				if v.gogc != "" {
					name = fmt.Sprintf("fake-%s-gogc-%s-%d", op.Name, v.gogc, i+1)
				}
				r, err := b.runFake(ctx, fakeRun{op: op, jobs: *jobs, maxJobsActive: *maxJobs, streaming: v.streaming,
					secrets: v.secrets, gogc: v.gogc, name: name})
				if err != nil {
					return fail(fmt.Errorf("%s: %w", name, err))
				}
				logf("%s: %s", name, r.line())
				rep.Fake = append(rep.Fake, r)
			}
		}
	}
	if *inflight > 0 {
		name := "inflight"
		r, err := b.runFake(ctx, fakeRun{op: operations["status"], jobs: *inflight, maxJobsActive: *inflight,
			streaming: mode, secrets: sources[0], delay: *inflightWait, name: name})
		if err != nil {
			return fail(fmt.Errorf("%s: %w", name, err))
		}
		logf("%s: %d jobs in flight at most, RSS %.1f MB then (peak %.1f MB)", name, r.InFlightMax, r.InFlightRSSMB, r.PeakRSSMB)
		rep.InFlight = &r
	}
	if *profileJobs > 0 {
		// Profile for most of the run's expected length (from the status runs' throughput).
		jps := median(pick(rep.runs("fake", "status"), func(r result) float64 { return r.JobsPerSec }))
		if jps == 0 && len(rep.Fake) > 0 {
			jps = rep.Fake[0].JobsPerSec
		}
		secs := 5
		if jps > 0 {
			secs = max(1, int(0.8*float64(*profileJobs)/jps))
		}
		r, err := b.runFake(ctx, fakeRun{op: operations["status"], jobs: *profileJobs, maxJobsActive: *maxJobs,
			streaming: mode, secrets: sources[0], profileSeconds: secs, name: "profile"})
		if err != nil {
			return fail(fmt.Errorf("profile: %w", err))
		}
		logf("profile: %s (%d s CPU profile)", r.line(), secs)
		rep.Profile = profileSummary(*out, "profile", secs, r)
	}
	if *engine != "" {
		for _, op := range opList {
			for i := 0; i < *engineRuns; i++ {
				name := fmt.Sprintf("engine-%s-%d", op.Name, i+1)
				// Profile the first status run for most of its expected length (~130 jobs/s).
				secs := 0
				if *profileJobs > 0 && op.Name == "status" && i == 0 {
					secs = min(30, max(2, *engineJobs/200))
				}
				r, err := b.runEngine(ctx, engineRun{op: op, jobs: *engineJobs, maxJobsActive: *maxJobs,
					concurrency: *engineConc, streaming: mode, secrets: sources[0], name: name, profileSeconds: secs})
				if err != nil {
					return fail(fmt.Errorf("%s: %w", name, err))
				}
				logf("%s: %s", name, r.line())
				rep.Engine = append(rep.Engine, r)
				if secs > 0 {
					rep.EngineProfile = profileSummary(*out, name, secs, r)
				}
			}
		}
	}
	rep.Finished = time.Now()

	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "results.json"), js, 0o644); err != nil {
		return fail(err)
	}
	md := rep.markdown()
	if !*short {
		fmt.Println(md)
	}
	if *doc != "" {
		if err := spliceDoc(*doc, md); err != nil {
			return fail(err)
		}
		logf("wrote %s", *doc)
	}
	logf("results in %s", filepath.Join(*out, "results.json"))
	return 0
}

type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want NAME=value, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

// rerender rewrites doc from an earlier run's results.json, summarizing its profiles again
// (after a change to the summary, without measuring again).
func rerender(dir, doc string) error {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "results.json"), err)
	}
	if p := rep.Profile; p != nil {
		rep.Profile = profileSummary(dir, "profile", p.Seconds, result{Jobs: p.Jobs, JobsPerSec: p.JobsPerSec, WorkerCPUus: p.CPUus})
	}
	if p := rep.EngineProfile; p != nil {
		stem := strings.TrimSuffix(filepath.Base(p.CPUFile), ".cpu.pprof")
		rep.EngineProfile = profileSummary(dir, stem, p.Seconds, result{Jobs: p.Jobs, JobsPerSec: p.JobsPerSec, WorkerCPUus: p.CPUus})
	}
	md := rep.markdown()
	if doc == "" {
		fmt.Println(md)
		return nil
	}
	return spliceDoc(doc, md)
}
