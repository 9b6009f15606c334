package zeebe

import (
	"bytes"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

const (
	workflowID   = "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	slowFlow     = "5a5a5a5a-0000-4000-8000-5a5a5a5a5a5a"
	testToken    = "static-bearer-token-Zq81"
	clientID     = "11111111-2222-3333-4444-555555555555"
	clientSecret = "client-secret-Xy9~never-log-me"
)

// fixture is an emulator plus the job handler configured to call it, as the binary builds it
// (connector.NewHandler).
type fixture struct {
	t   *testing.T
	srv *dataversetest.Server
	h   *connector.Handler
	env map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := dataversetest.NewServer(dataversetest.Options{
		Flows: map[string]dataversetest.Flow{
			workflowID: {Outputs: map[string]any{"Output1": "${inputs.Input1}", "Count": 3}},
			slowFlow:   {Duration: time.Hour},
		},
		Tokens:  []string{testToken},
		Clients: map[string]string{clientID: clientSecret},
	})
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL())
	hosts, err := egress.NewHostPolicy(egress.DefaultAllowedHosts + "," + u.Hostname())
	if err != nil {
		t.Fatal(err)
	}
	limits, err := egress.ParseLimits("")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: srv, env: map[string]string{"SECRET_TOKEN": testToken, "SECRET_CLIENT": clientSecret}}
	f.h = connector.NewHandler(connector.Options{Hosts: hosts, Limits: limits, Compat: true, SecretPrefix: "SECRET_",
		MaxOutputBytes: connector.DefaultMaxOutputBytes, Log: zerolog.Nop()})
	f.h.Secrets.Lookup = func(k string) (string, bool) { v, ok := f.env[k]; return v, ok }
	return f
}

// trigger is a triggerFlowRun job's variables, with extra.
func (f *fixture) trigger(extra map[string]any) map[string]any {
	v := map[string]any{
		"operationType":   "triggerFlowRun",
		"organizationUri": f.srv.URL(),
		"authentication":  map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"},
		"workflowId":      workflowID,
		"connectionName":  "shared-uiflow-conn",
		"runMode":         "unattended",
	}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// waitVars is a runFlowAndWait job's variables for a run of workflow.
func (f *fixture) waitVars(workflow string) map[string]any {
	v := f.trigger(map[string]any{"workflowId": workflow, "runInputs": map[string]any{"Input1": "waited"}, "pollInterval": "PT1S"})
	v["operationType"] = "runFlowAndWait"
	return v
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
