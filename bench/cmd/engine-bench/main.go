// Command engine-bench measures pa-engine, the project's own Zeebe-compatible engine, on its
// own: end-to-end throughput of one-task process instances with durability on (every batch of
// commands fsynced), the engine's CPU per instance and the load generator's apart, latency from
// create to job activation and to completion, memory idle and with many open instances, time
// to ready, and recovery after SIGKILL (every job must still be there). It starts the engine
// binary itself (fresh data directory, free port), once with records off and once with records
// on (as the tests run it), and prints a Markdown report; -out writes every figure as JSON.
//
//	go run ./bench/cmd/engine-bench            # 3 runs × 20,000 instances per configuration
//	go run ./bench/cmd/engine-bench -short     # CI smoke: 1 run × 2,000; fails only when work is lost
//	go run ./bench/cmd/engine-bench -profile DIR   # in-process engine with a CPU profile
//
// See docs/benchmarks.md, section "Engine (pa-engine)".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// bench holds the settings shared by every measurement.
type bench struct {
	engineBin  string
	engineArgs []string
	engineEnv  []string
	work       string
	n, open    int
	keep       bool
	load       loadOptions

	readyFresh []float64 // exec → Topology of every fresh start in the current run
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var (
		short      = flag.Bool("short", false, "CI smoke: 1 run, 2,000 instances, 2,000 open; fails only when instances or jobs are lost, never on timings")
		n          = flag.Int("n", 0, "one-task instances per throughput run (default 20000, -short 2000)")
		runs       = flag.Int("runs", 0, "runs of everything (default 3, -short 1); the report gives medians and ranges")
		open       = flag.Int("open", 0, "open instances for the memory and recovery run (default 10000, -short 2000)")
		configs    = flag.String("records", "off,on", "engine configurations: records off, on (a records file, as the tests run it)")
		modes      = flag.String("modes", "poll,stream", "worker variants: poll (pb.ActivateJobs), stream (StreamActivatedJobs + one poller)")
		engineBin  = flag.String("engine-bin", "", "pa-engine binary (default: build ./cmd/pa-engine into the work directory)")
		workDir    = flag.String("work", "", "work directory for data dirs and logs (default: a new temp dir, removed unless -keep)")
		keep       = flag.Bool("keep", false, "keep data directories, records and engine logs")
		out        = flag.String("out", "", "write every figure as JSON to this file")
		command    = flag.String("command", "", "the command line to print in the report (default: how it was started)")
		profileDir = flag.String("profile", "", "instead of the benchmark: run the engine in this process with the same load and write CPU profiles (engine-records-{off,on}.cpu.pprof) to DIR, and print their top functions")
		lo         = loadOptions{Sample: 20}
		engArgs    listFlag
		engEnv     listFlag
	)
	flag.IntVar(&lo.Creators, "creators", 64, "CreateProcessInstance calls in flight")
	flag.IntVar(&lo.Pollers, "pollers", 4, "ActivateJobs calls in flight (poll mode; 1 alongside the streams in stream mode)")
	flag.IntVar(&lo.Batch, "batch", 250, "maxJobsToActivate per ActivateJobs")
	flag.IntVar(&lo.MaxActive, "max-active", 2000, "jobs activated and not completed at most (polls ask for what is free)")
	flag.IntVar(&lo.Completers, "completers", 128, "CompleteJob calls in flight")
	flag.IntVar(&lo.Streams, "streams", 2, "StreamActivatedJobs streams (stream mode)")
	flag.IntVar(&lo.Conns, "conns", 4, "gRPC connections of the load generator")
	flag.IntVar(&lo.Sample, "sample", 20, "instances created WithResult after each run, their results checked")
	flag.Var(&engArgs, "engine-arg", "extra pa-engine argument (repeatable), e.g. -engine-arg=--backpressure-limit=1000")
	flag.Var(&engEnv, "engine-env", "extra pa-engine environment variable (repeatable), e.g. -engine-env GOGC=400")
	flag.Parse()

	def := func(v *int, full, smoke int) {
		if *v == 0 {
			*v = full
			if *short {
				*v = smoke
			}
		}
	}
	def(n, 20000, 2000)
	def(runs, 3, 1)
	def(open, 10000, 2000)
	if *command == "" {
		*command = "go run ./bench/cmd/engine-bench " + strings.Join(os.Args[1:], " ")
		*command = strings.TrimSpace(*command)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b := &bench{n: *n, open: *open, keep: *keep, load: lo, engineArgs: engArgs, engineEnv: engEnv}
	var err error
	if b.work = *workDir; b.work == "" {
		if b.work, err = os.MkdirTemp("", "engine-bench."); err != nil {
			fatal(err)
		}
		if !*keep {
			defer os.RemoveAll(b.work)
		}
	} else if err := os.MkdirAll(b.work, 0o755); err != nil {
		fatal(err)
	}

	failedWork = b.work
	if *profileDir != "" {
		if err := b.profile(ctx, *profileDir, split(*configs), *command, *out); err != nil {
			fatal(err)
		}
		return
	}

	if b.engineBin = *engineBin; b.engineBin == "" {
		b.engineBin = filepath.Join(b.work, "pa-engine")
		logf("building ./cmd/pa-engine")
		build := exec.CommandContext(ctx, "go", "build", "-o", b.engineBin, "./cmd/pa-engine")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fatal(fmt.Errorf("building pa-engine: %w", err))
		}
	}

	rep := &report{Command: *command, Started: time.Now().UTC(), Machine: machineInfo(), Settings: settings{
		Instances: b.n, Runs: *runs, Open: b.open, Creators: lo.Creators, Pollers: lo.Pollers, Batch: lo.Batch,
		MaxActive: lo.MaxActive, Completers: lo.Completers, Streams: lo.Streams, Conns: lo.Conns, Sample: lo.Sample,
		EngineArgs: engArgs, EngineEnv: engEnv, Short: *short}}
	for run := 1; run <= *runs; run++ {
		rr := runResult{Run: run}
		b.readyFresh = nil
		for _, rec := range split(*configs) {
			for _, mode := range split(*modes) {
				logf("run %d/%d: throughput, records %s, %s, %d instances", run, *runs, rec, mode, b.n)
				t, err := b.runThroughput(ctx, run, rec, mode)
				if err != nil {
					fatal(err)
				}
				logf("  %.0f instances/s, engine %.0f µs/instance, load generator %.0f µs, create→complete p50 %.1f ms p99 %.1f ms",
					t.PerSec, t.EngineCPUus, t.LoadCPUus, t.CompleteP50, t.CompleteP99)
				rr.Throughput = append(rr.Throughput, t)
			}
			logf("run %d/%d: %d open instances, records %s: memory, SIGKILL, recovery", run, *runs, b.open, rec)
			o, err := b.runOpen(ctx, run, rec)
			if err != nil {
				fatal(err)
			}
			logf("  ready %.0f ms, idle %.1f MB, open %.1f MB, recovery %.0f ms (engine %.0f ms), %d jobs activated after the restart",
				o.ReadyMS, o.IdleRSSMB, o.OpenRSSMB, o.RecoveryMS, o.EngineRecoveryMS, o.Activated)
			rr.Open = append(rr.Open, o)
		}
		rr.ReadyFreshMS = b.readyFresh
		rep.Runs = append(rep.Runs, rr)
	}
	rep.Took = time.Since(rep.Started).Round(time.Second).String()
	rep.summarize()
	rep.markdown(os.Stdout)
	if *out != "" {
		if err := writeJSON(*out, rep); err != nil {
			fatal(err)
		}
		logf("figures written to %s", *out)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "engine-bench: "+format+"\n", args...)
}

// failedWork is the work directory, kept when the benchmark fails (engine logs, data).
var failedWork string

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "engine-bench: FAILED:", err)
	if failedWork != "" {
		fmt.Fprintln(os.Stderr, "engine-bench: engine logs and data dirs kept in", failedWork)
	}
	os.Exit(1)
}

// machine describes where the figures were taken.
type machine struct {
	CPUs    int    `json:"cpus"`
	Model   string `json:"cpuModel"`
	Go      string `json:"go"`
	Kernel  string `json:"kernel"`
	LoadAvg string `json:"loadAverageAtStart"`
	Source  string `json:"engineSource"` // commit, and whether engine/ had local changes
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Source = "commit " + strings.TrimSpace(string(out))
		if exec.Command("git", "diff", "--quiet", "HEAD", "--", "engine", "cmd/pa-engine").Run() != nil {
			m.Source += " with uncommitted changes in engine/ or cmd/pa-engine"
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}
