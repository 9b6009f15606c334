package connector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// doubling30 doubles the flow session id 30 times: 36 GiB were it built.
func doubling30() string {
	var b strings.Builder
	b.WriteString("={s0: response.body.flowsessionId")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, ", s%d: s%d + s%d", i, i-1, i-1)
	}
	b.WriteString("}")
	return b.String()
}

// An expression over its budget is an incident that names the expression and the limit.
func TestExpressionOverBudgetIsAnIncident(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, header, src, want string
		vars                    map[string]any
	}{
		{"result expression", "resultExpression", doubling30(), "result expression", f.trigger(nil)},
		{"error expression", "errorExpression", `=string length(string join(for i in 1..2000000 return error.message))`, "error expression",
			map[string]any{"operationType": "getStatusOfFlowRun", "organizationUri": f.srv.URL(), "flowSessionId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
				"authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.run(c.vars, map[string]string{c.header: c.src})
			var p *PermanentError
			if !errors.As(err, &p) {
				t.Fatalf("want an incident, got %v", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, c.want+": ") || !strings.Contains(msg, "expression budget exceeded (") {
				t.Errorf("the incident %q should name the %s and the limit", msg, c.want)
			}
		})
	}
}

// An expression still running when the job's context ends stops at once, and the handler
// gives the context's error back for the adapter to decide (hand back, timed out), not an
// incident: the slot is free again.
func TestExpressionStopsWithTheJobsContext(t *testing.T) {
	f := newFixture(t)
	v := f.base("getStatusOfFlowRun")
	v["flowSessionId"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	cpuBound := `=count(sort(for i in 1..1000 return -i, function(a, b) count(for k in 1..100000 return k) > 0 and a < b))`
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond) // well before the bytes budget (16 MiB) of the lists it builds
	defer cancel()
	start := time.Now()
	_, err := f.h.Handle(ctx, f.job(v, map[string]string{"errorExpression": cpuBound}))
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the handler returned %v after the deadline", d)
	}
	var p *PermanentError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &p) {
		t.Fatalf("want the context's error, not an incident: %v", err)
	}
}
