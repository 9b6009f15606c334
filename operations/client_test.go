package operations

import (
	"reflect"
	"testing"
	"time"
)

func TestParseBody(t *testing.T) {
	cases := []struct {
		ct, raw string
		want    any
	}{
		{"application/json; odata.metadata=minimal", `{"statuscode":4,"x":1.5,"l":[1,2]}`, map[string]any{"statuscode": int64(4), "x": 1.5, "l": []any{int64(1), int64(2)}}},
		{"application/json", `{"big":12345678901234567890}`, map[string]any{"big": 1.2345678901234567e19}},
		{"application/json", `{"id":9007199254740993}`, map[string]any{"id": int64(9007199254740993)}}, // beyond 2^53: digits kept
		{"application/octet-stream", `{"Output1":"v"}`, map[string]any{"Output1": "v"}},
		{"text/html", `<html></html>`, "<html></html>"},
		{"application/json", `not json`, "not json"},
		{"application/json", ``, nil},
	}
	for _, c := range cases {
		if got := ParseBody(c.ct, []byte(c.raw)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseBody(%q, %s) = %#v, want %#v", c.ct, c.raw, got, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{"": 0, "5": 5 * time.Second, "0.5": 500 * time.Millisecond, "-1": 0, "abc": 0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second,
		// Bounded to a day like the seconds form (issue 11 item 7): a date years ahead would park a job for years.
		"100000": 0, "Fri, 01 Jan 2036 00:00:00 GMT": 0, "Fri, 02 Jan 2026 00:00:00 GMT": 24 * time.Hour}
	for v, want := range cases {
		if got := RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRecognize(t *testing.T) {
	org := "https://o.crm.dynamics.com"
	id := "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	cases := []struct {
		method, url string
		op          Op
		ok          bool
	}{
		{"POST", org + "/api/data/v9.2/workflows(" + id + ")/Microsoft.Dynamics.CRM.RunDesktopFlow", OpTrigger, true},
		{"get", org + "/api/data/v9.2/flowsessions(" + id + ")?$select=statuscode", OpStatus, true},
		{"GET", org + "/api/data/v9.2/flowsessions(" + id + ")/outputs/$value", OpOutputs, true},
		{"POST", org + "/api/data/v9.2/flowsessions(" + id + ")/Microsoft.Dynamics.CRM.CancelDesktopFlowRun", OpCancel, true},
		{"GET", org + "/api/data/v9.2/accounts", "", false},
		{"DELETE", org + "/api/data/v9.2/flowsessions(" + id + ")", "", false},
	}
	for _, c := range cases {
		op, gotOrg, gotID, ok := Recognize(c.method, c.url)
		if ok != c.ok || op != c.op || (ok && (gotOrg != org || gotID != id)) {
			t.Errorf("Recognize(%s %s) = %v %q %q %v", c.method, c.url, op, gotOrg, gotID, ok)
		}
	}
}
