package main

import (
	"strings"
	"testing"
	"time"
)

func TestVariableI(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]int{`{"i":0}`: 0, `{"i":12345}`: 12345, `{"a":1,"i": 7,"z":2}`: 7, `{"i":-3}`: -3} {
		if got, ok := variableI(doc); !ok || got != want {
			t.Errorf("variableI(%s) = %d, %v; want %d", doc, got, ok, want)
		}
	}
	for _, doc := range []string{`{}`, `{"i":"x"}`, `{"j":1}`} {
		if _, ok := variableI(doc); ok {
			t.Errorf("variableI(%s) found a value", doc)
		}
	}
}

func TestSpreadAndPercentile(t *testing.T) {
	t.Parallel()
	s := spreadOf([]float64{30, 10, 20})
	if s.Median != 20 || s.Min != 10 || s.Max != 30 || s.format(0) != "20 (10–30)" {
		t.Fatalf("spread %+v, %q", s, s.format(0))
	}
	if one := spreadOf([]float64{5}); one.format(1) != "5.0" {
		t.Fatalf("one run: %q", one.format(1))
	}
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100-i) * time.Millisecond
	}
	if p50, p99 := percentileMS(d, 50), percentileMS(d, 99); p50 != 50 || p99 != 99 {
		t.Fatalf("p50 %v p99 %v", p50, p99)
	}
}

func TestScanRecords(t *testing.T) {
	t.Parallel()
	lines := strings.Join([]string{
		`{"partitionId":1,"value":{"bpmnProcessId":"p","bpmnElementType":"PROCESS"},"valueType":"PROCESS_INSTANCE","intent":"ELEMENT_COMPLETED","recordType":"EVENT"}`,
		`{"partitionId":1,"value":{"bpmnProcessId":"p","bpmnElementType":"SERVICE_TASK"},"valueType":"PROCESS_INSTANCE","intent":"ELEMENT_COMPLETED","recordType":"EVENT"}`,
		`{"partitionId":1,"value":{"bpmnProcessId":"other","bpmnElementType":"PROCESS"},"valueType":"PROCESS_INSTANCE","intent":"ELEMENT_COMPLETED","recordType":"EVENT"}`,
		`{"partitionId":1,"value":{"type":"t"},"valueType":"JOB","intent":"COMPLETED","recordType":"EVENT"}`,
		`{"partitionId":1,"value":{"type":"t"},"valueType":"JOB","intent":"COMPLETE","recordType":"COMMAND_REJECTION"}`,
	}, "\n") + "\n"
	var rc recordsCheck
	if err := scanRecords(strings.NewReader(lines), "p", "t", &rc); err != nil {
		t.Fatal(err)
	}
	if rc.Lines != 5 || rc.InstancesCompleted != 1 || rc.JobsCompleted != 1 || rc.Rejections != 1 {
		t.Fatalf("%+v", rc)
	}
}

func TestParseTopAndArea(t *testing.T) {
	t.Parallel()
	out := `Type: cpu
      flat  flat%   sum%        cum   cum%
     0.42s 10.02% 10.02%      0.42s 10.02%  internal/runtime/syscall/linux.Syscall6
     0.02s  0.48% 10.50%      0.90s 21.48%  google.golang.org/grpc.(*Server).serveStreams.func2.1
         0     0% 10.50%      0.30s  7.00%  github.com/pa-connector/pa-connector/engine.(*Engine).apply (inline)
`
	nodes, lines := parseTop(out)
	if len(nodes) != 3 || len(lines) != 4 || nodes[1].cum != 21.48 || nodes[2].name != "github.com/pa-connector/pa-connector/engine.(*Engine).apply (inline)" {
		t.Fatalf("%+v %q", nodes, lines)
	}
	for fn, want := range map[string]string{
		nodes[0].name: "system calls (write, fsync, read)",
		nodes[1].name: "gRPC, HTTP/2",
		nodes[2].name: "engine (state machine, records)",
		"github.com/pa-connector/pa-connector/engine/wal.(*Log).Sync": "engine/wal",
		"runtime.mallocgc":                    "runtime: allocation",
		"runtime.gcDrain":                     "runtime: GC",
		"runtime.selectgo":                    "runtime: scheduler, channels, locks",
		"encoding/json.(*decodeState).object": "encoding/json",
		"runtime.newstack":                    "runtime: goroutine stacks",
	} {
		if got := area(fn); got != want {
			t.Errorf("area(%s) = %q, want %q", fn, got, want)
		}
	}
}

func TestProcessXMLDeploysOneTask(t *testing.T) {
	t.Parallel()
	x := string(oneTaskXML("proc", "job-type"))
	for _, want := range []string{`id="proc"`, `type="job-type"`, `<bpmn:serviceTask id="task">`} {
		if !strings.Contains(x, want) {
			t.Fatalf("missing %s in\n%s", want, x)
		}
	}
}
