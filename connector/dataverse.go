package connector

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations"
)

// rowsFunc runs one dataverse:1 operation through rows and returns its result (response.body).
type rowsFunc func(ctx context.Context, rows *operations.Rows) (map[string]any, error)

// bindDataverse turns dataverse:1's variables into a rows call: the operation's declared fields
// are bound and checked (bindOperation), then dataverseOps builds the call.
func bindDataverse(v map[string]any) (*bound, error) {
	opName, b, val, err := bindOperation(v, spec.Dataverse, func(name string) bool { return dataverseOps[name] != nil })
	if err != nil {
		return nil, err
	}
	// The call's URL is the organization's: the host the handler checks before any request.
	b.call = operations.Call{Op: operations.Op(opName), URL: b.org + "/"}
	b.rows = dataverseOps[opName](val)
	b.etag = val.text(spec.IfMatch) != "" && val.text(spec.IfMatch) != "*"
	return b, nil
}

// dataverseOps build each declared dataverse:1 operation from its bound fields. Every operation
// spec.Dataverse declares has one, and only those (TestEveryDeclaredOperationHasAHandler).
var dataverseOps = map[string]func(values) rowsFunc{
	spec.OpGetRow: func(v values) rowsFunc {
		req := operations.GetRowRequest{Table: v.text(spec.Table), RowID: v[spec.RowID], Expand: v.text(spec.Expand)}
		if s, ok := v[spec.Select].([]string); ok {
			req.Select = s
		}
		return func(ctx context.Context, r *operations.Rows) (map[string]any, error) { return r.GetRow(ctx, req) }
	},
	spec.OpCreateRow: func(v values) rowsFunc {
		table, row := v.text(spec.Table), v.context(spec.Row)
		return func(ctx context.Context, r *operations.Rows) (map[string]any, error) {
			return r.CreateRow(ctx, table, row)
		}
	},
	spec.OpUpdateRow: func(v values) rowsFunc {
		table, id, row, ifMatch := v.text(spec.Table), v[spec.RowID], v.context(spec.Row), v.text(spec.IfMatch)
		return func(ctx context.Context, r *operations.Rows) (map[string]any, error) {
			return r.UpdateRow(ctx, table, id, row, ifMatch)
		}
	},
	spec.OpUpsertRow: func(v values) rowsFunc {
		table, id, row := v.text(spec.Table), v[spec.RowID], v.context(spec.Row)
		return func(ctx context.Context, r *operations.Rows) (map[string]any, error) {
			return r.UpsertRow(ctx, table, id, row)
		}
	},
	spec.OpPerformAction: func(v values) rowsFunc {
		req := operations.ActionRequest{Action: v.text(spec.Action), Table: v.text(spec.Table), RowID: v[spec.RowID], Parameters: v.context(spec.Parameters)}
		return func(ctx context.Context, r *operations.Rows) (map[string]any, error) {
			return r.PerformAction(ctx, req)
		}
	},
	spec.OpDeleteRow: func(v values) rowsFunc {
		table, id, ifMatch := v.text(spec.Table), v[spec.RowID], v.text(spec.IfMatch)
		return func(ctx context.Context, r *operations.Rows) (map[string]any, error) {
			return r.DeleteRow(ctx, table, id, ifMatch)
		}
	},
	spec.OpListRows: func(v values) rowsFunc {
		req := operations.ListRowsRequest{Table: v.text(spec.Table), Filter: v.text(spec.Filter), OrderBy: v.text(spec.OrderBy),
			Expand: v.text(spec.Expand), Top: int(v.int(spec.Top)), PageSize: int(v.int(spec.PageSize)), MaxRows: int(v.int(spec.MaxRows))}
		if s, ok := v[spec.Select].([]string); ok {
			req.Select = s
		}
		req.IncludeFormattedValues, _ = v[spec.IncludeFormattedValues].(bool)
		return func(ctx context.Context, r *operations.Rows) (map[string]any, error) { return r.ListRows(ctx, req) }
	},
}

func (v values) context(f *spec.Field) map[string]any { m, _ := v[f].(map[string]any); return m }

// runRows runs a dataverse:1 operation over the client stack desktop flows use (auth, limits,
// 429 waits, metrics); the tables' metadata is cached per organization for all jobs.
func (h *Handler) runRows(ctx context.Context, job Job, b *bound) (*operations.Response, error) {
	e := egress.Egress{Base: h.Transport, Tokens: h.Tokens, Limits: h.Limits, Observe: h.Observe,
		OnThrottle: h.OnThrottle, MaxThrottleWaits: h.MaxThrottleWaits, Now: h.Now}
	r := egress.Route{Op: b.call.Op, Credentials: b.creds, OnToken: b.sentToken, Timeout: b.timeout, Deadline: job.deadline}
	if h.Limits != nil && b.org != "" {
		r.Identity = egress.Identity(b.org, b.creds)
	}
	doer := guardedDoer{next: e.Client(r), guard: func(req *http.Request) error {
		if req.Method == http.MethodGet {
			return nil // the table's metadata, a read
		}
		return guard(req.Context(), job, b, b.call.Op)
	}}
	rows := &operations.Rows{Client: &operations.Client{HTTP: doer, Redact: h.Live.Value}, Org: b.org, Tables: h.tables()}
	body, err := b.rows(ctx, rows)
	if err != nil {
		return nil, err
	}
	return &operations.Response{Status: 200, Body: body}, nil
}

// guardedDoer runs guard before each request it sends: a write that cannot be repeated
// (createRow, performAction, an ETag-conditional update or delete) is held first, so that
// nothing hands its job back once it may have reached Dataverse.
type guardedDoer struct {
	next  operations.Doer
	guard func(*http.Request) error
}

func (d guardedDoer) Do(req *http.Request) (*http.Response, error) {
	if err := d.guard(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return d.next.Do(req)
}

var tablesMu sync.Mutex

// tables is the handler's cache of table metadata, made on first use.
func (h *Handler) tables() *operations.Tables {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	if h.Tables == nil {
		h.Tables = &operations.Tables{}
	}
	return h.Tables
}

// rowsInput is an *operations.InputError (a table that does not exist, a bad rowId or lookup)
// as the incident's message says it.
func rowsInput(err *operations.InputError) error {
	return Permanent(fmt.Errorf("invalid input: %w", err))
}
