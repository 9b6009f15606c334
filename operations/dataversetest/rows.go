package dataversetest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Operation names of table rows, metadata and actions (Call.Op, Fault.Op).
const (
	OpCreateRow   = "CreateRow"
	OpRetrieveRow = "RetrieveRow"
	OpListRows    = "ListRows"
	OpUpdateRow   = "UpdateRow" // PATCH: update or upsert
	OpDeleteRow   = "DeleteRow"
	OpMetadata    = "EntityDefinitions"
	OpAction      = "Action"
)

// maxRowBodyBytes bounds a create or update body.
const maxRowBodyBytes = 4 << 20

// classify names the row, metadata and action operations parseRoute does
// not know, by the tables and actions the emulator has.
func (e *Emulator) classify(r *http.Request, rt route) route {
	if !rt.api || rt.op != OpOther {
		return rt
	}
	rest := strings.TrimPrefix(r.URL.Path, apiPrefix)
	if rest == "EntityDefinitions" || strings.HasPrefix(rest, "EntityDefinitions(") {
		rt.op = OpMetadata
		return rt
	}
	set, key, tail, ok := splitRowPath(rest)
	if !ok {
		return rt
	}
	if t := e.tableBySet(set); t != nil {
		rt.set, rt.key, rt.tail, rt.table = set, key, tail, t
		switch {
		case strings.HasPrefix(tail, "/Microsoft.Dynamics.CRM.") && key != "":
			rt.op, rt.method = OpAction, http.MethodPost
		case tail != "":
		case key == "" && r.Method == http.MethodPost:
			rt.op, rt.method = OpCreateRow, http.MethodPost
		case key == "":
			rt.op, rt.method = OpListRows, http.MethodGet
		case r.Method == http.MethodPatch:
			rt.op, rt.method = OpUpdateRow, http.MethodPatch
		case r.Method == http.MethodDelete:
			rt.op, rt.method = OpDeleteRow, http.MethodDelete
		default:
			rt.op, rt.method = OpRetrieveRow, http.MethodGet
		}
		return rt
	}
	if key == "" && tail == "" && e.actions[strings.TrimPrefix(set, "Microsoft.Dynamics.CRM.")] != nil {
		rt.op, rt.method, rt.set = OpAction, http.MethodPost, set
	}
	return rt
}

// splitRowPath splits "set(key)/tail" with quotes in the key respected.
func splitRowPath(rest string) (set, key, tail string, ok bool) {
	open := strings.IndexByte(rest, '(')
	if open < 0 {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[:i], "", rest[i:], true
		}
		return rest, "", "", rest != ""
	}
	inQuote := false
	for i := open + 1; i < len(rest); i++ {
		switch rest[i] {
		case '\'':
			inQuote = !inQuote
		case ')':
			if !inQuote {
				return rest[:open], rest[open+1 : i], rest[i+1:], open > 0
			}
		}
	}
	return "", "", "", false
}

// readBody reads a request body up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *odataError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("The request body is larger than the maximum of %d bytes.", limit))
		}
		return nil, payloadError("Invalid JSON. The request body could not be read.")
	}
	return b, nil
}

// entityID is the OData-EntityId of a row.
func entityID(r *http.Request, t *table, id string) string {
	return orgURL(r) + apiPrefix + t.EntitySetName + "(" + id + ")"
}

func metadataURL(r *http.Request) string { return orgURL(r) + apiPrefix + "$metadata#" }

// serveRows answers the row operations of one table.
func (e *Emulator) serveRows(w http.ResponseWriter, r *http.Request, rt route) {
	t := rt.table
	if rt.tail != "" {
		seg := strings.Split(strings.TrimPrefix(rt.tail, "/"), "/")[0]
		writeError(w, newError(http.StatusNotFound, CodeResourceNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", seg)))
		return
	}
	if rt.key == "" && r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, methodNotAllowed(r))
		return
	}
	if rt.key != "" && r.Method != http.MethodGet && r.Method != http.MethodPatch && r.Method != http.MethodDelete {
		wrongMethod(w, r)
		return
	}
	p, perr := parsePrefer(r.Header)
	if perr != nil {
		writeError(w, perr)
		return
	}
	switch rt.op {
	case OpCreateRow:
		e.serveCreate(w, r, t, p)
	case OpListRows:
		e.serveList(w, r, t, p)
	case OpRetrieveRow:
		e.serveRetrieve(w, r, t, rt.key, p)
	case OpUpdateRow:
		e.serveUpdate(w, r, t, rt.key, p)
	case OpDeleteRow:
		e.serveDelete(w, r, t, rt.key)
	}
}

// answerRow writes the representation of a row after a write, or 204.
func (e *Emulator) answerRow(w http.ResponseWriter, r *http.Request, t *table, rw *row, p prefer, status int) {
	w.Header().Set("OData-EntityId", entityID(r, t, rw.id))
	if !p.representation {
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q, qerr := e.parseQuery(t, r.URL.Query(), false)
	if qerr != nil {
		writeError(w, qerr)
		return
	}
	e.mu.Lock()
	obj := e.renderRowLocked(t, rw, q.sel, q.expand, p, true)
	e.mu.Unlock()
	w.Header().Set("Preference-Applied", "return=representation")
	w.Header().Set("ETag", rw.etag())
	writeJSON(w, status, append(orderedObject{{"@odata.context", metadataURL(r) + t.EntitySetName + q.contextCols() + "/$entity"}}, obj...))
}

func (e *Emulator) serveCreate(w http.ResponseWriter, r *http.Request, t *table, p prefer) {
	if t.denies(PrivCreate) {
		writeError(w, privilegeError(t, PrivCreate, callerID))
		return
	}
	body, berr := readBody(w, r, maxRowBodyBytes)
	if berr != nil {
		writeError(w, berr)
		return
	}
	e.mu.Lock()
	b, err := e.parseRowBodyLocked(t, body, "")
	if err == nil {
		id := b.id
		if id == "" {
			id = newGUID()
		}
		if _, dup := e.store.get(t.LogicalName, id); dup || e.store.keyConflict(t, id, b.vals) {
			err = errDuplicate
		} else {
			rw := e.insertLocked(t, id, b.vals, e.now())
			snapshot := *rw
			e.mu.Unlock()
			e.answerRow(w, r, t, &snapshot, p, http.StatusCreated)
			return
		}
	}
	e.mu.Unlock()
	writeError(w, err)
}

func (e *Emulator) serveRetrieve(w http.ResponseWriter, r *http.Request, t *table, key string, p prefer) {
	if t.denies(PrivRead) {
		writeError(w, privilegeError(t, PrivRead, callerID))
		return
	}
	q, err := e.parseQuery(t, r.URL.Query(), false)
	if err != nil {
		writeError(w, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rw, err := e.findRowLocked(t, key)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("ETag", rw.etag())
	// Documented: no 304 when the query expands or asks for annotations.
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm != "null" && len(q.expand) == 0 && p.annotations == "" && (inm == rw.etag() || inm == "*") {
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if p.annotations != "" {
		w.Header().Set("Preference-Applied", `odata.include-annotations="`+p.annotations+`"`)
	}
	obj := e.renderRowLocked(t, rw, q.sel, q.expand, p, true)
	writeJSON(w, http.StatusOK, append(orderedObject{{"@odata.context", metadataURL(r) + t.EntitySetName + q.contextCols() + "/$entity"}}, obj...))
}

// serveUpdate is PATCH on a row: an update when it exists, otherwise an
// upsert that creates it. If-Match: * (or an ETag) forbids the create,
// If-None-Match: * forbids the update.
func (e *Emulator) serveUpdate(w http.ResponseWriter, r *http.Request, t *table, key string, p prefer) {
	k, kerr := parseRowKey(t, key)
	if kerr != nil {
		writeError(w, kerr)
		return
	}
	body, berr := readBody(w, r, maxRowBodyBytes)
	if berr != nil {
		writeError(w, berr)
		return
	}
	ifMatch, ifNoneMatch := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	if ifNoneMatch == "null" {
		ifNoneMatch = ""
	}
	e.mu.Lock()
	existing, found := e.lookupKeyLocked(t, k)
	fail := func(err *odataError) {
		e.mu.Unlock()
		writeError(w, err)
	}
	switch {
	case found && t.denies(PrivWrite):
		fail(privilegeError(t, PrivWrite, callerID))
		return
	case !found && (ifMatch != "" || t.denies(PrivCreate)):
		if ifMatch != "" {
			fail(notFoundKey(t, k))
		} else {
			fail(privilegeError(t, PrivCreate, callerID))
		}
		return
	case found && ifNoneMatch == "*":
		fail(errDuplicate)
		return
	case found && ifMatch != "" && ifMatch != "*" && ifMatch != existing.etag():
		fail(errETagMismatch)
		return
	}
	id := k.id
	if found {
		id = existing.id
	}
	b, err := e.parseRowBodyLocked(t, body, id)
	if err != nil {
		fail(err)
		return
	}
	if !found {
		if id == "" {
			id = b.id
		}
		if id == "" {
			id = newGUID()
		}
		for c, v := range k.alt {
			if _, set := b.vals[c]; !set {
				b.vals[c] = v
			}
		}
	}
	if e.store.keyConflict(t, id, mergeVals(existing, b.vals)) {
		fail(errDuplicate)
		return
	}
	var rw *row
	status := http.StatusOK
	if found {
		e.updateLocked(t, existing, b.vals, e.now())
		rw = existing
	} else {
		for c, v := range b.vals {
			if v == nil {
				delete(b.vals, c)
			}
		}
		rw = e.insertLocked(t, id, b.vals, e.now())
		status = http.StatusCreated
	}
	snapshot := *rw
	e.mu.Unlock()
	e.answerRow(w, r, t, &snapshot, p, status)
}

// mergeVals is what a row's values become after an update.
func mergeVals(r *row, vals map[string]any) map[string]any {
	out := map[string]any{}
	if r != nil {
		for k, v := range r.vals {
			out[k] = v
		}
	}
	for k, v := range vals {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func (e *Emulator) serveDelete(w http.ResponseWriter, r *http.Request, t *table, key string) {
	e.mu.Lock()
	rw, err := e.findRowLocked(t, key)
	switch {
	case err != nil:
	case t.denies(PrivDelete):
		err = privilegeError(t, PrivDelete, callerID)
	case r.Header.Get("If-Match") != "" && r.Header.Get("If-Match") != "*" && r.Header.Get("If-Match") != rw.etag():
		err = errETagMismatch
	default:
		delete(e.store.rows[t.LogicalName], rw.id)
	}
	e.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
}

// serveList is GET on an entity set: $select, $filter, $orderby, $top,
// $expand and $count, paged by Prefer: odata.maxpagesize (default 5,000)
// with @odata.nextLink carrying a $skiptoken paging cookie.
func (e *Emulator) serveList(w http.ResponseWriter, r *http.Request, t *table, p prefer) {
	if t.denies(PrivRead) {
		writeError(w, privilegeError(t, PrivRead, callerID))
		return
	}
	q, err := e.parseQuery(t, r.URL.Query(), true)
	if err != nil {
		writeError(w, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var match []*row
	for _, rw := range e.store.sorted(t.LogicalName) {
		if hiddenDraft(r, t, rw) {
			continue
		}
		if q.filter == nil || evalFilter(t, q.filter, rw.vals) {
			match = append(match, rw)
		}
	}
	orderRows(match, q.orderBy)
	total := len(match)
	pageSize := DefaultPageSize
	if p.maxPageSize > 0 {
		pageSize = p.maxPageSize
	}
	var applied []string
	next := ""
	if q.top >= 0 {
		// $top limits the result; Dataverse does not page it.
		match = match[:min(q.top, len(match))]
	} else {
		if p.maxPageSize > 0 {
			applied = append(applied, fmt.Sprintf("odata.maxpagesize=%d", pageSize))
		}
		start := min((q.page-1)*pageSize, len(match))
		end := min(start+pageSize, len(match))
		if end < len(match) {
			next = nextLink(r, q.page+1)
		}
		match = match[start:end]
	}
	if p.annotations != "" {
		applied = append(applied, `odata.include-annotations="`+p.annotations+`"`)
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ","))
	}
	values := make([]any, 0, len(match))
	for _, rw := range match {
		values = append(values, e.renderRowLocked(t, rw, q.sel, q.expand, p, true))
	}
	obj := orderedObject{{"@odata.context", metadataURL(r) + t.EntitySetName + q.contextCols()}}
	if q.count {
		obj = append(obj, kv{"@odata.count", total})
	}
	obj = append(obj, kv{"value", values})
	if next != "" {
		obj = append(obj, kv{"@odata.nextLink", next})
	}
	writeJSON(w, http.StatusOK, obj)
}

// nextLink is the request's URL with a $skiptoken for page n.
func nextLink(r *http.Request, n int) string {
	q := r.URL.Query()
	q.Del("$skiptoken")
	cookie := fmt.Sprintf(`<cookie pagenumber="%d" istracking="False" />`, n)
	enc := q.Encode()
	if enc != "" {
		enc += "&"
	}
	return orgURL(r) + r.URL.Path + "?" + enc + "$skiptoken=" + url.QueryEscape(cookie)
}
