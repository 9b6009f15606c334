package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// profile summarizes the CPU and allocation profiles of the profiled run.
type profile struct {
	Seconds    int     `json:"seconds"`
	Jobs       int     `json:"jobs"`
	JobsPerSec float64 `json:"jobsPerSec"`
	CPUus      float64 `json:"workerCpuUsPerJob"`
	CPUFile    string  `json:"cpuFile"`
	AllocsFile string  `json:"allocsFile"`
	CPUTotal   string  `json:"cpuTotal"`
	Groups     []share `json:"cpuByArea"`   // flat CPU by area
	Entries    []share `json:"cpuEntries"`  // cumulative CPU of chosen entry points
	TopFlat    []share `json:"cpuTopFlat"`  // functions by flat CPU
	AllocTop   []share `json:"allocTop"`    // functions by flat allocated bytes
	AllocAreas []share `json:"allocByArea"` // allocated bytes by area
	Err        string  `json:"error,omitempty"`
}

type share struct {
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
}

type pprofNode struct {
	name          string
	flatPct, cumP float64
}

// profileSummary runs `go tool pprof -top` on the run's profiles.
func profileSummary(dir, stem string, secs int, r result) *profile {
	p := &profile{Seconds: secs, Jobs: r.Jobs, JobsPerSec: r.JobsPerSec, CPUus: r.WorkerCPUus,
		CPUFile: filepath.Join(dir, stem+".cpu.pprof"), AllocsFile: filepath.Join(dir, stem+".allocs.pprof")}
	cpu, total, err := pprofTop(p.CPUFile)
	if err != nil {
		p.Err = err.Error()
		return p
	}
	p.CPUTotal = total
	p.Groups = byArea(cpu)
	p.TopFlat = topFlat(cpu, 15)
	for _, e := range entryPoints {
		for _, n := range cpu {
			if strings.HasPrefix(n.name, e.fn) {
				p.Entries = append(p.Entries, share{e.label + " (`" + n.name + "`)", n.cumP})
				break
			}
		}
	}
	allocs, _, err := pprofTop(p.AllocsFile, "-sample_index=alloc_space")
	if err != nil {
		p.Err = err.Error()
		return p
	}
	p.AllocTop = topFlat(allocs, 12)
	p.AllocAreas = byArea(allocs)
	return p
}

// entryPoints are functions whose cumulative share tells where the time goes.
var entryPoints = []struct{ label, fn string }{
	{"job goroutines: handler + answer", "github.com/pa-connector/pa-connector/zeebe.(*Worker).run"},
	{"handler (decode → HTTP → expressions)", "github.com/pa-connector/pa-connector/connector.(*Handler).Handle"},
	{"Complete command (gRPC unary call)", "github.com/camunda/zeebe/clients/go/v8/pkg/commands.(*CompleteJobCommand).Send"},
	{"the job's log line", "github.com/rs/zerolog.(*Event).Msg"},
	{"HTTP client read loop", "net/http.(*persistConn).readLoop"},
	{"HTTP client write loop", "net/http.(*persistConn).writeLoop"},
	{"gRPC transport reader", "google.golang.org/grpc/internal/transport.(*http2Client).reader"},
	{"gRPC loopy writer", "google.golang.org/grpc/internal/transport.(*loopyWriter).run"},
	{"job stream receive", "github.com/camunda/zeebe/clients/go/v8/pkg/commands.(*StreamJobsCommand).Send"},
	{"garbage collector (background marking)", "runtime.gcBgMarkWorker"},
	{"memory allocation", "runtime.mallocgc"},
	{"scheduler (findRunnable)", "runtime.findRunnable"},
	{"system calls", "syscall.Syscall"},
	{"system calls (raw)", "internal/runtime/syscall.Syscall6"},
}

// area groups a function into what it is part of.
func area(fn string) string {
	pkg := fn
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		if j := strings.IndexByte(pkg[i:], '.'); j >= 0 {
			pkg = pkg[:i+j]
		}
	} else if j := strings.IndexByte(pkg, '.'); j >= 0 {
		pkg = pkg[:j]
	} else {
		pkg = "runtime" // assembly routines such as aeshashbody, memeqbody
	}
	switch {
	case strings.HasPrefix(pkg, "github.com/pa-connector/pa-connector/"):
		return strings.TrimPrefix(pkg, "github.com/pa-connector/pa-connector/") + " (ours)"
	case strings.HasPrefix(pkg, "google.golang.org/grpc"):
		return "gRPC"
	case strings.HasPrefix(pkg, "google.golang.org/protobuf"), strings.HasPrefix(pkg, "github.com/golang/protobuf"):
		return "protobuf"
	case strings.HasPrefix(pkg, "golang.org/x/net/http2"), strings.HasPrefix(pkg, "net/http"):
		return "net/http, http2"
	case strings.HasPrefix(pkg, "github.com/camunda/zeebe"):
		return "Zeebe client"
	case strings.HasPrefix(pkg, "github.com/rs/zerolog"):
		return "zerolog"
	case strings.HasPrefix(pkg, "github.com/prometheus"):
		return "Prometheus client"
	case strings.HasPrefix(pkg, "github.com/expr-lang"):
		return "expr-lang"
	case pkg == "runtime":
		return runtimeArea(fn)
	case strings.HasPrefix(pkg, "internal/runtime/maps"):
		return "runtime: maps"
	case pkg == "sync", strings.HasPrefix(pkg, "internal/sync"), pkg == "sync/atomic":
		return "sync"
	case strings.HasPrefix(pkg, "internal/runtime/syscall"), pkg == "syscall", strings.HasPrefix(pkg, "internal/poll"):
		return "system calls"
	case strings.HasPrefix(pkg, "encoding/json"):
		return "encoding/json"
	}
	return pkg
}

func byArea(nodes []pprofNode) []share {
	sum := map[string]float64{}
	for _, n := range nodes {
		sum[area(n.name)] += n.flatPct
	}
	var out []share
	for k, v := range sum {
		out = append(out, share{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Percent > out[j].Percent })
	if len(out) > 14 {
		out = out[:14]
	}
	return out
}

func topFlat(nodes []pprofNode, n int) []share {
	s := append([]pprofNode(nil), nodes...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].flatPct > s[j].flatPct })
	var out []share
	for _, x := range s[:min(n, len(s))] {
		out = append(out, share{x.name, x.flatPct})
	}
	return out
}

// pprofTop returns every node of `go tool pprof -top` and the profile's total line.
func pprofTop(file string, extra ...string) ([]pprofNode, string, error) {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=100000", "-nodefraction=0", "-edgefraction=0", "-symbolize=none"}, extra...)
	cmd := exec.Command("go", append(args, file)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("go tool pprof %s: %v: %s", file, err, stderr.String())
	}
	var nodes []pprofNode
	total := ""
	header := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Duration:") || strings.HasPrefix(l, "Type:") {
			total += strings.TrimSpace(l) + " "
			continue
		}
		if strings.Contains(l, "flat%") {
			header = true
			continue
		}
		if !header {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		fp, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cp, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		nodes = append(nodes, pprofNode{name: strings.Join(f[5:], " "), flatPct: fp, cumP: cp})
	}
	if len(nodes) == 0 {
		return nil, "", fmt.Errorf("go tool pprof %s: no nodes in the output", file)
	}
	return nodes, strings.TrimSpace(total), nil
}

func (p *profile) markdown(what, jobs string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("### Profile of %s\n\n", what)
	w("%d %s at %.0f jobs/s (%.0f µs worker CPU per job), `--pprof`: a %d s CPU profile from the start of the run (`/debug/pprof/profile`) and the allocation profile of the whole process after it (`/debug/pprof/allocs`). %s\n\n",
		p.Jobs, jobs, p.JobsPerSec, p.CPUus, p.Seconds, p.CPUTotal)
	if p.Err != "" {
		w("Profile summary failed: %s\n", p.Err)
		return b.String()
	}
	table := func(title, col string, rows []share) {
		w("| %s | %s |\n|---|---|\n", title, col)
		for _, r := range rows {
			w("| %s | %.1f%% |\n", strings.ReplaceAll(r.Name, "|", "\\|"), r.Percent)
		}
		w("\n")
	}
	table("CPU by area (flat)", "share", p.Groups)
	table("CPU under (cumulative)", "share", p.Entries)
	table("function (flat CPU)", "share", p.TopFlat)
	table("allocated bytes by area (flat)", "share", p.AllocAreas)
	table("function (flat allocated bytes)", "share", p.AllocTop)
	return b.String()
}

// runtimeArea splits the runtime's own functions by what they do.
func runtimeArea(fn string) string {
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(fn, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("gcBgMark", "gcDrain", "scanobject", "scanObject", "scanblock", "markBits", "MarkBits", "greyobject",
		"sweep", "findObject", "wbBuf", "bulkBarrier", "gcMark", "gcAssist", "tryDeferToSpanScan", "markroot",
		"typePointers", "HeapBits", "gcBits", "gcController", "gcWork", "stackScan", "GCMask", "ScannableStack"):
		return "runtime: GC"
	case has("malloc", "nextFree", "mspan", "mcache", "mcentral", "mheap", "heapBits", "sizeclass",
		"memclr", "newobject", "makeslice", "growslice", "newarray", "spanSet", "spanOf", "persistentalloc",
		"heapSetType", "getMCache", "pageIndexOf", "sysMem", "madvise", "pageAlloc", "allocSpan"):
		return "runtime: allocation"
	case has("unwinder", "pcvalue", "funcMaxSPDelta", "step", "copystack", "newstack", "stackalloc",
		"stackpool", "stackcache", "morestack", "getStackMap", "adjustframe", "funcInfo", "findfunc"):
		return "runtime: goroutine stacks"
	case has("futex", "epoll", "netpoll", "usleep", "nanotime", "timer", "Timer", "walltime", "write1", "read"):
		return "runtime: futex, netpoll, timers"
	case has("map"):
		return "runtime: maps"
	case has("memmove", "memequal", "memhash", "aeshash", "strhash", "cmpstring", "concatstring", "slicebytetostring",
		"stringtoslicebyte", "intstring", "iface", "itab", "interhash", "typehash", "efaceeq", "assertE2I", "convT"):
		return "runtime: copying, hashing, interfaces"
	case has("findRunnable", "schedule", "park", "ready", "casgstatus", "runq", "wakep", "lock2", "unlock2",
		"chansend", "chanrecv", "selectgo", "sellock", "selunlock", "Sudog", "sudog", "waitq", "newproc",
		"goexit", "gopark", "goready", "execute", "mcall", "systemstack", "semacquire", "semrelease", "entersyscall", "exitsyscall",
		"closechan", "runtime.send", "runtime.recv", "gList", "asyncPreempt", "preempt", "tgkill", "acquirem", "releasem", "signal", "sighandler"):
		return "runtime: scheduler, channels, locks"
	}
	return "runtime: other"
}
