package connector

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// BenchmarkHandleStatus runs status jobs through the whole handler path (decode, secrets,
// binding, host check, token, HTTP to the emulator on loopback, expressions) in parallel.
// It reports jobs/s; CPU per job comes from `-cpuprofile` or `/usr/bin/time` (docs/benchmarks.md).
func BenchmarkHandleStatus(b *testing.B) {
	srv := dataversetest.NewServer(dataversetest.Options{
		Flows:  map[string]dataversetest.Flow{workflowID: {}},
		Tokens: []string{testToken},
		Limits: dataversetest.Limits{Requests: -1, ExecutionTime: -1, Concurrent: -1, TriggersPerMinute: -1},
	})
	defer srv.Close()
	u, _ := url.Parse(srv.URL())
	hosts, _ := egress.NewHostPolicy(u.Hostname())
	h := NewHandler(Options{Hosts: hosts, Limits: defaultLimits(b), SecretPrefix: "SECRET_", MaxOutputBytes: DefaultMaxOutputBytes, Log: zerolog.Nop()})
	h.Secrets.Lookup = func(string) (string, bool) { return testToken, true }

	ctx := context.Background()
	trig, _ := json.Marshal(map[string]any{
		"operationType": "triggerFlowRun", "organizationUri": srv.URL(), "workflowId": workflowID,
		"authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"},
		"connectionName": "c", "runMode": "unattended",
	})
	res, err := h.Handle(ctx, Job{Variables: string(trig), Deadline: time.Now().Add(time.Minute),
		Headers: map[string]string{"resultExpression": "={flowSessionId: response.body.flowsessionId}"}})
	if err != nil {
		b.Fatal(err)
	}
	vars, _ := json.Marshal(map[string]any{
		"operationType": "getStatusOfFlowRun", "organizationUri": srv.URL(),
		"flowSessionId":  res.Variables["flowSessionId"],
		"authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"},
	})
	job := Job{Variables: string(vars), Deadline: time.Now().Add(time.Hour), Headers: map[string]string{
		"resultExpression": "={statusCode: response.body.statuscode, statusName: response.statusName}",
		"retryBackoff":     "PT30S",
	}}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Handle(ctx, job); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}
