package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// The worker keeps under Dataverse's service-protection limits on its own: per identity
// (organization + caller) at most 48 requests in flight and 5,800 in 5 minutes, per connection
// 66 triggers a minute. One identity therefore sustains about 19 jobs/s, and one connection
// about one trigger a second: by design. To measure the worker rather than its limiter, jobs are
// spread over identities (static tokens for status jobs, OAuth clients for triggers) and
// connections, as a worker serving many processes and customers sees them.
const (
	identities  = 16  // distinct tokens / client ids
	connections = 240 // distinct connectionName values; 10,000 triggers = 42 per connection
)

// operation is one kind of job the benchmark runs.
type operation struct {
	Name string
	// JobType is the job type of the jobs against the fake gateway; empty: power-automate:1.
	JobType string
	// Headers are the service task's headers.
	Headers map[string]string
	// variants builds the jobs' variables against a (reset) emulator; job i gets variant i % len.
	variants func(ctx context.Context, e *emulator) ([]map[string]any, error)
	// Outputs are the variables the result expression sets and check reads.
	Outputs []string
	// check looks at the variables a completed job produced.
	check func(vars map[string]any) error
}

var operations = map[string]operation{
	// status: getStatusOfFlowRun with a static bearer token: one Dataverse GET per job.
	"status": {
		Name:    "status",
		Outputs: []string{"statusCode"},
		Headers: map[string]string{"resultExpression": "={statusCode: response.body.statuscode}"},
		variants: func(ctx context.Context, e *emulator) ([]map[string]any, error) {
			id, err := e.trigger(ctx)
			if err != nil {
				return nil, fmt.Errorf("starting the run the status jobs read: %w", err)
			}
			var vs []map[string]any
			for k := 0; k < identities; k++ {
				vs = append(vs, map[string]any{
					"operationType":   "getStatusOfFlowRun",
					"organizationUri": e.url,
					"authentication":  map[string]any{"type": "bearer", "token": fmt.Sprintf("{{secrets.DV_TOKEN_%d}}", k)},
					"flowSessionId":   id,
				})
			}
			return vs, nil
		},
		check: func(v map[string]any) error {
			if sc, _ := v["statusCode"].(float64); sc != 4 {
				return fmt.Errorf("statusCode = %v, want 4 (Succeeded)", v["statusCode"])
			}
			return nil
		},
	},
	// trigger: triggerFlowRun with OAuth client credentials: one Dataverse POST per job, a token
	// request per client id while its cached token is valid, and the worker records the started
	// run on the element instance (one SetVariables command) so a redelivered job does not
	// trigger twice.
	"trigger": {
		Name:    "trigger",
		Outputs: []string{"flowSessionId"},
		Headers: map[string]string{"resultExpression": "={flowSessionId: response.body.flowsessionId}"},
		variants: func(_ context.Context, e *emulator) ([]map[string]any, error) {
			var vs []map[string]any
			for c := 0; c < connections; c++ {
				vs = append(vs, map[string]any{
					"operationType":   "triggerFlowRun",
					"organizationUri": e.url,
					"authentication": map[string]any{
						"type":               "oauth-client-credentials-flow",
						"oauthTokenEndpoint": e.tokenURL(),
						"clientId":           fmt.Sprintf("%s-%d", clientID, c%identities),
						"clientSecret":       "{{secrets.DV_CLIENT_SECRET}}",
					},
					"workflowId":     workflowID,
					"connectionName": fmt.Sprintf("pa-bench-%d", c),
					"runMode":        "unattended",
				})
			}
			return vs, nil
		},
		check: func(v map[string]any) error {
			if id, _ := v["flowSessionId"].(string); len(id) != 36 {
				return fmt.Errorf("flowSessionId = %v, want a GUID", v["flowSessionId"])
			}
			return nil
		},
	},
	// getRow: dataverse:1 getRow of a contact by id with four columns (one a lookup, read back
	// as _parentcustomerid_value), a static bearer token: one Dataverse
	// GET per job (the table's metadata is read once per worker and cached).
	"getRow": {
		Name:    "getRow",
		Outputs: []string{"contact"},
		JobType: "dataverse:1",
		Headers: map[string]string{"resultExpression": "={contact: response.body.row.fullname}"},
		variants: func(_ context.Context, e *emulator) ([]map[string]any, error) {
			var vs []map[string]any
			for k := 0; k < benchContacts; k++ {
				vs = append(vs, map[string]any{
					"operationType":   "getRow",
					"organizationUri": e.url,
					"authentication":  map[string]any{"type": "bearer", "token": fmt.Sprintf("{{secrets.DV_TOKEN_%d}}", k%identities)},
					"table":           "contact",
					"rowId":           contactID(k),
					"select":          rowColumns,
				})
			}
			return vs, nil
		},
		check: func(v map[string]any) error {
			if name, _ := v["contact"].(string); !strings.HasPrefix(name, "Bench Contact ") {
				return fmt.Errorf("contact = %v, want a seeded contact's fullname", v["contact"])
			}
			return nil
		},
	},
	// listRows: dataverse:1 listRows of the 50 seeded contacts (filter, orderBy, the same four
	// columns), one page of 50 rows, a static bearer token: one Dataverse GET per job.
	"listRows": {
		Name:    "listRows",
		Outputs: []string{"count", "first"},
		JobType: "dataverse:1",
		Headers: map[string]string{"resultExpression": "={count: response.body.count, first: response.body.rows[1].fullname}"},
		variants: func(_ context.Context, e *emulator) ([]map[string]any, error) {
			var vs []map[string]any
			for k := 0; k < identities; k++ {
				vs = append(vs, map[string]any{
					"operationType":   "listRows",
					"organizationUri": e.url,
					"authentication":  map[string]any{"type": "bearer", "token": fmt.Sprintf("{{secrets.DV_TOKEN_%d}}", k)},
					"table":           "contact",
					"select":          rowColumns,
					"filter":          "statecode eq 0 and startswith(fullname,'Bench Contact')",
					"orderBy":         "fullname asc",
				})
			}
			return vs, nil
		},
		check: func(v map[string]any) error {
			if n, _ := v["count"].(float64); n != benchContacts {
				return fmt.Errorf("count = %v, want %d (one page of every seeded contact)", v["count"], benchContacts)
			}
			if first, _ := v["first"].(string); first != contactName(0) {
				return fmt.Errorf("first = %v, want %q (ordered by fullname)", v["first"], contactName(0))
			}
			return nil
		},
	},
}

// rowColumns are the columns the row jobs select.
var rowColumns = []string{"fullname", "emailaddress1", "jobtitle", "_parentcustomerid_value"}

// jobType is the job type the fake gateway hands out for op.
func (op operation) jobType() string {
	if op.JobType == "" {
		return "power-automate:1"
	}
	return op.JobType
}

// jsonVariants renders each variant once.
func jsonVariants(vs []map[string]any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = mustJSON(v)
	}
	return out
}

// checkSample parses a completed job's variables (JSON) and checks them.
func (op operation) checkSample(sample string) error {
	var v map[string]any
	if err := json.Unmarshal([]byte(sample), &v); err != nil {
		return fmt.Errorf("%s: completion variables %q: %w", op.Name, sample, err)
	}
	if err := op.check(v); err != nil {
		return fmt.Errorf("%s: completion variables: %w", op.Name, err)
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
