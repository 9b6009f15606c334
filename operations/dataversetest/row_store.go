package dataversetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// lookupRef is a lookup column's value: a row of another table.
type lookupRef struct {
	table string
	id    string
}

// row is one stored table row; guarded by Emulator.mu.
type row struct {
	id      string
	vals    map[string]any // column → string, int64, float64, bool, lookupRef; absent = null
	version int64
	seq     int64 // creation order, the default order of a listing
}

// rowStore holds every table's rows.
type rowStore struct {
	rows map[string]map[string]*row // table → id → row
	seq  int64
}

func newRowStore() *rowStore { return &rowStore{rows: map[string]map[string]*row{}} }

func (s *rowStore) get(table, id string) (*row, bool) {
	r, ok := s.rows[table][id]
	return r, ok
}

// sorted returns a table's rows in creation order.
func (s *rowStore) sorted(table string) []*row {
	out := make([]*row, 0, len(s.rows[table]))
	for _, r := range s.rows[table] {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// byKey finds the row whose alternate-key columns hold the given values.
func (s *rowStore) byKey(table string, key map[string]any) (*row, bool) {
	for _, r := range s.sorted(table) {
		match := true
		for c, v := range key {
			if !sameValue(r.vals[c], v) {
				match = false
				break
			}
		}
		if match {
			return r, true
		}
	}
	return nil, false
}

// sameValue compares stored values; strings compare case-insensitively, as
// Dataverse's default collation does.
func sameValue(a, b any) bool {
	if as, ok := a.(string); ok {
		bs, ok := b.(string)
		return ok && strings.EqualFold(as, bs)
	}
	if af, ok := toFloat(a); ok {
		bf, ok := toFloat(b)
		return ok && af == bf
	}
	return a == b
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// keyConflict reports the first alternate key whose values another row holds.
func (s *rowStore) keyConflict(t *table, id string, vals map[string]any) bool {
	for _, key := range t.AlternateKeys {
		want := map[string]any{}
		for _, c := range key {
			v, ok := vals[c]
			if !ok {
				want = nil
				break
			}
			want[c] = v
		}
		if want == nil {
			continue // a key with a null column is not enforced
		}
		if other, ok := s.byKey(t.LogicalName, want); ok && other.id != id {
			return true
		}
	}
	return false
}

var (
	errETagMismatch = newError(http.StatusPreconditionFailed, CodeETagMismatch, "The version of the existing record doesn't match the RowVersion property provided.")
	errDuplicate    = newError(http.StatusPreconditionFailed, CodeDuplicateRecord, "A record with matching key values already exists.")
)

// privilegeError is Dataverse's 403 for a missing privilege.
func privilegeError(t *table, priv, userID string) *odataError {
	return newError(http.StatusForbidden, CodePrivilegeDenied, fmt.Sprintf(
		"Principal user (Id=%s, type=8, roleCount=1, lobCount=0, accessMode=4), is missing prv%s%s privilege (Id=%s) on OTC=%d for entity '%s'. context.Caller=%s",
		userID, priv, t.LogicalName, t.metadata, t.otc, t.LogicalName, userID))
}

// insertLocked stores a new row with vals; the caller checked keys and existence.
func (e *Emulator) insertLocked(t *table, id string, vals map[string]any, now time.Time) *row {
	for _, name := range t.order {
		c := t.cols[name]
		if _, set := vals[name]; !set && c.Default != nil {
			vals[name] = c.Default
		}
	}
	if _, ok := t.cols["ownerid"]; ok {
		if _, set := vals["ownerid"]; !set {
			vals["ownerid"] = lookupRef{table: "systemuser", id: callerID}
		}
	}
	stamp := now.UTC().Format(time.RFC3339)
	vals["createdon"], vals["modifiedon"] = stamp, stamp
	e.store.seq++
	r := &row{id: id, vals: vals, seq: e.store.seq}
	e.stampLocked(t, r, now)
	if e.store.rows[t.LogicalName] == nil {
		e.store.rows[t.LogicalName] = map[string]*row{}
	}
	e.store.rows[t.LogicalName][id] = r
	return r
}

// updateLocked merges vals into r and gives it a new version.
func (e *Emulator) updateLocked(t *table, r *row, vals map[string]any, now time.Time) {
	for k, v := range vals {
		if v == nil {
			delete(r.vals, k)
		} else {
			r.vals[k] = v
		}
	}
	r.vals["modifiedon"] = now.UTC().Format(time.RFC3339)
	e.stampLocked(t, r, now)
}

// stampLocked gives r a new version and derives computed columns.
func (e *Emulator) stampLocked(t *table, r *row, _ time.Time) {
	r.version = e.nextVersionLocked()
	r.vals["versionnumber"] = r.version
	if _, ok := t.cols["fullname"]; ok && t.LogicalName != "systemuser" {
		first, _ := r.vals["firstname"].(string)
		last, _ := r.vals["lastname"].(string)
		if full := strings.TrimSpace(first + " " + last); full != "" {
			r.vals["fullname"] = full
		}
	}
}

func (r *row) etag() string { return "W/\"" + strconv.FormatInt(r.version, 10) + "\"" }

// primaryName is the value of the primary name column of a row, for
// formatted values of lookups.
func (e *Emulator) primaryNameLocked(ref lookupRef) any {
	t, ok := e.tables[ref.table]
	if !ok {
		return nil
	}
	r, ok := e.store.get(ref.table, ref.id)
	if !ok {
		return nil
	}
	return r.vals[t.PrimaryNameAttribute]
}

// seedLocked stores every table's seed rows: first the rows with their plain
// values, then their lookups, so seed rows may point at each other in any order.
func (e *Emulator) seedLocked() error {
	type pending struct {
		t     *table
		id    string
		binds map[string]any
	}
	var later []pending
	now := e.now()
	for _, name := range tableNames(e.tables) {
		t := e.tables[name]
		for i, seed := range t.Rows {
			plain, binds := map[string]any{}, map[string]any{}
			for k, v := range seed {
				if strings.HasSuffix(k, "@odata.bind") {
					binds[k] = v
				} else {
					plain[k] = v
				}
			}
			b, err := json.Marshal(plain)
			if err != nil {
				return fmt.Errorf("table %s: rows[%d]: %w", name, i, err)
			}
			body, perr := e.parseRowBodyLocked(t, b, "")
			if perr != nil {
				return fmt.Errorf("table %s: rows[%d]: %s", name, i, strings.TrimPrefix(perr.message, payloadErrorPrefix))
			}
			id := body.id
			if id == "" {
				id = newGUID()
			}
			if _, dup := e.store.get(name, id); dup || e.store.keyConflict(t, id, body.vals) {
				return fmt.Errorf("table %s: rows[%d]: %s", name, i, errDuplicate.message)
			}
			e.insertLocked(t, id, body.vals, now)
			if len(binds) > 0 {
				later = append(later, pending{t, id, binds})
			}
		}
	}
	for _, p := range later {
		b, _ := json.Marshal(p.binds)
		body, perr := e.parseRowBodyLocked(p.t, b, p.id)
		if perr != nil {
			return fmt.Errorf("table %s: row %s: %s", p.t.LogicalName, p.id, strings.TrimPrefix(perr.message, payloadErrorPrefix))
		}
		r, _ := e.store.get(p.t.LogicalName, p.id)
		e.updateLocked(p.t, r, body.vals, now)
	}
	return nil
}

// Validate reports what NewHandler would refuse in o: a table's column
// type, target table, key, privilege or seed row, an action's parameter
// type, or a cloud flow's auth or status.
func (o Options) Validate() error {
	e := &Emulator{opts: o.withDefaults()}
	var err error
	if t := o.Limits.TriggerThrottle; t != "" && t != ThrottleFailedRun && t != Throttle429 {
		return fmt.Errorf("limits.triggerThrottle %q is not %q or %q", t, ThrottleFailedRun, Throttle429)
	}
	if err = o.validateAppUsers(); err != nil {
		return err
	}
	for i, org := range o.Organizations {
		if origin(org) == "" {
			return fmt.Errorf("organizations[%d]: %q is not an http or https URL with a host", i, org)
		}
	}
	for id, f := range o.Flows {
		if _, ok := parseGUID(strings.Trim(id, "{}")); !ok {
			return fmt.Errorf("flows[%s]: the workflow id must be a GUID", id)
		}
		if err := checkVariables("flows["+id+"].inputSchema", f.InputSchema); err != nil {
			return err
		}
		if err := checkVariables("flows["+id+"].outputSchema", f.OutputSchema); err != nil {
			return err
		}
	}
	if err := checkConnections(o); err != nil {
		return err
	}
	if e.tables, err = compileTables(o.allTables()); err != nil {
		return err
	}
	if _, err = compileActions(o.Actions, e.tables); err != nil {
		return err
	}
	for id, f := range o.CloudFlows {
		if _, ok := parseGUID(id); !ok {
			return fmt.Errorf("cloudFlows[%s]: the flow id must be a GUID", id)
		}
		if f.Auth != "" && f.Auth != FlowAuthSAS && f.Auth != FlowAuthEntra {
			return fmt.Errorf("cloudFlows[%s].auth %q is not sas or entra", id, f.Auth)
		}
		if f.Status != 0 && f.Status != 200 && f.Status != 201 && f.Status != 202 {
			return fmt.Errorf("cloudFlows[%s].status %d is not 200, 201 or 202", id, f.Status)
		}
		if f.Polls < 0 || f.RetryAfter < 0 {
			return fmt.Errorf("cloudFlows[%s]: polls and retryAfter must not be negative", id)
		}
	}
	e.store = newRowStore()
	return e.seedLocked()
}

// allTables are the configured tables, the workflow rows of the flows and the connection references.
func (o Options) allTables() []Table {
	return append(append([]Table(nil), o.Tables...), workflowRows(o), connectionReferenceRows(o))
}

// Rows returns a table's rows (by logical name) in creation order, as the
// Web API renders them with every annotation; false if there is no such table.
func (e *Emulator) Rows(logicalName string) ([]map[string]any, bool) {
	t, ok := e.tables[logicalName]
	if !ok {
		return nil, false
	}
	e.mu.Lock()
	var objs []orderedObject
	for _, r := range e.store.sorted(logicalName) {
		objs = append(objs, e.renderRowLocked(t, r, nil, nil, prefer{annotations: "*"}, true))
	}
	e.mu.Unlock()
	out := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		b, _ := json.Marshal(o)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		out = append(out, m)
	}
	return out, true
}
