package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// The dataverse:1 operations, named as the element template's operationType.
const (
	OpCreateRow     Op = "createRow"
	OpGetRow        Op = "getRow"
	OpListRows      Op = "listRows"
	OpUpdateRow     Op = "updateRow"
	OpUpsertRow     Op = "upsertRow"
	OpDeleteRow     Op = "deleteRow"
	OpPerformAction Op = "performAction"
)

// Paging bounds of listRows.
const (
	DefaultPageSize = 500
	MaxPageSize     = 5000 // Dataverse's largest page
	DefaultMaxRows  = 5000
)

// Rows runs the row and action operations of one organization. Each method returns the
// operation's result (response.body) as the job sees it. Failures are an *InputError naming the
// variable, an *HTTPError with Dataverse's status, code and message, or a *TransportError.
type Rows struct {
	Client Caller // *Client: sends through the egress stack (auth, limits, 429 waits)
	Org    string // organization URL
	Tables *Tables
}

func (r *Rows) table(ctx context.Context, name string) (*Table, error) {
	return r.Tables.Resolve(ctx, r.Client, r.Org, name)
}

func (r *Rows) rowURL(ctx context.Context, table string, rowID any) (*Table, string, error) {
	t, err := r.table(ctx, table)
	if err != nil {
		return nil, "", err
	}
	key, err := KeySegment("rowId", rowID, t.PrimaryID)
	if err != nil {
		return nil, "", err
	}
	return t, base(r.Org) + "/" + t.EntitySetName + "(" + key + ")", nil
}

// body turns a row context into a request body, lookups bound (see bindLookups).
func (r *Rows) body(ctx context.Context, t *Table, row map[string]any) ([]byte, error) {
	if row == nil {
		return nil, &InputError{Field: "row", Msg: "is required: a context of column values"}
	}
	var navs map[string]map[string]string
	for col, v := range row {
		if isLookupValue(v) && !strings.Contains(col, "@") {
			var err error
			if navs, err = r.Tables.lookups(ctx, r.Client, r.Org, t); err != nil {
				return nil, err
			}
			break
		}
	}
	out, err := bindLookups("row", t, row, navs, func(name string) (*Table, error) { return r.table(ctx, name) })
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, &InputError{Field: "row", Msg: fmt.Sprintf("cannot be encoded as JSON: %v", err)}
	}
	return b, nil
}

// CreateRow creates a row and returns {id, row} (the row as created, Prefer: return=representation).
func (r *Rows) CreateRow(ctx context.Context, table string, row map[string]any) (map[string]any, error) {
	t, err := r.table(ctx, table)
	if err != nil {
		return nil, err
	}
	b, err := r.body(ctx, t, row)
	if err != nil {
		return nil, err
	}
	h := jsonHeader(true)
	h.Set("Prefer", "return=representation")
	res, err := r.Client.Do(ctx, Call{Op: OpCreateRow, Method: http.MethodPost, URL: base(r.Org) + "/" + t.EntitySetName, Header: h, Body: b})
	if err != nil {
		return nil, err
	}
	created := rowOf(res)
	return map[string]any{"id": created[t.PrimaryID], "row": created}, nil
}

// GetRowRequest reads one row.
type GetRowRequest struct {
	Table  string
	RowID  any // a GUID or an alternate key context
	Select any // a list of column names or a comma-separated string
	Expand string
}

// GetRow returns {row}.
func (r *Rows) GetRow(ctx context.Context, req GetRowRequest) (map[string]any, error) {
	_, u, err := r.rowURL(ctx, req.Table, req.RowID)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if err := addSelect(q, req.Select); err != nil {
		return nil, err
	}
	if req.Expand != "" {
		q.Set("$expand", req.Expand)
	}
	res, err := r.Client.Do(ctx, Call{Op: OpGetRow, Method: http.MethodGet, URL: withQuery(u, q), Header: jsonHeader(false)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"row": rowOf(res)}, nil
}

// ListRowsRequest lists rows. Zero PageSize and MaxRows take their defaults.
type ListRowsRequest struct {
	Table                  string
	Select                 any
	Filter                 string
	OrderBy                string
	Expand                 string
	Top                    int
	PageSize               int
	MaxRows                int
	IncludeFormattedValues bool
}

// ListRows returns {rows, count, nextLink}: it follows @odata.nextLink until MaxRows rows are
// read or none remain. count is the number of rows returned. nextLink is null when no row
// remains, else the URL to read on from (sent with the same Prefer header): when MaxRows ends
// inside a page, that page's own URL, so that no row is skipped.
func (r *Rows) ListRows(ctx context.Context, req ListRowsRequest) (map[string]any, error) {
	pageSize, maxRows := req.PageSize, req.MaxRows
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize < 1 || pageSize > MaxPageSize:
		return nil, &InputError{Field: "pageSize", Msg: fmt.Sprintf("must be between 1 and %d, got %d", MaxPageSize, pageSize)}
	}
	switch {
	case maxRows == 0:
		maxRows = DefaultMaxRows
	case maxRows < 1:
		return nil, &InputError{Field: "maxRows", Msg: fmt.Sprintf("must be at least 1, got %d", maxRows)}
	}
	if req.Top < 0 {
		return nil, &InputError{Field: "top", Msg: fmt.Sprintf("must be at least 1, got %d", req.Top)}
	}
	pageSize = min(pageSize, maxRows)
	t, err := r.table(ctx, req.Table)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if err := addSelect(q, req.Select); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"$filter": req.Filter, "$orderby": req.OrderBy, "$expand": req.Expand} {
		if strings.TrimSpace(v) != "" {
			q.Set(k, v)
		}
	}
	if req.Top > 0 {
		q.Set("$top", strconv.Itoa(req.Top))
	}
	h := jsonHeader(false)
	prefer := "odata.maxpagesize=" + strconv.Itoa(pageSize)
	if req.IncludeFormattedValues {
		prefer += `,odata.include-annotations="*"`
	}
	h.Set("Prefer", prefer)
	rows := []any{}
	var next any
	seen := map[string]bool{}
	empty := 0 // pages in a row without rows that still link on
	for u := withQuery(base(r.Org)+"/"+t.EntitySetName, q); u != ""; {
		seen[u] = true
		res, err := r.Client.Do(ctx, Call{Op: OpListRows, Method: http.MethodGet, URL: u, Header: h.Clone()})
		if err != nil {
			return nil, err
		}
		body, _ := res.Body.(map[string]any)
		page, _ := body["value"].([]any)
		link, _ := body["@odata.nextLink"].(string)
		if len(page) == 0 && link != "" {
			empty++
		} else {
			empty = 0
		}
		switch {
		case link != "" && !underAPI(r.Org, link):
			return nil, &AnswerError{Op: OpListRows, Msg: fmt.Sprintf("listing %s: Dataverse answered a next link outside the organization's Web API", t.EntitySetName)}
		case link != "" && seen[link]:
			return nil, &AnswerError{Op: OpListRows, Msg: fmt.Sprintf("listing %s: Dataverse answered a next link to a page already read", t.EntitySetName)}
		case empty > maxEmptyPages:
			return nil, &AnswerError{Op: OpListRows, Msg: fmt.Sprintf("listing %s: Dataverse answered %d empty pages in a row that each link to another", t.EntitySetName, empty)}
		}
		if len(rows)+len(page) > maxRows {
			rows = append(rows, page[:maxRows-len(rows)]...)
			next = u
			break
		}
		rows = append(rows, page...)
		if link == "" || len(rows) == maxRows {
			if link != "" {
				next = link
			}
			break
		}
		u = link
	}
	return map[string]any{"rows": rows, "count": int64(len(rows)), "nextLink": next}, nil
}

// maxEmptyPages bounds the pages without rows that listRows follows in a row: Dataverse does not
// answer them, so a server that keeps doing it is refused instead of read until the deadline.
const maxEmptyPages = 10

// underAPI reports whether link is a URL of org's Web API: the same scheme, host (any case, a
// default port or none) and port, under the API path.
func underAPI(org, link string) bool {
	o, err1 := url.Parse(base(org) + "/")
	l, err2 := url.Parse(link)
	if err1 != nil || err2 != nil || l.User != nil || !strings.EqualFold(o.Scheme, l.Scheme) ||
		!strings.EqualFold(strings.TrimSuffix(o.Hostname(), "."), strings.TrimSuffix(l.Hostname(), ".")) || port(o) != port(l) {
		return false
	}
	return len(l.EscapedPath()) >= len(o.EscapedPath()) && strings.EqualFold(l.EscapedPath()[:len(o.EscapedPath())], o.EscapedPath())
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// ETagPattern is the shape of an If-Match value: "*" or an entity tag (RFC 9110: optionally weak,
// quoted, no control characters), as Dataverse writes them in @odata.etag (W/"12345").
const ETagPattern = `\*|(?:W/)?"[^"\x00-\x1f\x7f]*"`

// UpdateRow updates an existing row and returns {id, row}. ifMatch is an ETag; empty means "*":
// the row must exist, so an update never creates one.
func (r *Rows) UpdateRow(ctx context.Context, table string, rowID any, row map[string]any, ifMatch string) (map[string]any, error) {
	if ifMatch == "" {
		ifMatch = "*"
	}
	res, t, err := r.patch(ctx, OpUpdateRow, table, rowID, row, ifMatch)
	if err != nil {
		return nil, err
	}
	updated := rowOf(res)
	return map[string]any{"id": updated[t.PrimaryID], "row": updated}, nil
}

// UpsertRow updates the row or creates it and returns {id, row, created}.
func (r *Rows) UpsertRow(ctx context.Context, table string, rowID any, row map[string]any) (map[string]any, error) {
	res, t, err := r.patch(ctx, OpUpsertRow, table, rowID, row, "")
	if err != nil {
		return nil, err
	}
	out := rowOf(res)
	return map[string]any{"id": out[t.PrimaryID], "row": out, "created": res.Status == http.StatusCreated}, nil
}

func (r *Rows) patch(ctx context.Context, op Op, table string, rowID any, row map[string]any, ifMatch string) (*Response, *Table, error) {
	t, u, err := r.rowURL(ctx, table, rowID)
	if err != nil {
		return nil, nil, err
	}
	b, err := r.body(ctx, t, row)
	if err != nil {
		return nil, nil, err
	}
	h := jsonHeader(true)
	h.Set("Prefer", "return=representation")
	if ifMatch != "" {
		h.Set("If-Match", ifMatch)
	}
	res, err := r.Client.Do(ctx, Call{Op: op, Method: http.MethodPatch, URL: u, Header: h, Body: b})
	return res, t, err
}

// DeleteRow deletes a row and returns {id}: the rowId as given. ifMatch, when set, is an ETag
// the row must still have.
func (r *Rows) DeleteRow(ctx context.Context, table string, rowID any, ifMatch string) (map[string]any, error) {
	_, u, err := r.rowURL(ctx, table, rowID)
	if err != nil {
		return nil, err
	}
	h := jsonHeader(false)
	if ifMatch != "" {
		h.Set("If-Match", ifMatch)
	}
	if _, err := r.Client.Do(ctx, Call{Op: OpDeleteRow, Method: http.MethodDelete, URL: u, Header: h}); err != nil {
		return nil, err
	}
	return map[string]any{"id": rowID}, nil
}

// ActionRequest calls a custom API or action: unbound, or bound to a row when Table is set.
type ActionRequest struct {
	Action     string
	Table      string
	RowID      any
	Parameters map[string]any
}

// ActionNamePattern is the shape of an action's unique name, optionally qualified by the
// Microsoft.Dynamics.CRM namespace (RE2 and JavaScript read it alike; unanchored).
const ActionNamePattern = `(?:Microsoft\.Dynamics\.CRM\.)?[A-Za-z_][A-Za-z0-9_]{0,127}`

var actionName = regexp.MustCompile(`^` + ActionNamePattern + `$`)

// PerformAction calls the action and returns its response: its output parameters, or an
// empty context when it has none (204).
func (r *Rows) PerformAction(ctx context.Context, req ActionRequest) (map[string]any, error) {
	if !actionName.MatchString(req.Action) {
		return nil, &InputError{Field: "action", Msg: fmt.Sprintf("must be the unique name of a custom API or action such as new_NotifyOwner, got %q", truncate(req.Action, 80))}
	}
	name := strings.TrimPrefix(req.Action, "Microsoft.Dynamics.CRM.")
	u := base(r.Org) + "/" + name
	if req.Table != "" && req.RowID == nil {
		return nil, &InputError{Field: "rowId", Msg: "is required with table (a bound action runs on a row)"}
	}
	if req.Table != "" {
		_, row, err := r.rowURL(ctx, req.Table, req.RowID)
		if err != nil {
			return nil, err
		}
		u = row + "/Microsoft.Dynamics.CRM." + name
	} else if req.RowID != nil {
		return nil, &InputError{Field: "table", Msg: "is required with rowId (a bound action needs the row's table)"}
	}
	params := req.Parameters
	if params == nil {
		params = map[string]any{}
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, &InputError{Field: "parameters", Msg: fmt.Sprintf("cannot be encoded as JSON: %v", err)}
	}
	res, err := r.Client.Do(ctx, Call{Op: OpPerformAction, Method: http.MethodPost, URL: u, Header: jsonHeader(true), Body: b})
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound && he.Code == CodeResourceNotFound {
		// The URL's last segment is the action: a missing row of a bound one is 0x80040217.
		kind := "unbound"
		if req.Table != "" {
			kind = "bound to table " + req.Table
		}
		return nil, &InputError{Field: "action", Msg: fmt.Sprintf("Dataverse has no custom API or action %q %s (404 %s: %s)",
			name, kind, he.Code, truncate(he.Message, 200))}
	}
	if err != nil {
		return nil, err
	}
	return rowOf(res), nil
}

// CodeResourceNotFound is Dataverse's error code for a URL segment that names nothing (an
// entity set, function or action that does not exist).
const CodeResourceNotFound = "0x8006088a"

// addSelect sets $select from a list of column names or a comma-separated string.
func addSelect(q url.Values, sel any) error {
	var cols []string
	switch v := sel.(type) {
	case nil:
		return nil
	case string:
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
	case []any:
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return &InputError{Field: "select[" + strconv.Itoa(i) + "]", Msg: "must be a column name, got " + kind(x)}
			}
			cols = append(cols, strings.TrimSpace(s))
		}
	case []string:
		cols = v
	default:
		return &InputError{Field: "select", Msg: "must be a list of column names or a comma-separated string, got " + kind(sel)}
	}
	for _, c := range cols {
		if !columnName.MatchString(c) {
			return &InputError{Field: "select", Msg: fmt.Sprintf("%q is not a column name", truncate(c, 80))}
		}
	}
	if len(cols) > 0 {
		q.Set("$select", strings.Join(cols, ","))
	}
	return nil
}

func withQuery(u string, q url.Values) string {
	if len(q) == 0 {
		return u
	}
	// %20 rather than +: Dataverse reads $filter as OData, where + is not a space everywhere.
	return u + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
}

// rowOf is a row answer without its @odata.context (the etag stays: ifMatch needs it).
func rowOf(res *Response) map[string]any {
	m, _ := res.Body.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	delete(m, "@odata.context")
	return m
}
