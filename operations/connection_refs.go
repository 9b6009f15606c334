package operations

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OpGetConnectionReference reads a connectionreference row before a trigger that names one.
const OpGetConnectionReference Op = "getConnectionReference"

// DesktopFlowsConnector is the connector id of desktop-flow connections: a connection
// reference RunDesktopFlow can use has this connectorid.
const DesktopFlowsConnector = "/providers/Microsoft.PowerApps/apis/shared_uiflow"

// ConnectionTypeReference is RunDesktopFlow's connectionType of a connection reference's
// logical name (1 is a connection's name).
const ConnectionTypeReference = 2

// DefaultReferenceTTL is how long a usable connection reference is used before it is read again.
const DefaultReferenceTTL = 5 * time.Minute

// ConnectionReference is a connectionreference row as a trigger needs it.
type ConnectionReference struct {
	LogicalName  string
	ConnectionID string // "" when the reference has no connection set
	ConnectorID  string
	Active       bool // statecode 0
}

// problem says why the reference cannot run a desktop flow and how to fix it; "" when it can.
func (r *ConnectionReference) problem(who string) string {
	switch {
	case !strings.EqualFold(r.ConnectorID, DesktopFlowsConnector):
		return fmt.Sprintf("connection reference %q is for the connector %s, not for desktop flows: use a reference of the Desktop flows connector (%s)", r.LogicalName, r.ConnectorID, DesktopFlowsConnector)
	case !r.Active:
		return fmt.Sprintf("connection reference %q is inactive: activate it in its solution", r.LogicalName)
	case r.ConnectionID == "":
		return fmt.Sprintf("connection reference %q has no connection: open it in its solution, select a desktop flow connection (machine or machine group) and share that connection with %s", r.LogicalName, who)
	}
	return ""
}

// Who names the identity Dataverse sees for a hint: the application user of a client id, or
// the bearer token's user.
func Who(clientID string) string {
	if clientID == "" {
		return "the user of the bearer token"
	}
	return "the application user of client " + clientID
}

// References caches connection references per organization and logical name for all jobs: a
// burst of triggers naming one reference reads it once per TTL (concurrent reads share one
// request). Only a usable reference is kept: one that is missing or unusable is read again by
// the next trigger, so fixing it in the solution is seen at once. The zero value is ready to use.
type References struct {
	TTL time.Duration // default DefaultReferenceTTL
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]refEntry
	loads   map[string]*refLoad
}

type refEntry struct {
	ref    *ConnectionReference // nil: no such row
	loaded time.Time
}

type refLoad struct {
	done  chan struct{}
	entry refEntry
	err   error
}

// Check reads the connectionreference row logicalName names (cached) and reports why a
// desktop flow cannot run with it as an *InputError on connectionName saying what to fix: no
// such row, another connector, inactive, no connection. who names the caller for the hints
// (see Who). A row that cannot be read fails as any read.
func (s *References) Check(ctx context.Context, c Caller, org, logicalName, who string) error {
	e, err := s.entry(ctx, c, org, logicalName)
	if err != nil {
		return err
	}
	if e.ref == nil {
		return &InputError{Field: "connectionName", Msg: fmt.Sprintf("connection reference %q does not exist in %s (no connectionreference row has that logical name): create it in the desktop flow's solution with the Desktop flows connector, set its connection and share that connection with %s, or give a connection's name with connectionType 1", logicalName, org, who)}
	}
	if p := e.ref.problem(who); p != "" {
		return &InputError{Field: "connectionName", Msg: p}
	}
	return nil
}

// Forget drops a cached reference, e.g. after Dataverse refused a trigger on its connection.
func (s *References) Forget(org, logicalName string) {
	s.mu.Lock()
	delete(s.entries, refKey(org, logicalName))
	s.mu.Unlock()
}

func refKey(org, logicalName string) string {
	return strings.ToLower(strings.TrimRight(org, "/")) + "|" + strings.ToLower(logicalName)
}

func (s *References) entry(ctx context.Context, c Caller, org, logicalName string) (refEntry, error) {
	key := refKey(org, logicalName)
	s.mu.Lock()
	if e, ok := s.entries[key]; ok && s.now().Sub(e.loaded) < s.ttl() {
		s.mu.Unlock()
		return e, nil
	}
	if l := s.loads[key]; l != nil {
		s.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return refEntry{}, fmt.Errorf("reading connection reference %q: %w", logicalName, ctx.Err())
		}
		if l.err == nil {
			return l.entry, nil
		}
		// The read failed with another job's credentials or deadline: read with this one's.
		return s.read(ctx, c, org, logicalName, key, nil)
	}
	l := &refLoad{done: make(chan struct{})}
	if s.loads == nil {
		s.loads = map[string]*refLoad{}
	}
	s.loads[key] = l
	s.mu.Unlock()
	return s.read(ctx, c, org, logicalName, key, l)
}

func (s *References) read(ctx context.Context, c Caller, org, logicalName, key string, l *refLoad) (e refEntry, err error) {
	if l != nil {
		defer func() {
			l.entry, l.err = e, err
			s.mu.Lock()
			delete(s.loads, key)
			s.mu.Unlock()
			close(l.done)
		}()
	}
	res, err := c.Do(ctx, ReferenceCall(org, logicalName))
	if err != nil {
		return refEntry{}, fmt.Errorf("reading connection reference %q: %w", logicalName, err)
	}
	body, _ := res.Body.(map[string]any)
	rows, _ := body["value"].([]any)
	e.loaded = s.now()
	if len(rows) > 0 {
		row, _ := rows[0].(map[string]any)
		e.ref = &ConnectionReference{LogicalName: logicalName}
		if n, _ := row["connectionreferencelogicalname"].(string); n != "" {
			e.ref.LogicalName = n
		}
		e.ref.ConnectionID, _ = row["connectionid"].(string)
		e.ref.ConnectorID, _ = row["connectorid"].(string)
		state, _ := row["statecode"].(int64)
		e.ref.Active = state == 0
	}
	if e.ref != nil && e.ref.problem("") == "" {
		s.mu.Lock()
		if s.entries == nil {
			s.entries = map[string]refEntry{}
		}
		s.entries[key] = e
		s.mu.Unlock()
	}
	return e, nil
}

// ReferenceCall is the read of the connectionreference row with a logical name.
func ReferenceCall(org, logicalName string) Call {
	q := url.Values{
		"$select": {"connectionreferencelogicalname,connectionid,connectorid,statecode"},
		"$filter": {"connectionreferencelogicalname eq " + quoteString(logicalName)},
	}
	return Call{Op: OpGetConnectionReference, Method: http.MethodGet,
		URL: base(org) + "/connectionreferences?" + strings.ReplaceAll(q.Encode(), "+", "%20"), Header: jsonHeader(false)}
}

func (s *References) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultReferenceTTL
}

func (s *References) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
