package connector

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A cloud flow's trigger host is allowed for runCloudFlow only: as an organizationUri it would
// be sent the job's Dataverse token. Refused before any request, naming organizationUri.
func TestOrganizationURIIsNoFlowHost(t *testing.T) {
	f := dvFixture(t)
	sent := 0
	base := f.h.Transport
	f.h.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) { sent++; return base.RoundTrip(r) })
	for _, org := range []string{"https://attacker.logic.azure.com", "https://X.Environment.API.PowerPlatform.com.:443",
		"https://prod-00.westeurope.logic.azure.com:8443/"} {
		for _, job := range []struct{ typ, op string }{{"dataverse:1", "createRow"}, {"power-automate:1", "triggerFlowRun"}} {
			v := f.trigger(map[string]any{"organizationUri": org, "table": "contact", "row": map[string]any{"lastname": "x"}})
			v["operationType"] = job.op
			job2 := f.job(v, nil)
			job2.Type = job.typ
			_, err := f.h.Handle(t.Context(), job2)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Field != "organizationUri" || Decide(err, 3).Retries != 0 {
				t.Errorf("%s %s with organizationUri %s: %v, want an incident naming organizationUri", job.typ, job.op, org, err)
			}
		}
	}
	if sent != 0 {
		t.Fatalf("%d requests sent", sent)
	}
	// a Dataverse organization is still taken
	if _, err := f.dv("getRow", map[string]any{"table": "contact", "rowId": dvContact}, nil); err != nil {
		t.Fatal(err)
	}
}

// A 5xx or 408 on a write that cannot be repeated: Dataverse's own error (an OData error code)
// means its transaction rolled back, and it is retried; one without (a gateway's or proxy's
// answer) may come after the write was done: an incident saying what may have happened. A read
// is retried either way.
func TestDataverseGatewayErrorOnAWriteIsAnIncident(t *testing.T) {
	f := dvFixture(t)
	f.dvBody("getRow", map[string]any{"table": "contact", "rowId": dvContact}) // metadata cached
	base := f.h.Transport
	gateway := 0 // status a gateway answers the next non-metadata request with
	f.h.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if gateway == 0 || strings.Contains(r.URL.Path, "EntityDefinitions") {
			return base.RoundTrip(r)
		}
		status := gateway
		gateway = 0
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {"text/html"}},
			Body: io.NopCloser(strings.NewReader("<html>upstream timed out</html>")), Request: r}, nil
	})
	create := map[string]any{"table": "contact", "row": map[string]any{"lastname": "Hopper"}}
	for _, c := range []struct {
		name     string
		op       string
		vars     map[string]any
		gateway  int
		fault    int // an OData error from Dataverse itself
		incident string
	}{
		{"create, gateway 502", "createRow", create, 502, 0, "the row may have been created"},
		{"create, gateway 504", "createRow", create, 504, 0, "the row may have been created"},
		{"create, gateway 408", "createRow", create, 408, 0, "the row may have been created"},
		{"update with an ETag, gateway 503", "updateRow", map[string]any{"table": "contact", "rowId": dvContact, "row": map[string]any{"lastname": "B"}, "ifMatch": `W/"1"`}, 503, 0, "the row may have been changed"},
		{"create, Dataverse 500", "createRow", create, 0, 500, ""},
		{"read, gateway 502", "getRow", map[string]any{"table": "contact", "rowId": dvContact}, 502, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			gateway = c.gateway
			if c.fault != 0 {
				f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpCreateRow, Status: c.fault})
			}
			_, err := f.dv(c.op, c.vars, nil)
			d := Decide(err, 3)
			if c.incident != "" {
				if d.Retries != 0 || !strings.Contains(d.Message, c.incident) {
					t.Fatalf("%+v, want an incident saying %q", d, c.incident)
				}
				return
			}
			if d.Kind != "fail" || d.Retries != 2 || strings.Contains(d.Message, "may have been") {
				t.Fatalf("%+v, want a retry with one retry fewer", d)
			}
		})
	}
}

// The desktop trigger follows the same rule: a 5xx or 408 from a gateway in front of Dataverse
// (no OData error code) may hide a run that started, so it is the unknown-outcome incident; a
// 5xx with Dataverse's own error code means RunDesktopFlow rolled back, and it is retried.
func TestTriggerGatewayErrorIsAnIncident(t *testing.T) {
	f := newFixture(t)
	base := f.h.Transport
	gateway := 0
	f.h.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if gateway == 0 || !strings.Contains(r.URL.Path, "RunDesktopFlow") {
			return base.RoundTrip(r)
		}
		status := gateway
		gateway = 0
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {"text/html"}},
			Body: io.NopCloser(strings.NewReader("<html>bad gateway</html>")), Request: r}, nil
	})
	for _, c := range []struct {
		name           string
		gateway, fault int
		incident       bool
	}{
		{"gateway 502", 502, 0, true},
		{"gateway 504", 504, 0, true},
		{"gateway 408", 408, 0, true},
		{"Dataverse 500 with its error code", 0, 500, false},
		{"Dataverse 503 with its error code", 0, 503, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			gateway = c.gateway
			if c.fault != 0 {
				f.srv.Inject(dataversetest.Fault{Op: dataversetest.OpRunDesktopFlow, Status: c.fault})
			}
			_, err := f.run(f.trigger(map[string]any{"validateInputs": false}), nil)
			d := Decide(err, 3)
			switch {
			case c.incident && (d.Retries != 0 || !strings.Contains(d.Message, "a run may have started")):
				t.Fatalf("%+v, want the incident 'a run may have started'", d)
			case !c.incident && (d.Kind != "fail" || d.Retries != 2 || strings.Contains(d.Message, "may have started")):
				t.Fatalf("%+v, want a retry with one retry fewer", d)
			}
		})
	}
}
