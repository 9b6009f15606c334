package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// The previous reference: the Zeebe 8.5.8 test broker of docs/benchmarks.md (status jobs, 100
// instances in flight).
const (
	brokerJobsPerSec = 109.0
	brokerCPUus      = 12826.0
)

// Targets of issue 10 item 5, on the 2-core benchmark machine.
const (
	targetPerSec     = 5000.0
	targetEngineCPU  = 200.0 // µs per job
	targetReadyMS    = 200.0
	targetOpenRSSMB  = 150.0
	targetRecoveryMS = 2000.0
)

type settings struct {
	Instances  int      `json:"instances"`
	Runs       int      `json:"runs"`
	Open       int      `json:"openInstances"`
	Creators   int      `json:"creators"`
	Pollers    int      `json:"pollers"`
	Batch      int      `json:"maxJobsToActivate"`
	MaxActive  int      `json:"maxActive"`
	Completers int      `json:"completers"`
	Streams    int      `json:"streams"`
	Conns      int      `json:"conns"`
	Sample     int      `json:"withResultSample"`
	EngineArgs []string `json:"engineArgs,omitempty"`
	EngineEnv  []string `json:"engineEnv,omitempty"`
	Short      bool     `json:"short"`
}

type runResult struct {
	Run          int                 `json:"run"`
	Throughput   []*throughputResult `json:"throughput"`
	Open         []*openResult       `json:"open"`
	ReadyFreshMS []float64           `json:"readyFreshMs"`
}

// throughputSummary is one row of the throughput table over the runs.
type throughputSummary struct {
	Records     string `json:"records"`
	Mode        string `json:"mode"`
	PerSec      spread `json:"instancesPerSec"`
	EngineCPUus spread `json:"engineCpuUsPerInstance"`
	LoadCPUus   spread `json:"loadGeneratorCpuUsPerInstance"`
	ActivateP50 spread `json:"createToActivateP50ms"`
	ActivateP99 spread `json:"createToActivateP99ms"`
	CompleteP50 spread `json:"createToCompleteP50ms"`
	CompleteP99 spread `json:"createToCompleteP99ms"`
	PerBatch    spread `json:"commandsPerBatch"`
	PeakRSSMB   spread `json:"enginePeakRssMB"`
	StreamShare spread `json:"jobsViaStreamPercent"`
}

type openSummary struct {
	Records          string `json:"records"`
	ReadyMS          spread `json:"readyMs"`
	EngineReadyMS    spread `json:"engineReadyMs"`
	IdleRSSMB        spread `json:"idleRssMB"`
	OpenRSSMB        spread `json:"openRssMB"`
	OpenHWMMB        spread `json:"openPeakRssMB"`
	DataDirMB        spread `json:"dataDirMB"`
	CreatePerSec     spread `json:"openCreatesPerSec"`
	RecoveryMS       spread `json:"recoveryMs"`
	EngineRecoveryMS spread `json:"engineRecoveryMs"`
	RecoveredRSSMB   spread `json:"recoveredRssMB"`
	ActivateMS       spread `json:"activateAllMs"`
}

type target struct {
	Name     string  `json:"target"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"` // the median judged
	Met      bool    `json:"met"`
	Verdict  string  `json:"verdict"`
}

type report struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Took     string    `json:"took"`
	Machine  machine   `json:"machine"`
	Settings settings  `json:"settings"`

	Runs       []runResult         `json:"runs"`
	Throughput []throughputSummary `json:"throughputSummary"`
	Open       []openSummary       `json:"openSummary"`
	Ready      spread              `json:"readyFreshMs"` // every fresh start of every run
	Targets    []target            `json:"targets"`
	Broker     []target            `json:"againstBroker"`
}

func collect[T any](runs []runResult, pick func(runResult) []T, keep func(T) bool, f func(T) float64) spread {
	var v []float64
	for _, r := range runs {
		for _, x := range pick(r) {
			if keep(x) {
				v = append(v, f(x))
			}
		}
	}
	return spreadOf(v)
}

func (r *report) summarize() {
	var recs, modes []string
	for _, run := range r.Runs {
		for _, t := range run.Throughput {
			if !slices.Contains(recs, t.Records) {
				recs = append(recs, t.Records)
			}
			if !slices.Contains(modes, t.Mode) {
				modes = append(modes, t.Mode)
			}
		}
		for _, o := range run.Open {
			if !slices.Contains(recs, o.Records) {
				recs = append(recs, o.Records)
			}
		}
	}
	tp := func(run runResult) []*throughputResult { return run.Throughput }
	op := func(run runResult) []*openResult { return run.Open }
	for _, rec := range recs {
		for _, mode := range modes {
			keep := func(t *throughputResult) bool { return t.Records == rec && t.Mode == mode }
			s := func(f func(*throughputResult) float64) spread { return collect(r.Runs, tp, keep, f) }
			r.Throughput = append(r.Throughput, throughputSummary{Records: rec, Mode: mode,
				PerSec:      s(func(t *throughputResult) float64 { return t.PerSec }),
				EngineCPUus: s(func(t *throughputResult) float64 { return t.EngineCPUus }),
				LoadCPUus:   s(func(t *throughputResult) float64 { return t.LoadCPUus }),
				ActivateP50: s(func(t *throughputResult) float64 { return t.ActivateP50 }),
				ActivateP99: s(func(t *throughputResult) float64 { return t.ActivateP99 }),
				CompleteP50: s(func(t *throughputResult) float64 { return t.CompleteP50 }),
				CompleteP99: s(func(t *throughputResult) float64 { return t.CompleteP99 }),
				PerBatch:    s(func(t *throughputResult) float64 { return t.PerBatch }),
				PeakRSSMB:   s(func(t *throughputResult) float64 { return t.PeakRSSMB }),
				StreamShare: s(func(t *throughputResult) float64 {
					return 100 * float64(t.ViaStream) / float64(max(1, t.ViaStream+t.ViaPoll))
				}),
			})
		}
		keep := func(o *openResult) bool { return o.Records == rec }
		s := func(f func(*openResult) float64) spread { return collect(r.Runs, op, keep, f) }
		if s(func(o *openResult) float64 { return 1 }).Runs == nil {
			continue
		}
		r.Open = append(r.Open, openSummary{Records: rec,
			ReadyMS:          s(func(o *openResult) float64 { return o.ReadyMS }),
			EngineReadyMS:    s(func(o *openResult) float64 { return o.EngineReadyMS }),
			IdleRSSMB:        s(func(o *openResult) float64 { return o.IdleRSSMB }),
			OpenRSSMB:        s(func(o *openResult) float64 { return o.OpenRSSMB }),
			OpenHWMMB:        s(func(o *openResult) float64 { return o.OpenHWMMB }),
			DataDirMB:        s(func(o *openResult) float64 { return o.DataDirMB }),
			CreatePerSec:     s(func(o *openResult) float64 { return o.CreatePerSec }),
			RecoveryMS:       s(func(o *openResult) float64 { return o.RecoveryMS }),
			EngineRecoveryMS: s(func(o *openResult) float64 { return o.EngineRecoveryMS }),
			RecoveredRSSMB:   s(func(o *openResult) float64 { return o.RecoveredRSSMB }),
			ActivateMS:       s(func(o *openResult) float64 { return o.ActivateMS }),
		})
	}
	var ready []float64
	for _, run := range r.Runs {
		ready = append(ready, run.ReadyFreshMS...)
	}
	r.Ready = spreadOf(ready)
	r.judge()
}

// judge compares the medians with the targets and with the old broker.
func (r *report) judge() {
	atLeast := func(name string, s spread, dec int, unit string, limit float64) target {
		t := target{Name: name, Measured: s.format(dec) + unit, Value: s.Median, Met: s.Median >= limit}
		if t.Met {
			t.Verdict = fmt.Sprintf("yes (%.2f× the target)", s.Median/limit)
		} else {
			t.Verdict = fmt.Sprintf("**no**: %.0f%% of the target", 100*s.Median/limit)
		}
		return t
	}
	atMost := func(name string, s spread, dec int, unit string, limit float64) target {
		t := target{Name: name, Measured: s.format(dec) + unit, Value: s.Median, Met: s.Median <= limit}
		if t.Met {
			t.Verdict = fmt.Sprintf("yes (%.0f%% of the limit)", 100*s.Median/limit)
		} else {
			t.Verdict = fmt.Sprintf("**no**: %.2f× the limit", s.Median/limit)
		}
		return t
	}
	r.Targets = nil
	r.Broker = nil
	for _, t := range r.Throughput {
		label := fmt.Sprintf("records %s, %s", t.Records, t.Mode)
		r.Targets = append(r.Targets, atLeast("≥ 5,000 instances/s end to end, durable ("+label+")", t.PerSec, 0, "/s", targetPerSec))
	}
	for _, t := range r.Throughput {
		label := fmt.Sprintf("records %s, %s", t.Records, t.Mode)
		r.Targets = append(r.Targets, atMost("engine ≤ 200 µs CPU per job ("+label+")", t.EngineCPUus, 0, " µs", targetEngineCPU))
	}
	r.Targets = append(r.Targets, atMost(fmt.Sprintf("ready ≤ 200 ms (exec → first Topology; all %d fresh starts)", len(r.Ready.Runs)),
		r.Ready, 0, " ms", targetReadyMS))
	for _, o := range r.Open {
		r.Targets = append(r.Targets, atMost(fmt.Sprintf("≤ 150 MB RSS with %d open instances (records %s)", r.Settings.Open, o.Records),
			o.OpenRSSMB, 1, " MB", targetOpenRSSMB))
	}
	for _, o := range r.Open {
		r.Targets = append(r.Targets, atMost(fmt.Sprintf("recovery ≤ 2 s after SIGKILL, %d open (records %s; exec → Topology)", r.Settings.Open, o.Records),
			o.RecoveryMS, 0, " ms", targetRecoveryMS))
	}
	for _, t := range r.Throughput {
		label := fmt.Sprintf("records %s, %s", t.Records, t.Mode)
		r.Broker = append(r.Broker, target{Name: "throughput (" + label + ")", Value: t.PerSec.Median / brokerJobsPerSec,
			Measured: fmt.Sprintf("%s/s vs 109/s", t.PerSec.format(0)),
			Verdict:  ratio(t.PerSec.Median/brokerJobsPerSec, t.PerSec.Min/brokerJobsPerSec, t.PerSec.Max/brokerJobsPerSec, len(t.PerSec.Runs)) + " the broker's"})
	}
	for _, t := range r.Throughput {
		label := fmt.Sprintf("records %s, %s", t.Records, t.Mode)
		r.Broker = append(r.Broker, target{Name: "CPU per job (" + label + ")", Value: brokerCPUus / t.EngineCPUus.Median,
			Measured: fmt.Sprintf("%s µs vs 12,826 µs", t.EngineCPUus.format(0)),
			Verdict:  ratio(brokerCPUus/t.EngineCPUus.Median, brokerCPUus/t.EngineCPUus.Max, brokerCPUus/t.EngineCPUus.Min, len(t.EngineCPUus.Runs)) + " less"})
	}
}

func (r *report) markdown(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	s := r.Settings
	p("Generated by `engine-bench` on %s in %s: `%s`.", r.Started.Format("2006-01-02 15:04 UTC"), r.Took, r.Command)
	p("")
	if r.Machine.Source != "" {
		p("Engine built from %s.", r.Machine.Source)
		p("")
	}
	p("Machine: %d × %s, %s, Linux %s; load average at start %s (the machine is shared). %d run(s); figures are medians with the range over the runs in parentheses. "+
		"Throughput runs: %d one-task instances on a fresh engine (durability on: one fsync per batch), %d creators in flight, "+
		"worker: %d ActivateJobs in flight (maxJobsToActivate ≤ %d, ≤ %d jobs active) or %d StreamActivatedJobs streams + 1 poller, %d CompleteJob calls in flight, %d gRPC connections; "+
		"%d instances per run created WithResult afterwards and their results checked%s.",
		r.Machine.CPUs, r.Machine.Model, r.Machine.Go, r.Machine.Kernel, r.Machine.LoadAvg, s.Runs,
		s.Instances, s.Creators, s.Pollers, s.Batch, s.MaxActive, s.Streams, s.Completers, s.Conns, s.Sample,
		map[bool]string{true: "; with records on, the records file is read back (every instance and job completed)", false: ""}[hasRecordsOn(r)])
	if len(s.EngineArgs)+len(s.EngineEnv) > 0 {
		p("")
		p("pa-engine started with %s.", strings.TrimSpace(strings.Join(append(append([]string{}, s.EngineEnv...), s.EngineArgs...), " ")))
	}
	p("")
	p("| records | worker | instances/s | engine CPU µs/instance | load generator CPU µs/instance | create→activate p50 / p99 ms | create→complete p50 / p99 ms | commands per fsync | jobs via stream | engine peak RSS MB |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	for _, t := range r.Throughput {
		p("| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s%% | %s |", t.Records, t.Mode, t.PerSec.format(0), t.EngineCPUus.format(0), t.LoadCPUus.format(0),
			t.ActivateP50.format(1), t.ActivateP99.format(1), t.CompleteP50.format(1), t.CompleteP99.format(1), t.PerBatch.format(1),
			t.StreamShare.format(0), t.PeakRSSMB.format(1))
	}
	p("")
	p("| records | ready ms (exec → Topology) | engine's ready_ms | idle RSS MB | creates/s (%d open) | RSS MB with %d open | peak RSS MB | data dir MB | recovery ms after SIGKILL (exec → Topology) | engine's recovery ms | RSS MB after recovery | activate all %d ms |",
		s.Open, s.Open, s.Open)
	p("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, o := range r.Open {
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", o.Records, o.ReadyMS.format(0), o.EngineReadyMS.format(0), o.IdleRSSMB.format(1),
			o.CreatePerSec.format(0), o.OpenRSSMB.format(1), o.OpenHWMMB.format(1), o.DataDirMB.format(1), o.RecoveryMS.format(0),
			o.EngineRecoveryMS.format(0), o.RecoveredRSSMB.format(1), o.ActivateMS.format(0))
	}
	p("")
	p("Time to ready over all %d fresh starts: %s ms.", len(r.Ready.Runs), r.Ready.format(0))
	p("")
	p("| target | measured | met? |")
	p("|---|---|---|")
	for _, t := range r.Targets {
		p("| %s | %s | %s |", t.Name, t.Measured, t.Verdict)
	}
	p("")
	p("| against the Zeebe 8.5.8 test broker (109 jobs/s, 12,826 µs broker CPU per job) | measured | ratio |")
	p("|---|---|---|")
	for _, t := range r.Broker {
		p("| %s | %s | %s |", t.Name, t.Measured, t.Verdict)
	}
	if len(r.Runs) > 1 {
		p("")
		var b strings.Builder
		for _, run := range r.Runs {
			fmt.Fprintf(&b, "run %d:", run.Run)
			for _, t := range run.Throughput {
				fmt.Fprintf(&b, " %s/%s %.0f/s %.0f µs;", t.Records, t.Mode, t.PerSec, t.EngineCPUus)
			}
			for _, o := range run.Open {
				fmt.Fprintf(&b, " open/%s %.1f MB, recovery %.0f ms;", o.Records, o.OpenRSSMB, o.RecoveryMS)
			}
			b.WriteString(" ")
		}
		p("Each run: %s", strings.TrimSpace(b.String()))
	}
}

// ratio prints 4.3× or 43×, with the range over the runs when there are several.
func ratio(m, lo, hi float64, runs int) string {
	f := func(x float64) string {
		if x < 10 {
			return fmt.Sprintf("%.1f", x)
		}
		return fmt.Sprintf("%.0f", x)
	}
	if runs <= 1 || f(lo) == f(hi) {
		return f(m) + "×"
	}
	return f(m) + "× (" + f(lo) + "–" + f(hi) + "×)"
}

func hasRecordsOn(r *report) bool {
	for _, t := range r.Throughput {
		if t.Records == "on" {
			return true
		}
	}
	return false
}
