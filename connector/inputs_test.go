package connector

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations"
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

// BenchmarkDecodeVariables: the bounded decoder against operations.ParseBody, which decoded the
// variables before, on a trigger's variables as Camunda's template sends them.
func BenchmarkDecodeVariables(b *testing.B) {
	doc := string(mustJSON(map[string]any{
		"operationType": "triggerFlowRun", "organizationUri": "https://contoso.crm.dynamics.com",
		"authentication": map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
			"clientId": clientID, "clientSecret": "{{secrets.CLIENT}}", "scopes": "https://contoso.crm.dynamics.com/.default"},
		"workflowId": workflowID, "connectionName": "shared-uiflow-conn", "connectionType": "1", "runMode": "unattended",
		"runPriority": "normal", "runTimeout": "7200", "connectionTimeoutInSeconds": "20",
		"runInputs": map[string]any{"Customer": "Contoso", "Invoice": 4711, "Amount": 1234.5, "Lines": []any{1, 2, 3}},
	}))
	b.Run("decodeVariables", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeVariables(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseBody (before)", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			operations.ParseBody("application/json", []byte(doc))
		}
	})
}

// BenchmarkRunRecord: signing a trigger's record and verifying it on redelivery.
func BenchmarkRunRecord(b *testing.B) {
	r := NewRunRecords(testCallbackKey)
	h := &Handler{Records: r}
	job := Job{ElementInstanceKey: 2251799813685260, ProcessInstanceKey: 2251799813685249}
	res := &operations.Response{Status: 200, Body: map[string]any{"@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.RunDesktopFlowResponse", "flowsessionId": workflowID}}
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.record(job, res); err != nil {
				b.Fatal(err)
			}
		}
	})
	rec, _ := r.record(job, res)
	vars := map[string]any{RecordedRunVariable: rec}
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res, err := h.recordedRun(job, vars); res == nil || err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzDecodeVariables: the decoder accepts exactly the JSON objects within the bounds (depth,
// float64 range) and keeps every value: its numbers equal the reference decoder's, whole ones
// below 2^53 as int64.
func FuzzDecodeVariables(f *testing.F) {
	for _, s := range []string{`{"a": 1, "b": [1.5, {"c": 12345678901234567890}]}`, `{"x": 1e400}`, `{"x": -0.0}`,
		`{"d": ` + nested(129) + `}`, `{"d": ` + nested(128) + `}`, `[]`, `{"s": "\u00e9\ud800"}`, `{"a":1}{"b":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeVariables(s)
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var ref any
		refErr := d.Decode(&ref)
		if refErr == nil {
			if _, e := d.Token(); e != io.EOF {
				refErr = errors.New("trailing data")
			}
		}
		refObj, isObj := ref.(map[string]any)
		inBounds := refErr == nil && isObj && depthOf(ref) <= MaxVariableDepth+1 && finite(ref)
		if strings.TrimSpace(s) == "" {
			return
		}
		if inBounds != (err == nil) {
			t.Fatalf("decodeVariables(%.80q) err = %v; reference: valid %v, object %v, in bounds %v", s, err, refErr == nil, isObj, inBounds)
		}
		if err == nil {
			same(t, "", got, refObj)
		}
	})
}

func depthOf(v any) int {
	n := 0
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			n = max(n, depthOf(x))
		}
		return n + 1
	case []any:
		for _, x := range t {
			n = max(n, depthOf(x))
		}
		return n + 1
	}
	return 0
}

func finite(v any) bool {
	switch t := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		return err == nil && !math.IsInf(f, 0)
	case map[string]any:
		for _, x := range t {
			if !finite(x) {
				return false
			}
		}
	case []any:
		for _, x := range t {
			if !finite(x) {
				return false
			}
		}
	}
	return true
}

// same compares a decoded value with the reference (json.Number for numbers).
func same(t *testing.T, path string, got, ref any) {
	switch r := ref.(type) {
	case json.Number:
		want, _ := strconv.ParseFloat(string(r), 64)
		switch g := got.(type) {
		case int64:
			if i, err := r.Int64(); err == nil {
				if g != i {
					t.Fatalf("%s = %d, want %s", path, g, r)
				}
			} else if float64(g) != want || math.Abs(want) >= 1<<53 {
				t.Fatalf("%s = %d, want %s", path, g, r)
			}
		case float64:
			if g != want {
				t.Fatalf("%s = %v, want %s", path, g, r)
			}
			if _, err := r.Int64(); err == nil || (g == math.Trunc(g) && math.Abs(g) < 1<<53) {
				t.Fatalf("%s = float64 %v, want int64", path, g)
			}
		default:
			t.Fatalf("%s = %T, want a number", path, got)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(r) {
			t.Fatalf("%s = %v, want %v", path, got, ref)
		}
		for k, x := range r {
			same(t, path+"."+k, g[k], x)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(r) {
			t.Fatalf("%s = %v, want %v", path, got, ref)
		}
		for i, x := range r {
			same(t, path+"["+strconv.Itoa(i)+"]", g[i], x)
		}
	default:
		if got != ref {
			t.Fatalf("%s = %#v, want %#v", path, got, ref)
		}
	}
}
