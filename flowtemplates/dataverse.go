package flowtemplates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/pa-connector/pa-connector/connector"
	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/secrets"
)

// Dataverse reads the flows through the worker's own job handler: each read is a
// power-automate:1 job (listDesktopFlows, getDesktopFlowSchema) with the variables a task would
// give it, so organizationUri, authentication, {{secrets.NAME}} placeholders, the allowed hosts
// and the token cache work exactly as they do for the worker.
type Dataverse struct {
	Handler *connector.Handler
	// Vars are the job variables every read takes: organizationUri and authentication.
	Vars map[string]any
	// Live scrubs the secrets a read holds from its errors.
	Live *secrets.Registry
}

// jobTimeout bounds one read (its requests are bounded by connectionTimeoutInSeconds too).
const jobTimeout = 2 * time.Minute

// run runs one operation as a job and decodes the response body into out.
func (d Dataverse) run(ctx context.Context, op string, vars map[string]any, out any) error {
	all := maps.Clone(d.Vars)
	maps.Copy(all, vars)
	all["operationType"] = op
	raw, err := json.Marshal(all)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	job := connector.Job{Type: spec.PowerAutomate.Type, Retries: 1, Deadline: time.Now().Add(jobTimeout),
		Headers: map[string]string{spec.ResultVariable.Name: "response"}, Variables: string(raw), Secrets: d.Live.NewSet()}
	defer job.Secrets.Release()
	res, err := d.Handler.Handle(ctx, job)
	if err != nil {
		return errors.New(d.Live.Message(err.Error()))
	}
	response, _ := res.Variables["response"].(map[string]any)
	body, err := json.Marshal(response["body"])
	if err != nil {
		return fmt.Errorf("%s: answer: %w", op, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: unexpected answer: %w", op, err)
	}
	return nil
}

// List lists the desktop flows (listDesktopFlows).
func (d Dataverse) List(ctx context.Context, includeDrafts bool) ([]Flow, error) {
	var body struct {
		Flows []Flow `json:"flows"`
	}
	if err := d.run(ctx, spec.OpListFlows, map[string]any{spec.IncludeDrafts.Name: includeDrafts}, &body); err != nil {
		return nil, err
	}
	return body.Flows, nil
}

// Schema reads a flow's schemas (getDesktopFlowSchema).
func (d Dataverse) Schema(ctx context.Context, f Flow) (spec.DesktopFlow, error) {
	var body struct {
		Inputs  map[string]any `json:"inputs"`
		Outputs map[string]any `json:"outputs"`
	}
	if err := d.run(ctx, spec.OpFlowSchema, map[string]any{spec.WorkflowID.Name: f.WorkflowID}, &body); err != nil {
		return spec.DesktopFlow{}, err
	}
	return spec.DesktopFlow{WorkflowID: f.WorkflowID, Name: f.Name, Description: f.Description,
		Inputs: operations.ParseSchema(body.Inputs), HasInputs: body.Inputs != nil,
		Outputs: operations.ParseSchema(body.Outputs), HasOutputs: body.Outputs != nil}, nil
}
