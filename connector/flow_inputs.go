package connector

import (
	"context"
	"fmt"
	"sync"

	"github.com/pa-connector/pa-connector/operations"
)

// checkInputs checks a trigger's runInputs against the desktop flow's input schema before
// anything runs: an input the schema refuses is an *operations.InputError naming it (an
// incident); a schema that cannot be read fails as any Dataverse read does. Values are never
// logged or quoted.
func (h *Handler) checkInputs(ctx context.Context, job Job, hd headers, b *bound) error {
	inputs, err := operations.DecodeInputs(b.body.Inputs)
	if err != nil {
		return err
	}
	send := callerFunc(func(ctx context.Context, call operations.Call) (*operations.Response, error) {
		return h.send(ctx, job, hd, b, call)
	})
	err = h.schemas().Check(ctx, send, b.org, b.workflow, inputs)
	if _, refused := err.(*operations.InputError); err != nil && !refused {
		return fmt.Errorf("%w (validateInputs: false triggers without this check)", err)
	}
	return err
}

// callerFunc is a function that sends one call, as operations' caches want it.
type callerFunc func(context.Context, operations.Call) (*operations.Response, error)

func (f callerFunc) Do(ctx context.Context, c operations.Call) (*operations.Response, error) {
	return f(ctx, c)
}

var schemasMu sync.Mutex

// schemas is the handler's cache of desktop flows' input schemas, made on first use.
func (h *Handler) schemas() *operations.Schemas {
	schemasMu.Lock()
	defer schemasMu.Unlock()
	if h.Schemas == nil {
		h.Schemas = &operations.Schemas{}
	}
	return h.Schemas
}
