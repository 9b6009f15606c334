package dataversetest

import (
	"net/http"
	"testing"
	"time"
)

// One test per row of shared/reference/emulator-fidelity-audit.md that the
// emulator was changed for, named TestFidelity_Row<N>_<what>, so it cannot
// drift back. docs/emulator.md lists the rows that now match.

// Row 50: REQ_ID and x-ms-service-request-id on every Web API answer (one
// fresh id per request, the same under both names), errors and 401 included.
func TestFidelity_Row50_RequestIDs(t *testing.T) {
	s := start(t, Options{})
	answers := map[string]answer{
		"200": call(t, s, http.MethodPost, runPath(wfID), staticToken, map[string]any{"runMode": "unattended", "connectionName": "c"}),
		"404": call(t, s, http.MethodGet, "/api/data/v9.2/nosuchset", staticToken, nil),
		"401": call(t, s, http.MethodGet, sessionPath(wfID), "", nil),
	}
	seen := map[string]string{}
	for name, a := range answers {
		id := a.header.Get("x-ms-service-request-id")
		if _, ok := parseGUID(id); !ok {
			t.Errorf("%s: x-ms-service-request-id = %q, want a GUID", name, id)
		}
		if got := a.header.Get("REQ_ID"); got != id {
			t.Errorf("%s: REQ_ID = %q, want x-ms-service-request-id %q", name, got, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share request id %s", name, other, id)
		}
		seen[id] = name
	}
}

// Row 51: x-ms-dop-hint, a positive integer, on every Web API answer.
func TestFidelity_Row51_DOPHint(t *testing.T) {
	s := start(t, Options{})
	for _, a := range []answer{
		call(t, s, http.MethodGet, "/api/data/v9.2/nosuchset", staticToken, nil),
		call(t, s, http.MethodGet, sessionPath(wfID), "", nil),
	} {
		if got := a.header.Get("x-ms-dop-hint"); got != DOPHint {
			t.Errorf("%d answer: x-ms-dop-hint = %q, want %q", a.status, got, DOPHint)
		}
	}
}

// Row 67: x-ms-ratelimit-time-remaining-xrm-requests reads "1,200.00" as in
// Microsoft's capture, with a thousands separator.
func TestFidelity_Row67_TimeRemainingFormat(t *testing.T) {
	s := start(t, Options{})
	a := call(t, s, http.MethodGet, sessionPath(wfID), staticToken, nil)
	if got := a.header.Get("x-ms-ratelimit-time-remaining-xrm-requests"); got != "1,200.00" {
		t.Errorf("time remaining of a fresh caller = %q, want 1,200.00", got)
	}
	for d, want := range map[time.Duration]string{
		0:                                      "0.00",
		999 * time.Millisecond:                 "0.99",
		20*time.Minute - 1234*time.Millisecond: "1,198.76",
		1234567 * time.Second:                  "1,234,567.00",
	} {
		if got := secondsRemaining(d); got != want {
			t.Errorf("secondsRemaining(%v) = %q, want %q", d, got, want)
		}
	}
}
