package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/pa-connector/pa-connector/engine"
	"github.com/pa-connector/pa-connector/engine/export"
	"github.com/pa-connector/pa-connector/engine/gateway"
)

// pa-engine has no profiling flag, so -profile runs the engine inside this process, as
// cmd/pa-engine wires it (engine.Open, gateway.New, the same gRPC server options), under the
// pprof label side=engine; the load generator runs under side=client. `go tool pprof
// -tagfocus=side=engine` then shows the engine's share alone.

type inProcess struct {
	eng  *engine.Engine
	exp  *export.File
	srv  *grpc.Server
	addr string
}

func startInProcess(ctx context.Context, dataDir, records string) (*inProcess, error) {
	ip := &inProcess{}
	var err error
	pprof.Do(ctx, pprof.Labels("side", "engine"), func(context.Context) {
		if err = os.MkdirAll(dataDir, 0o755); err != nil {
			return
		}
		opts := engine.Options{DataDir: dataDir, Log: zerolog.Nop()}
		if records != "off" {
			if ip.exp, err = export.Open(records, 1<<30); err != nil {
				return
			}
			opts.Exporter = ip.exp
		}
		if ip.eng, err = engine.Open(opts); err != nil {
			return
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return
		}
		ip.addr = ln.Addr().String()
		ip.srv = grpc.NewServer(
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
			grpc.MaxRecvMsgSize(4<<20))
		pb.RegisterGatewayServer(ip.srv, gateway.New(ip.eng, ln.Addr()))
		go func() { _ = ip.srv.Serve(ln) }()
	})
	if err != nil {
		ip.close()
		return nil, err
	}
	return ip, nil
}

// close stops the server and the engine; an engine that does not stop within 10 s is a bug
// worth reporting, not a reason to hang the benchmark.
func (ip *inProcess) close() {
	if ip.srv != nil {
		ip.srv.Stop()
	}
	if ip.eng != nil {
		closed := make(chan struct{})
		go func() { _ = ip.eng.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			fatal(fmt.Errorf("the in-process engine did not close within 10 s (engine.(*Engine).Close hangs)"))
		}
	}
	if ip.exp != nil {
		_ = ip.exp.Close()
	}
}

// profileResult is one profiled in-process run.
type profileResult struct {
	Records     string   `json:"records"`
	Mode        string   `json:"mode"`
	Instances   int      `json:"instances"`
	PerSec      float64  `json:"instancesPerSec"`
	RecoveryMS  float64  `json:"recoveryMs,omitempty"`
	CPUFile     string   `json:"cpuFile"`
	EngineShare string   `json:"engineShare"`            // of all samples
	EngineCPUus float64  `json:"engineCpuUsPerInstance"` // engine-labelled samples only (no GC workers)
	Areas       []share  `json:"engineByArea"`           // flat, % of the engine's samples
	Entries     []share  `json:"engineEntries"`          // cumulative, % of the engine's samples
	TopFlat     []string `json:"engineTopFlat"`
	TopCum      []string `json:"engineTopCum"`
}

func (b *bench) profile(ctx context.Context, dir string, configs []string, command, out string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var results []*profileResult
	for _, rec := range configs {
		r, err := b.profileOne(ctx, dir, rec, modePoll)
		if err != nil {
			return err
		}
		results = append(results, r)
		fmt.Printf("### In-process profile, records %s, %s worker: %d instances at %.0f/s\n\n", rec, r.Mode, r.Instances, r.PerSec)
		fmt.Printf("`%s` (`go tool pprof -tagfocus=side=engine %s`); engine goroutines: %s, %.0f µs per instance (GC workers and other unlabelled runtime work not included).\n\n",
			command, r.CPUFile, r.EngineShare, r.EngineCPUus)
		printSummary(r)
	}
	r, err := b.profileRecovery(ctx, dir)
	if err != nil {
		return err
	}
	results = append(results, r)
	fmt.Printf("### In-process profile of recovery: %d open instances, the log replayed (no snapshot), records off\n\n", r.Instances)
	fmt.Printf("engine.Open took %.0f ms; `go tool pprof %s`: %s, %.0f µs per open instance.\n\n", r.RecoveryMS, r.CPUFile, r.EngineShare, r.EngineCPUus)
	printSummary(r)
	if out != "" {
		return writeJSON(out, results)
	}
	return nil
}

func printSummary(r *profileResult) {
	fmt.Printf("| engine CPU by area (flat) | share |\n|---|---|\n")
	for _, a := range r.Areas {
		if a.Percent >= 0.5 {
			fmt.Printf("| %s | %.1f%% |\n", a.Name, a.Percent)
		}
	}
	fmt.Printf("\n| engine CPU under (cumulative) | share |\n|---|---|\n")
	for _, e := range r.Entries {
		fmt.Printf("| %s | %.1f%% |\n", e.Name, e.Percent)
	}
	fmt.Printf("\nEngine side, by flat CPU (%% of all samples):\n\n```\n%s\n```\n\nEngine side, by cumulative CPU:\n\n```\n%s\n```\n\n",
		strings.Join(r.TopFlat, "\n"), strings.Join(r.TopCum, "\n"))
}

// profileRecovery creates b.open instances on an in-process engine, copies its data directory
// as a crash would leave it (the log, no snapshot: the engine is not closed first), and
// profiles engine.Open on the copy.
func (b *bench) profileRecovery(ctx context.Context, dir string) (*profileResult, error) {
	work := filepath.Join(b.work, "profile-recovery")
	src, dst := filepath.Join(work, "data"), filepath.Join(work, "crashed")
	ip, err := startInProcess(ctx, src, "off")
	if err != nil {
		return nil, err
	}
	zc, err := newZB(ip.addr)
	if err != nil {
		ip.close()
		return nil, err
	}
	processID, jobType := "engine-bench-open", fmt.Sprintf("engine-bench-open-%d", time.Now().UnixNano())
	err = deploy(ctx, zc, processID, jobType)
	zc.Close()
	if err == nil {
		_, err = createInstances(ctx, ip.addr, processID, b.open, b.load.Creators, b.load.Conns)
	}
	if err == nil {
		err = copyDir(src, dst)
	}
	ip.close()
	if err != nil {
		return nil, err
	}
	cpuFile := filepath.Join(dir, "engine-recovery.cpu.pprof")
	f, err := os.Create(cpuFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &profileResult{Records: "off", Mode: "recovery", Instances: b.open, CPUFile: cpuFile}
	var eng *engine.Engine
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	t0 := time.Now()
	pprof.Do(ctx, pprof.Labels("side", "engine"), func(context.Context) {
		eng, err = engine.Open(engine.Options{DataDir: dst, Log: zerolog.Nop()})
	})
	r.RecoveryMS = ms(time.Since(t0))
	pprof.StopCPUProfile()
	if err != nil {
		return nil, err
	}
	if err := eng.Close(); err != nil {
		return nil, err
	}
	if err := summarizeProfile(cpuFile, r); err != nil {
		return nil, err
	}
	return r, nil
}

// copyDir copies the files of a data directory (not its lock file).
func copyDir(src, dst string) error {
	return filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if fi.Name() == "LOCK" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func (b *bench) profileOne(ctx context.Context, dir, records, mode string) (*profileResult, error) {
	work := filepath.Join(b.work, "profile-records-"+records)
	recPath := "off"
	if records == "on" {
		recPath = filepath.Join(work, "records.log")
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, err
		}
	}
	ip, err := startInProcess(ctx, filepath.Join(work, "data"), recPath)
	if err != nil {
		return nil, err
	}
	defer ip.close()
	var lr *loadResult
	cpuFile := filepath.Join(dir, "engine-records-"+records+".cpu.pprof")
	pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
		zc, zerr := newZB(ip.addr)
		if zerr != nil {
			err = zerr
			return
		}
		defer zc.Close()
		processID, jobType := "engine-bench", fmt.Sprintf("engine-bench-%d", time.Now().UnixNano())
		if err = deploy(ctx, zc, processID, jobType); err != nil {
			return
		}
		f, ferr := os.Create(cpuFile)
		if ferr != nil {
			err = ferr
			return
		}
		defer f.Close()
		o := b.load
		o.Addr, o.ProcessID, o.JobType, o.N, o.Mode = ip.addr, processID, jobType, b.n, mode
		o.OnStart = func() { _ = pprof.StartCPUProfile(f) }
		o.OnDone = pprof.StopCPUProfile
		lr, err = runLoad(ctx, o)
		if err != nil {
			pprof.StopCPUProfile()
			return
		}
		err = noJobsLeft(ctx, ip.addr, jobType)
	})
	if err != nil {
		return nil, fmt.Errorf("in-process run, records %s: %w", records, err)
	}
	r := &profileResult{Records: records, Mode: mode, Instances: b.n, PerSec: float64(b.n) / lr.Elapsed.Seconds(), CPUFile: cpuFile}
	if err := summarizeProfile(cpuFile, r); err != nil {
		return nil, err
	}
	return r, nil
}

type share struct {
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
}

type node struct {
	name        string
	flat, cum   float64 // % of all samples
	flatS, cumS string
}

// summarizeProfile fills the engine's share, areas, entry points and top lists.
func summarizeProfile(file string, r *profileResult) error {
	tags, err := pprofText(file, "-tags")
	if err != nil {
		return err
	}
	enginePct := 0.0
	for _, l := range strings.Split(tags, "\n") {
		// "       9.09s (53.38%): engine"
		if strings.HasSuffix(strings.TrimSpace(l), ": engine") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				secs, _ := time.ParseDuration(f[0])
				r.EngineCPUus = float64(secs.Microseconds()) / float64(r.Instances)
				enginePct, _ = strconv.ParseFloat(strings.Trim(f[1], "():%"), 64)
				r.EngineShare = f[0] + " (" + strings.Trim(f[1], "():") + " of all samples)"
			}
		}
	}
	if enginePct == 0 { // too short to be sampled (100 Hz)
		r.EngineShare = "no samples (too short to profile)"
		return nil
	}
	top, err := pprofText(file, "-top", "-nodecount=100000", "-nodefraction=0", "-tagfocus=side=engine")
	if err != nil {
		return err
	}
	nodes, lines := parseTop(top)
	byArea := map[string]float64{}
	for _, n := range nodes {
		byArea[area(n.name)] += n.flat
	}
	for name, pct := range byArea {
		r.Areas = append(r.Areas, share{name, 100 * pct / enginePct})
	}
	sort.Slice(r.Areas, func(i, j int) bool { return r.Areas[i].Percent > r.Areas[j].Percent })
	for _, e := range entryPoints {
		for _, n := range nodes {
			if n.name == e[0] || strings.HasPrefix(n.name, e[0]+" ") {
				r.Entries = append(r.Entries, share{e[1] + " (`" + e[0] + "`)", 100 * n.cum / enginePct})
				break
			}
		}
	}
	r.TopFlat = lines[:min(len(lines), 26)]
	cum, err := pprofText(file, "-top", "-cum", "-nodecount=40", "-tagfocus=side=engine")
	if err != nil {
		return err
	}
	_, r.TopCum = parseTop(cum)
	return nil
}

// entryPoints are the engine's functions whose cumulative CPU tells where a job's cost goes.
var entryPoints = [][2]string{
	{"github.com/pa-connector/pa-connector/engine.(*Engine).process", "engine loop: a batch, from apply to answers"},
	{"github.com/pa-connector/pa-connector/engine/wal.(*Log).Replay", "log replay (recovery)"},
	{"encoding/json.Unmarshal", "json.Unmarshal (variables checked; commands replayed)"},
	{"github.com/pa-connector/pa-connector/engine.(*Engine).apply", "applying commands (the BPMN state machine, records)"},
	{"encoding/json.Marshal", "json.Marshal (commands for the log, names and values)"},
	{"github.com/pa-connector/pa-connector/engine/wal.(*Log).Append", "log append"},
	{"github.com/pa-connector/pa-connector/engine/wal.(*Log).Sync", "log fsync"},
	{"github.com/pa-connector/pa-connector/engine/export.(*File).Export", "records export (JSON lines)"},
	{"github.com/pa-connector/pa-connector/engine.(*Engine).dueCommands", "clock tick: due jobs, timers, messages"},
	{"github.com/pa-connector/pa-connector/engine/gateway.document", "gateway: variables checked as JSON"},
	{"github.com/pa-connector/pa-connector/engine.(*Engine).Do", "gateway → engine hand-off (Do)"},
	{"google.golang.org/grpc.(*Server).processUnaryRPC", "gRPC unary calls (decode, handler, encode)"},
	{"google.golang.org/grpc.(*Server).processStreamingRPC", "gRPC streaming calls (ActivateJobs, job streams)"},
	{"google.golang.org/grpc/internal/transport.(*http2Server).HandleStreams", "gRPC transport reader"},
	{"google.golang.org/grpc/internal/transport.(*loopyWriter).run", "gRPC loopy writer"},
	{"runtime.newstack", "goroutine stack growth (a new goroutine per RPC)"},
	{"runtime.mallocgc", "allocation"},
	{"syscall.Syscall", "system calls"},
}

func area(fn string) string {
	switch {
	case strings.HasPrefix(fn, "github.com/pa-connector/pa-connector/engine/gateway"):
		return "engine/gateway"
	case strings.HasPrefix(fn, "github.com/pa-connector/pa-connector/engine/wal"):
		return "engine/wal"
	case strings.HasPrefix(fn, "github.com/pa-connector/pa-connector/engine/export"):
		return "engine/export"
	case strings.HasPrefix(fn, "github.com/pa-connector/pa-connector/engine/bpmn"):
		return "engine/bpmn"
	case strings.HasPrefix(fn, "github.com/pa-connector/pa-connector/engine"):
		return "engine (state machine, records)"
	case strings.HasPrefix(fn, "github.com/pa-connector/pa-connector/expr"), strings.HasPrefix(fn, "github.com/expr-lang"):
		return "FEEL expressions"
	case strings.HasPrefix(fn, "internal/runtime/syscall"), strings.HasPrefix(fn, "syscall."):
		return "system calls (write, fsync, read)"
	case strings.HasPrefix(fn, "google.golang.org/grpc"), strings.HasPrefix(fn, "golang.org/x/net/http2"):
		return "gRPC, HTTP/2"
	case strings.HasPrefix(fn, "google.golang.org/protobuf"), strings.HasPrefix(fn, "github.com/golang/protobuf"),
		strings.HasPrefix(fn, "github.com/camunda/zeebe"):
		return "protobuf"
	case strings.HasPrefix(fn, "encoding/json"):
		return "encoding/json"
	case strings.HasPrefix(fn, "reflect"), strings.HasPrefix(fn, "internal/abi"):
		return "reflect"
	case strings.HasPrefix(fn, "runtime.asyncPreempt"):
		return "runtime: preemption"
	case strings.Contains(fn, "malloc"), strings.HasPrefix(fn, "runtime.nextFree"), strings.Contains(fn, "mspan"),
		strings.Contains(fn, "mcache"), strings.Contains(fn, "mcentral"), strings.HasPrefix(fn, "runtime.memclr"),
		strings.HasPrefix(fn, "runtime.newobject"), strings.HasPrefix(fn, "runtime.makeslice"), strings.HasPrefix(fn, "runtime.growslice"),
		strings.HasPrefix(fn, "runtime.heapSetType"), strings.HasPrefix(fn, "runtime.getMCache"), strings.HasPrefix(fn, "runtime.spanClass"):
		return "runtime: allocation"
	case strings.Contains(fn, "gc"), strings.Contains(fn, "scanobject"), strings.Contains(fn, "scanObject"), strings.Contains(fn, "SpanScan"),
		strings.Contains(fn, "greyobject"), strings.Contains(fn, "wbBuf"), strings.Contains(fn, "markBits"), strings.Contains(fn, "sweep"):
		return "runtime: GC"
	case strings.Contains(fn, "stack"), strings.Contains(fn, "pcvalue"), strings.HasPrefix(fn, "runtime.step"),
		strings.Contains(fn, "adjust"), strings.Contains(fn, "unwinder"), strings.Contains(fn, "funcInfo"), strings.Contains(fn, "findfunc"):
		return "runtime: goroutine stacks"
	case strings.HasPrefix(fn, "runtime.memmove"), strings.Contains(fn, "hash"), strings.HasPrefix(fn, "runtime.ifaceeq"),
		strings.HasPrefix(fn, "runtime.conv"), strings.HasPrefix(fn, "runtime.assert"), strings.HasPrefix(fn, "runtime.typeAssert"):
		return "runtime: copying, hashing, interfaces"
	case strings.HasPrefix(fn, "internal/runtime/maps"), strings.HasPrefix(fn, "runtime.map"):
		return "runtime: maps"
	case strings.HasPrefix(fn, "runtime."), strings.HasPrefix(fn, "internal/runtime"), strings.HasPrefix(fn, "sync"),
		strings.HasPrefix(fn, "internal/sync"):
		return "runtime: scheduler, channels, locks"
	case strings.HasPrefix(fn, "time."):
		return "time"
	case strings.HasPrefix(fn, "strconv"), strings.HasPrefix(fn, "internal/strconv"), strings.HasPrefix(fn, "strings"),
		strings.HasPrefix(fn, "bytes"), strings.HasPrefix(fn, "unicode"), strings.HasPrefix(fn, "bufio"), strings.HasPrefix(fn, "sort"),
		strings.HasPrefix(fn, "slices"):
		return "strconv, strings, bytes, bufio, sort"
	case strings.HasPrefix(fn, "os."), strings.HasPrefix(fn, "internal/poll"), strings.HasPrefix(fn, "net."):
		return "os, net, poll"
	}
	return "other"
}

// parseTop reads `go tool pprof -top` output: the nodes, and the table's lines with its header.
func parseTop(out string) ([]node, []string) {
	var nodes []node
	var lines []string
	started := false
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "flat%") {
			started = true
			lines = append(lines, l)
			continue
		}
		if !started || strings.TrimSpace(l) == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		flat, _ := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cum, _ := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		nodes = append(nodes, node{name: strings.Join(f[5:], " "), flat: flat, cum: cum, flatS: f[0], cumS: f[3]})
		lines = append(lines, l)
	}
	return nodes, lines
}

func pprofText(file string, args ...string) (string, error) {
	cmd := exec.Command("go", append(append([]string{"tool", "pprof"}, args...), file)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}
