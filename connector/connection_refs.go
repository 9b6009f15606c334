package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/pa-connector/pa-connector/operations"
)

// checkReference resolves a trigger's connection reference (connectionType 2) before anything
// runs: a reference that is missing, of another connector, inactive or without a connection is
// an *operations.InputError on connectionName saying which and how to fix it (an incident, no
// run); a row that cannot be read fails as any Dataverse read does.
func (h *Handler) checkReference(ctx context.Context, job Job, hd headers, b *bound) error {
	if b.body.ConnectionType != operations.ConnectionTypeReference {
		return nil
	}
	send := callerFunc(func(ctx context.Context, call operations.Call) (*operations.Response, error) {
		return h.send(ctx, job, hd, b, call)
	})
	return h.references().Check(ctx, send, b.org, b.body.ConnectionName, operations.Who(b.clientID()))
}

// connectionRefused turns Dataverse's refusal of a trigger because of its connection (a 400,
// 403 or 404 whose message is about the connection: unknown, not shared, a reference without
// one) into an input error on connectionName (Dataverse's answer stays in its chain) saying which connection and how to fix it. Other
// errors are returned as they are.
func (h *Handler) connectionRefused(b *bound, err error) error {
	var he *operations.HTTPError
	if b.body.ConnectionName == "" || !errors.As(err, &he) || he.Op != operations.OpTrigger ||
		(he.Status != http.StatusBadRequest && he.Status != http.StatusForbidden && he.Status != http.StatusNotFound) ||
		!strings.Contains(strings.ToLower(he.Message), "connection") {
		return err
	}
	what := fmt.Sprintf("connection %q", b.body.ConnectionName)
	if b.body.ConnectionType == operations.ConnectionTypeReference {
		what = fmt.Sprintf("connection reference %q", b.body.ConnectionName)
		h.references().Forget(b.org, b.body.ConnectionName)
	}
	fix := "check that the connection exists in this environment (Power Automate, Connections, Desktop flows) and is shared with " + operations.Who(b.clientID())
	if he.Status == http.StatusForbidden {
		fix = "share the connection with " + operations.Who(b.clientID())
	}
	return &connectionError{input: &operations.InputError{Field: "connectionName", Msg: fmt.Sprintf("Dataverse refused the trigger on %s (%d %s: %s): %s; no run started",
		what, he.Status, he.Code, excerpt(he.Message, 300), fix)}, answer: he}
}

// connectionError is Dataverse's refusal of a trigger's connection: an input error for the
// outcome (an incident saying what to fix) that keeps Dataverse's answer for error expressions.
type connectionError struct {
	input  *operations.InputError
	answer *operations.HTTPError
}

func (e *connectionError) Error() string   { return e.input.Error() }
func (e *connectionError) Unwrap() []error { return []error{e.input, e.answer} }

var referencesMu sync.Mutex

// references is the handler's cache of connection references, made on first use.
func (h *Handler) references() *operations.References {
	referencesMu.Lock()
	defer referencesMu.Unlock()
	if h.References == nil {
		h.References = &operations.References{}
	}
	return h.References
}

// clientID is the client id of client-credentials authentication; "" for a bearer token.
func (b *bound) clientID() string {
	if b.creds == nil {
		return ""
	}
	return b.creds.ClientID
}
