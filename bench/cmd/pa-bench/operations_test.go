package main

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

// TestRowOperations runs each dataverse:1 operation's jobs through the worker's handler against
// the emulator seeded as the benchmark seeds it, and checks the variables as the benchmark does:
// the jobs, the seed and the check belong together, and a wrong one fails here, not in a
// ten-minute run.
func TestRowOperations(t *testing.T) {
	t.Parallel()
	var tables []dataversetest.Table
	b, _ := json.Marshal(benchTables())
	if err := json.Unmarshal(b, &tables); err != nil {
		t.Fatalf("benchTables in the emulator's form: %v", err)
	}
	tokens := []string{}
	for name, v := range secretValues() {
		if name != "DV_CLIENT_SECRET" {
			tokens = append(tokens, v)
		}
	}
	srv := dataversetest.NewServer(dataversetest.Options{Tokens: tokens, Tables: tables})
	defer srv.Close()
	u, _ := url.Parse(srv.URL())
	hosts, err := egress.NewHostPolicy(u.Hostname())
	if err != nil {
		t.Fatal(err)
	}
	h := connector.NewHandler(connector.Options{Hosts: hosts, SecretPrefix: "SECRET_", MaxOutputBytes: connector.DefaultMaxOutputBytes, Log: zerolog.Nop()})
	h.Secrets.Lookup = func(name string) (string, bool) {
		v, ok := secretValues()[name[len("SECRET_"):]]
		return v, ok
	}
	ctx := context.Background()
	for _, name := range []string{"getRow", "listRows"} {
		op := operations[name]
		t.Run(name, func(t *testing.T) {
			if op.jobType() != "dataverse:1" {
				t.Fatalf("job type %q, want dataverse:1", op.jobType())
			}
			vars, err := op.variants(ctx, &emulator{url: srv.URL()})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range jsonVariants(vars) {
				res, err := h.Handle(ctx, connector.Job{Type: op.jobType(), Variables: v, Headers: op.Headers, Deadline: time.Now().Add(time.Minute)})
				if err != nil {
					t.Fatalf("variant %d: %v", i, err)
				}
				for _, out := range op.Outputs {
					if _, ok := res.Variables[out]; !ok {
						t.Errorf("variant %d: no output %q in %v", i, out, res.Variables)
					}
				}
				if err := op.checkSample(mustJSON(res.Variables)); err != nil {
					t.Errorf("variant %d: %v", i, err)
				}
			}
		})
	}
}

// TestRowChecks: the checks reject what a broken run would complete with.
func TestRowChecks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		op, sample string
		ok         bool
	}{
		{"getRow", `{"contact":"Bench Contact 07"}`, true},
		{"getRow", `{"contact":null}`, false},
		{"getRow", `{"contact":"Someone Else"}`, false},
		{"listRows", `{"count":50,"first":"Bench Contact 00"}`, true},
		{"listRows", `{"count":49,"first":"Bench Contact 00"}`, false},
		{"listRows", `{"count":50,"first":"Bench Contact 49"}`, false},
	} {
		err := operations[c.op].checkSample(c.sample)
		if (err == nil) != c.ok {
			t.Errorf("%s %s: err = %v, want ok=%v", c.op, c.sample, err, c.ok)
		}
	}
}
