package connector

import (
	"errors"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// nested is a context nested depth levels deep: {"a":{"a":...{}}}.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

// Issue 11 item 7: absurd values a job can carry are refused with an incident (retries 0) that
// names the field and the bound, and nothing reaches Dataverse.
func TestAbsurdInputsAreBoundedAndNamed(t *testing.T) {
	f := newFixture(t)
	status := f.base("getStatusOfFlowRun")
	status["flowSessionId"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" // unknown: 404, so the error expression runs
	restTrigger := map[string]any{
		"method": "POST", "url": f.srv.URL() + "/api/data/v9.2/workflows(" + workflowID + ")/Microsoft.Dynamics.CRM.RunDesktopFlow",
		"authentication": map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"},
	}
	with := func(base map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for x, y := range base {
			out[x] = y
		}
		out[k] = v
		return out
	}
	const raw = "__raw__" // replaced by the raw JSON of the case in the job's variables
	cases := []struct {
		name    string
		vars    map[string]any
		raw     string // JSON text replacing the string "__raw__" in the variables
		headers map[string]string
		compat  bool
		want    []string
	}{
		{name: "jobTimeout header of 100000 days", vars: f.trigger(nil), headers: map[string]string{"jobTimeout": "P100000D"},
			want: []string{"task header jobTimeout", "between PT1S and P1D", `"P100000D"`}},
		{name: "jobTimeout header under a second", vars: f.trigger(nil), headers: map[string]string{"jobTimeout": "PT0.5S"},
			want: []string{"task header jobTimeout", "between PT1S and P1D"}},
		{name: "retryBackoff header of 100000 days and hours", vars: f.trigger(nil), headers: map[string]string{"retryBackoff": "P100000DT100000H"},
			want: []string{"task header retryBackoff", "between PT0S and P1D", `"P100000DT100000H"`}},
		{name: "jobError with a billion retries", vars: status, headers: map[string]string{"errorExpression": `expr:jobError("later", {}, 1000000000)`},
			want: []string{"error expression: jobError retries", "between 0 and 100", "1000000000"}},
		{name: "jobError with retries beyond int32", vars: status, headers: map[string]string{"errorExpression": `expr:jobError("later", {}, 10000000000)`},
			want: []string{"error expression: jobError retries", "between 0 and 100", "10000000000"}},
		{name: "jobError with negative retries", vars: status, headers: map[string]string{"errorExpression": `=jobError("later", {}, -1)`},
			want: []string{"error expression: jobError retries", "between 0 and 100", "-1"}},
		{name: "jobError with fractional retries", vars: status, headers: map[string]string{"errorExpression": `=jobError("later", {}, 2.5)`},
			want: []string{"error expression", "retries must be a whole number", "2.5"}},
		{name: "jobError with a context of a billion retries", vars: status, headers: map[string]string{"errorExpression": `={errorType: "jobError", message: "m", retries: 1000000000}`},
			want: []string{"error expression: jobError retries", "between 0 and 100"}},
		{name: "jobError with a backoff of 100000 days", vars: status, headers: map[string]string{"errorExpression": `=jobError("later", {}, 2, "P100000D")`},
			want: []string{"error expression: jobError retryBackoff", "between PT0S and P1D"}},
		{name: "runInputs null", vars: f.trigger(map[string]any{"runInputs": "null"}),
			want: []string{"runInputs", "must be a JSON object", "got null"}},
		{name: "runInputs a JSON list", vars: f.trigger(map[string]any{"runInputs": "[1, 2]"}),
			want: []string{"runInputs", "must be a JSON object"}},
		{name: "runInputs a JSON number", vars: f.trigger(map[string]any{"runInputs": "42"}),
			want: []string{"runInputs", "must be a JSON object"}},
		{name: "runInputs nested 10,000 deep", vars: f.trigger(map[string]any{"runInputs": raw}), raw: nested(10000),
			want: []string{"runInputs", "nested more than 128 levels deep"}},
		{name: "runInputs nested 200 deep", vars: f.trigger(map[string]any{"runInputs": raw}), raw: nested(200),
			want: []string{"runInputs", "nested more than 128 levels deep"}},
		{name: "runInputs JSON text nested 10,000 deep", vars: f.trigger(map[string]any{"runInputs": nested(10000)}),
			want: []string{"runInputs", "nested more than 128 levels deep"}},
		{name: "a number beyond float64 in runInputs", vars: f.trigger(map[string]any{"runInputs": raw}), raw: `{"Order": {"Lines": [1, 1e400]}}`,
			want: []string{"runInputs.Order.Lines[1]", "1e400", "out of range"}},
		{name: "a number beyond float64 in runInputs JSON text", vars: f.trigger(map[string]any{"runInputs": `{"Amount": -1e400}`}),
			want: []string{"runInputs.Amount", "-1e400", "out of range"}},
		{name: "runTimeout 1e400", vars: f.trigger(map[string]any{"runTimeout": raw}), raw: `1e400`,
			want: []string{"runTimeout", "1e400", "out of range"}},
		{name: "connectionTimeoutInSeconds 1e10", vars: f.trigger(map[string]any{"connectionTimeoutInSeconds": 1e10}),
			want: []string{"connectionTimeoutInSeconds"}},
		{name: "connectionTimeoutInSeconds beyond int32 as text", vars: f.trigger(map[string]any{"connectionTimeoutInSeconds": "99999999999"}),
			want: []string{"connectionTimeoutInSeconds", "out of range"}},
		{name: "runTimeout beyond a day", vars: f.trigger(map[string]any{"runTimeout": 100000}),
			want: []string{"runTimeout", "between 1 and 86400"}},
		{name: "pollInterval of 100000 days", vars: f.trigger(map[string]any{"operationType": "runFlowAndWait", "pollInterval": "P100000D"}),
			want: []string{"pollInterval", "between PT1S and PT1H"}},
		{name: "compat trigger body null", vars: with(restTrigger, "body", "null"), compat: true,
			want: []string{"body", "must be a context", "got null"}},
		{name: "compat trigger body a JSON list", vars: with(restTrigger, "body", "[]"), compat: true,
			want: []string{"body", "must be a context", "got a list"}},
		{name: "compat trigger body inputs null", vars: with(restTrigger, "body", map[string]any{"runMode": "unattended", "connectionName": "c", "inputs": "null"}), compat: true,
			want: []string{"body.inputs", "must be a JSON object", "got null"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.srv.Count(dataversetest.OpRunDesktopFlow)
			job := f.job(c.vars, c.headers)
			if c.raw != "" {
				job.Variables = strings.Replace(job.Variables, `"`+raw+`"`, c.raw, 1)
			}
			if c.compat {
				job.Type = CompatJobType
			}
			_, err := f.h.Handle(t.Context(), job)
			var p *PermanentError
			if !errors.As(err, &p) {
				t.Fatalf("err = %v (%T), want an incident (retries 0)", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q should contain %q", err.Error(), w)
				}
			}
			if n := f.srv.Count(dataversetest.OpRunDesktopFlow) - before; n != 0 {
				t.Errorf("%d runs started, want none", n)
			}
		})
	}
}

// Values at the bounds are accepted.
func TestInputBoundsAcceptTheLimits(t *testing.T) {
	f := newFixture(t)
	for _, h := range []map[string]string{
		{"jobTimeout": "P1D", "retryBackoff": "P1D"},
		{"jobTimeout": "PT1S", "retryBackoff": "PT0S"},
		{"jobTimeout": "PT24H", "retryBackoff": "PT86400S"},
	} {
		if _, err := parseHeaders(h); err != nil {
			t.Errorf("%v: %v", h, err)
		}
	}
	v := f.trigger(map[string]any{"runInputs": nested(MaxVariableDepth - 1)})
	if _, err := f.run(v, triggerHeaders); err != nil {
		t.Fatalf("runInputs nested %d deep: %v", MaxVariableDepth-1, err)
	}
	job := f.job(f.trigger(map[string]any{"runInputs": "__raw__"}), triggerHeaders)
	job.Variables = strings.Replace(job.Variables, `"__raw__"`, nested(MaxVariableDepth), 1)
	if _, err := f.h.Handle(t.Context(), job); err != nil {
		t.Fatalf("runInputs nested %d deep: %v", MaxVariableDepth, err)
	}
	for _, s := range []string{`=jobError("m", {}, 100, "P1D")`, `=jobError("m", {}, 0)`, `=jobError("m")`} {
		status := f.base("getStatusOfFlowRun")
		status["flowSessionId"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
		_, err := f.run(status, map[string]string{"errorExpression": s})
		var je *JobError
		if !errors.As(err, &je) {
			t.Errorf("%s: err = %v, want the job error", s, err)
		}
	}
}

func TestDecodeVariablesNumbersAndPaths(t *testing.T) {
	m, err := decodeVariables(`{"a": 4, "b": 4.0, "c": 1e2, "d": 1.5, "e": 12345678901234567, "f": 1e300, "g": [1, {"h": -0}]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(4), "b": int64(4), "c": int64(100), "d": 1.5, "e": int64(12345678901234567), "f": 1e300}
	for k, w := range want {
		if m[k] != w {
			t.Errorf("%s = %#v, want %#v", k, m[k], w)
		}
	}
	if g := m["g"].([]any); g[0] != int64(1) || g[1].(map[string]any)["h"] != int64(0) {
		t.Errorf("g = %#v", g)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"x": [[1e999]]}`, "x[0][0]"},
		{`{"x": {"y": [1, 2, {"z": 1e400}]}}`, "x.y[2].z"},
		{`{"runInputs": ` + nested(300) + `}`, "runInputs: is nested more than 128 levels deep"},
		{`{"list": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "list: is nested more than 128 levels deep"},
		{`{"x": {"y": }}`, "x.y"},
		{`[1]`, "not a JSON object"},
	} {
		_, err := decodeVariables(c.doc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40s: err = %v, want it to name %q", c.doc, err, c.want)
		}
	}
}
