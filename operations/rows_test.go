package operations_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/operations"
	"github.com/pa-connector/pa-connector/operations/dataversetest"
)

const (
	leadID    = "1ead0000-0000-4000-8000-000000000001"
	contactID = "c0c0c0c0-0000-4000-8000-000000000002"
	accountID = "acc00000-0000-4000-8000-000000000003"
	callerID  = "00000000-0000-4000-8000-0000000000a1" // the emulator's systemuser
)

// bearer adds the emulator's static token to every request.
type bearer struct{ c *http.Client }

func (b bearer) Do(r *http.Request) (*http.Response, error) {
	r.Header.Set("Authorization", "Bearer t")
	return b.c.Do(r)
}

// rowsOn starts an emulator with a lead, a contact and an account, and a Rows client on it.
func rowsOn(t *testing.T, opts dataversetest.Options) (*operations.Rows, *dataversetest.Server) {
	t.Helper()
	opts.Tokens = append(opts.Tokens, "t")
	opts.Tables = append(opts.Tables,
		dataversetest.Table{LogicalName: "lead", Rows: []map[string]any{{"leadid": leadID, "lastname": "Hopper"}}},
		dataversetest.Table{LogicalName: "contact", Rows: []map[string]any{{"contactid": contactID, "lastname": "Lovelace", "emailaddress1": "ada@example.com"}}},
		dataversetest.Table{LogicalName: "account", Rows: []map[string]any{{"accountid": accountID, "name": "Contoso", "accountnumber": "C-1"}}},
	)
	srv := dataversetest.NewServer(opts)
	t.Cleanup(srv.Close)
	return &operations.Rows{Client: &operations.Client{HTTP: bearer{srv.Client()}}, Org: srv.URL(), Tables: &operations.Tables{}}, srv
}

func inputError(t *testing.T, err error, field string) *operations.InputError {
	t.Helper()
	var ie *operations.InputError
	if !errors.As(err, &ie) || ie.Field != field {
		t.Fatalf("error = %v, want an input error on field %q", err, field)
	}
	return ie
}

func httpError(t *testing.T, err error, status int, code string) *operations.HTTPError {
	t.Helper()
	var he *operations.HTTPError
	if !errors.As(err, &he) || he.Status != status || he.Code != code {
		t.Fatalf("error = %#v, want HTTP %d with code %q", err, status, code)
	}
	return he
}

func TestTableResolution(t *testing.T) {
	r, srv := rowsOn(t, dataversetest.Options{})
	ctx := context.Background()
	for _, name := range []string{"account", "accounts", "Account", " task ", "tasks"} {
		tb, err := r.Tables.Resolve(ctx, r.Client, r.Org, name)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", name, err)
		}
		want := map[bool]string{true: "task", false: "account"}[strings.Contains(name, "task")]
		if tb.LogicalName != want || tb.EntitySetName != want+"s" {
			t.Errorf("Resolve(%q) = %+v", name, tb)
		}
	}
	if tb, _ := r.Tables.Resolve(ctx, r.Client, r.Org, "task"); tb.PrimaryID != "activityid" {
		t.Errorf("task's primary key = %q, want activityid (read from the metadata, not derived from the name)", tb.PrimaryID)
	}
	if n := srv.Count(dataversetest.OpMetadata); n != 1 {
		t.Errorf("EntityDefinitions read %d times for five names, want 1 (cached per organization)", n)
	}
	_, err := r.Tables.Resolve(ctx, r.Client, r.Org, "acount")
	ie := inputError(t, err, "table")
	if !strings.Contains(ie.Msg, `"acount"`) || !strings.Contains(ie.Msg, "closest: account") {
		t.Errorf("unknown table message = %q, want the name and the closest tables, account first", ie.Msg)
	}
	// The miss reloads the list only when it is older than Refresh: one more read, not one per job.
	_, _ = r.Tables.Resolve(ctx, r.Client, r.Org, "acount")
	if n := srv.Count(dataversetest.OpMetadata); n != 1 {
		t.Errorf("EntityDefinitions read %d times, want 1: a fresh list is not reloaded for a typo", n)
	}
	// Another organization has its own list.
	other := &operations.Rows{Client: r.Client, Org: srv.URL() + "/", Tables: r.Tables}
	if _, err := other.Tables.Resolve(ctx, r.Client, srv.URL()+"/", "lead"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count(dataversetest.OpMetadata); n != 1 {
		t.Errorf("a trailing slash made another organization (%d reads)", n)
	}
}

func TestTableListReloadedOnMissWhenOld(t *testing.T) {
	r, srv := rowsOn(t, dataversetest.Options{})
	ctx := context.Background()
	r.Tables.Refresh = -1 // any age is old
	now := fakeNow()
	r.Tables.Now = now.Now
	if _, err := r.Tables.Resolve(ctx, r.Client, r.Org, "lead"); err != nil {
		t.Fatal(err)
	}
	now.add(2 * 60)
	_, err := r.Tables.Resolve(ctx, r.Client, r.Org, "new_thing")
	inputError(t, err, "table")
	if n := srv.Count(dataversetest.OpMetadata); n != 2 {
		t.Errorf("EntityDefinitions read %d times, want 2: a miss on an old list reloads it once", n)
	}
}

func TestCreateGetUpdateDelete(t *testing.T) {
	r, srv := rowsOn(t, dataversetest.Options{})
	ctx := context.Background()
	created, err := r.CreateRow(ctx, "accounts", map[string]any{"name": "Fabrikam", "accountnumber": "F-1"})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := created["id"].(string)
	row, _ := created["row"].(map[string]any)
	if !operations.ValidID(id) || row["name"] != "Fabrikam" || row["accountid"] != id || row["@odata.etag"] == nil || row["@odata.context"] != nil {
		t.Fatalf("createRow = %v", created)
	}
	if rows, _ := srv.Rows("account"); len(rows) != 2 {
		t.Errorf("account rows = %d, want 2", len(rows))
	}

	for _, sel := range []any{"name, accountnumber", []any{"name", "accountnumber"}} {
		got, err := r.GetRow(ctx, operations.GetRowRequest{Table: "account", RowID: map[string]any{"accountnumber": "F-1"}, Select: sel})
		if err != nil {
			t.Fatal(err)
		}
		g := got["row"].(map[string]any)
		if g["name"] != "Fabrikam" || g["accountnumber"] != "F-1" || g["accountid"] != id || g["revenue"] != nil || len(g) != 4 {
			t.Errorf("getRow select %v = %v, want name, accountnumber, accountid and the etag", sel, g)
		}
	}
	_, err = r.GetRow(ctx, operations.GetRowRequest{Table: "account", RowID: id, Select: []any{"name", 3}})
	inputError(t, err, "select[1]")

	// An update never creates: a missing row is 404, not a new row.
	missing := "00000000-0000-4000-8000-0000000000ff"
	_, err = r.UpdateRow(ctx, "account", missing, map[string]any{"name": "x"}, "")
	httpError(t, err, 404, "0x80040217")
	if rows, _ := srv.Rows("account"); len(rows) != 2 {
		t.Errorf("an update of a missing row created one (%d rows)", len(rows))
	}
	etag := row["@odata.etag"].(string)
	updated, err := r.UpdateRow(ctx, "account", id, map[string]any{"name": "Fabrikam Ltd"}, etag)
	if err != nil {
		t.Fatal(err)
	}
	if updated["id"] != id || updated["row"].(map[string]any)["name"] != "Fabrikam Ltd" {
		t.Errorf("updateRow = %v", updated)
	}
	// The old ETag no longer matches: 412 with Dataverse's code.
	_, err = r.UpdateRow(ctx, "account", id, map[string]any{"name": "late"}, etag)
	he := httpError(t, err, 412, "0x80060882")
	if he.Op != operations.OpUpdateRow || he.Message == "" {
		t.Errorf("412 = %+v, want the operation and Dataverse's message", he)
	}
	_, err = r.DeleteRow(ctx, "account", id, etag)
	httpError(t, err, 412, "0x80060882")

	up, err := r.UpsertRow(ctx, "account", map[string]any{"accountnumber": "U-1"}, map[string]any{"name": "Upserted"})
	if err != nil {
		t.Fatal(err)
	}
	if up["created"] != true || !operations.ValidID(up["id"].(string)) {
		t.Errorf("first upsert = %v, want created", up)
	}
	up2, err := r.UpsertRow(ctx, "account", map[string]any{"accountnumber": "U-1"}, map[string]any{"name": "Again"})
	if err != nil {
		t.Fatal(err)
	}
	if up2["created"] != false || up2["id"] != up["id"] || up2["row"].(map[string]any)["name"] != "Again" {
		t.Errorf("second upsert = %v, want the same row updated", up2)
	}

	del, err := r.DeleteRow(ctx, "account", id, "")
	if err != nil || del["id"] != id {
		t.Fatalf("deleteRow = %v, %v", del, err)
	}
	_, err = r.GetRow(ctx, operations.GetRowRequest{Table: "account", RowID: id})
	httpError(t, err, 404, "0x80040217")
	_, err = r.DeleteRow(ctx, "account", "not-a-guid", "")
	inputError(t, err, "rowId")
	_, err = r.CreateRow(ctx, "account", nil)
	inputError(t, err, "row")
}

func TestDataverseErrorsAreTyped(t *testing.T) {
	r, _ := rowsOn(t, dataversetest.Options{Tables: []dataversetest.Table{{LogicalName: "incident", Deny: []string{"Create"}}}})
	ctx := context.Background()
	_, err := r.CreateRow(ctx, "incident", map[string]any{"title": "x"})
	he := httpError(t, err, 403, "0x80040220")
	if !strings.Contains(he.Message, "prvCreateincident") || !strings.Contains(he.Error(), "0x80040220") {
		t.Errorf("403 = %v, want Dataverse's privilege message", he)
	}
	_, err = r.ListRows(ctx, operations.ListRowsRequest{Table: "account", Filter: "name eq"})
	httpError(t, err, 400, "0x80060888")
	_, err = r.CreateRow(ctx, "account", map[string]any{"nosuchcolumn": 1})
	httpError(t, err, 400, "0x80048d19")
}

func TestAlternateKeyLiteralsReachDataverse(t *testing.T) {
	r, _ := rowsOn(t, dataversetest.Options{})
	ctx := context.Background()
	// Quotes, a comma, parentheses, a space, = and non-ASCII: none may end the key, the path
	// or start a query. (/ # < > * % & : \ ? + are refused: TestKeySegment.)
	email := "o'neil x=y,c)(é;$!@example.com"
	c, err := r.CreateRow(ctx, "contact", map[string]any{"lastname": "O'Neil", "emailaddress1": email})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.GetRow(ctx, operations.GetRowRequest{Table: "contact", RowID: map[string]any{"emailaddress1": email}, Select: "emailaddress1"})
	if err != nil {
		t.Fatal(err)
	}
	if g := got["row"].(map[string]any); g["contactid"] != c["id"] || g["emailaddress1"] != email {
		t.Errorf("getRow by key = %v, want the row created with %q", g, email)
	}
	// A key naming another value does not match it.
	_, err = r.GetRow(ctx, operations.GetRowRequest{Table: "contact", RowID: map[string]any{"emailaddress1": "o'neil"}})
	httpError(t, err, 404, "0x80040217")
}

func TestLookupsBoundAndReadBack(t *testing.T) {
	r, srv := rowsOn(t, dataversetest.Options{})
	ctx := context.Background()
	task, err := r.CreateRow(ctx, "task", map[string]any{
		"subject":           "Call back",
		"regardingobjectid": map[string]any{"table": "leads", "id": leadID}, // polymorphic: the lead's navigation property
		"ownerid":           map[string]any{"table": "systemuser", "id": callerID},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.GetRow(ctx, operations.GetRowRequest{Table: "task", RowID: task["id"]})
	if err != nil {
		t.Fatal(err)
	}
	g := got["row"].(map[string]any)
	if g["_regardingobjectid_value"] != leadID || g["_ownerid_value"] != callerID {
		t.Errorf("task = %v, want regarding the lead and owned by the caller", g)
	}
	inc, err := r.CreateRow(ctx, "incident", map[string]any{
		"title":      "Broken",
		"customerid": map[string]any{"table": "contact", "id": map[string]any{"emailaddress1": "ada@example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := r.ListRows(ctx, operations.ListRowsRequest{Table: "incident", IncludeFormattedValues: true,
		Filter: "_customerid_value eq " + contactID})
	if err != nil {
		t.Fatal(err)
	}
	rows := listed["rows"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["incidentid"] != inc["id"] ||
		rows[0].(map[string]any)["_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "contact" {
		t.Errorf("incidents of the contact = %v, want the one bound to the contact, annotated", rows)
	}
	// A raw bind passes through unchanged.
	if _, err := r.CreateRow(ctx, "task", map[string]any{"subject": "raw", "regardingobjectid_account_task@odata.bind": "/accounts(" + accountID + ")"}); err != nil {
		t.Fatal(err)
	}
	if calls := srv.Count(dataversetest.OpMetadata); calls != 3 {
		t.Errorf("EntityDefinitions read %d times, want 3: the list, then task's and incident's lookups once each", calls)
	}

	_, err = r.CreateRow(ctx, "task", map[string]any{"regardingobjectid": map[string]any{"table": "task", "id": leadID}})
	ie := inputError(t, err, "row.regardingobjectid.table")
	if !strings.Contains(ie.Msg, "account, contact, incident, lead, new_project") {
		t.Errorf("wrong target message = %q, want the targets listed", ie.Msg)
	}
	_, err = r.CreateRow(ctx, "task", map[string]any{"subject": map[string]any{"table": "lead", "id": leadID}})
	inputError(t, err, "row.subject")
	_, err = r.CreateRow(ctx, "task", map[string]any{"regardingobjectid": map[string]any{"table": "lead", "id": "x"}})
	inputError(t, err, "row.regardingobjectid.id")
	_, err = r.CreateRow(ctx, "task", map[string]any{"regardingobjectid": map[string]any{"table": "leed", "id": leadID}})
	inputError(t, err, "row.regardingobjectid.table")
	_, err = r.CreateRow(ctx, "task", map[string]any{"regardingobjectid": map[string]any{"table": "lead", "id": leadID, "x": 1}})
	inputError(t, err, "row.regardingobjectid")
}

func TestListRowsPaging(t *testing.T) {
	var seed []map[string]any
	for i := 0; i < 12; i++ {
		seed = append(seed, map[string]any{"name": "Row " + string(rune('A'+i)), "accountnumber": "P-" + string(rune('A'+i))})
	}
	r, srv := rowsOn(t, dataversetest.Options{Tables: []dataversetest.Table{{LogicalName: "account", Rows: seed}}})
	ctx := context.Background()
	filter := "startswith(name,'Row ')"
	names := func(res map[string]any) string {
		var s []string
		for _, x := range res["rows"].([]any) {
			s = append(s, strings.TrimPrefix(x.(map[string]any)["name"].(string), "Row "))
		}
		return strings.Join(s, "")
	}
	cases := []struct {
		name            string
		req             operations.ListRowsRequest
		want            string
		calls           int
		nextLink        bool
		nextLinkIsFirst bool
	}{
		{"three pages, all rows", operations.ListRowsRequest{PageSize: 5}, "ABCDEFGHIJKL", 3, false, false},
		{"maxRows on a page boundary", operations.ListRowsRequest{PageSize: 5, MaxRows: 10}, "ABCDEFGHIJ", 2, true, false},
		{"maxRows inside a page", operations.ListRowsRequest{PageSize: 5, MaxRows: 7}, "ABCDEFG", 2, true, false},
		{"maxRows below the page size", operations.ListRowsRequest{MaxRows: 4}, "ABCD", 1, true, false},
		{"descending", operations.ListRowsRequest{OrderBy: "name desc", PageSize: 20}, "LKJIHGFEDCBA", 1, false, false},
		{"top", operations.ListRowsRequest{Top: 2, PageSize: 1}, "AB", 1, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.Reset()
			c.req.Table, c.req.Filter, c.req.Select = "accounts", filter, "name"
			if c.req.OrderBy == "" {
				c.req.OrderBy = "name"
			}
			res, err := r.ListRows(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res); got != c.want || res["count"] != int64(len(c.want)) {
				t.Errorf("rows %s (count %v), want %s", got, res["count"], c.want)
			}
			if n := srv.Count(dataversetest.OpListRows); n != c.calls {
				t.Errorf("%d list requests, want %d", n, c.calls)
			}
			link, _ := res["nextLink"].(string)
			if (link != "") != c.nextLink {
				t.Fatalf("nextLink = %v, want present %v", res["nextLink"], c.nextLink)
			}
			if link == "" {
				return
			}
			// Reading on from nextLink (with the same page size) gives the rows that remain:
			// none skipped, at most the rest of a cut page read twice.
			size := c.req.PageSize
			if size == 0 {
				size = operations.DefaultPageSize
			}
			if c.req.MaxRows > 0 {
				size = min(size, c.req.MaxRows)
			}
			all := c.want
			for link != "" {
				rest, err := r.Client.Do(ctx, operations.Call{Method: "GET", URL: link, Header: http.Header{"Prefer": {"odata.maxpagesize=" + strconv.Itoa(size)}}})
				if err != nil {
					t.Fatal(err)
				}
				body := rest.Body.(map[string]any)
				for _, x := range body["value"].([]any) {
					if n := strings.TrimPrefix(x.(map[string]any)["name"].(string), "Row "); !strings.Contains(all, n) {
						all += n
					}
				}
				link, _ = body["@odata.nextLink"].(string)
			}
			if all != "ABCDEFGHIJKL" {
				t.Errorf("rows then nextLink = %s, want every row from A to L once", all)
			}
		})
	}
	for _, bad := range []struct {
		req   operations.ListRowsRequest
		field string
	}{
		{operations.ListRowsRequest{Table: "account", PageSize: 5001}, "pageSize"},
		{operations.ListRowsRequest{Table: "account", PageSize: -1}, "pageSize"},
		{operations.ListRowsRequest{Table: "account", MaxRows: -5}, "maxRows"},
		{operations.ListRowsRequest{Table: "account", Top: -1}, "top"},
		{operations.ListRowsRequest{Table: "account", Select: "name;drop"}, "select"},
		{operations.ListRowsRequest{Table: "acounts"}, "table"},
	} {
		_, err := r.ListRows(ctx, bad.req)
		inputError(t, err, bad.field)
	}
}

func TestListRowsFilterIsOneEncodedParameter(t *testing.T) {
	seed := []map[string]any{{"name": "A+B & C=D #1 100%"}, {"name": "A B"}}
	r, srv := rowsOn(t, dataversetest.Options{Tables: []dataversetest.Table{{LogicalName: "account", Rows: seed}}})
	res, err := r.ListRows(context.Background(), operations.ListRowsRequest{Table: "account", Filter: "name eq 'A+B & C=D #1 100%'", Select: []any{"name"}})
	if err != nil {
		t.Fatal(err)
	}
	if rows := res["rows"].([]any); len(rows) != 1 || rows[0].(map[string]any)["name"] != seed[0]["name"] {
		t.Errorf("rows = %v, want only %q", rows, seed[0]["name"])
	}
	calls := srv.Calls()
	if q := calls[len(calls)-1].Path; strings.Contains(q, "#") {
		t.Errorf("request path %q holds a raw #", q)
	}
}

func TestPerformAction(t *testing.T) {
	r, srv := rowsOn(t, dataversetest.Options{Actions: []dataversetest.Action{
		{Name: "new_Echo", Inputs: []dataversetest.Parameter{{Name: "Message", Type: "Edm.String"}}, Outputs: map[string]any{"Echo": "${inputs.Message}"}},
		{Name: "new_NotifyOwner", BoundTable: "lead", Inputs: []dataversetest.Parameter{{Name: "Text", Type: "Edm.String"}}, Outputs: map[string]any{"Lead": "${row.id}"}},
		{Name: "new_Quiet"},
	}})
	ctx := context.Background()
	got, err := r.PerformAction(ctx, operations.ActionRequest{Action: "new_Echo", Parameters: map[string]any{"Message": "hi"}})
	if err != nil || got["Echo"] != "hi" {
		t.Fatalf("unbound = %v, %v", got, err)
	}
	got, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_NotifyOwner", Table: "lead", RowID: leadID, Parameters: map[string]any{"Text": "x"}})
	if err != nil || got["Lead"] != leadID {
		t.Fatalf("bound = %v, %v", got, err)
	}
	got, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_Quiet"})
	if err != nil || len(got) != 0 {
		t.Fatalf("no outputs = %v, %v, want an empty context", got, err)
	}
	if n := len(srv.ActionCalls()); n != 3 {
		t.Errorf("%d action calls recorded, want 3", n)
	}
	_, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_Echo", Parameters: map[string]any{"Nope": 1}})
	httpError(t, err, 400, "0x80048d19")
	_, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_Echo/../accounts"})
	inputError(t, err, "action")
	_, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_Echo", RowID: leadID})
	inputError(t, err, "table")
	before := len(srv.Calls())
	_, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_NotifyOwner", Table: "leads_not_cached"})
	inputError(t, err, "rowId")
	if n := len(srv.Calls()) - before; n != 0 {
		t.Errorf("table without rowId sent %d requests, want none", n)
	}
	// An action that does not exist, or is bound otherwise, is the action's fault (0x8006088a);
	// a bound action's missing row stays Dataverse's 404 0x80040217, as for getRow.
	_, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_Missing"})
	inputError(t, err, "action")
	if err == nil || !strings.Contains(err.Error(), `"new_Missing" unbound`) || !strings.Contains(err.Error(), "0x8006088a") {
		t.Errorf("missing action = %v, want it named, unbound, with Dataverse's code", err)
	}
	_, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_NotifyOwner"})
	inputError(t, err, "action")
	_, err = r.PerformAction(ctx, operations.ActionRequest{Action: "new_NotifyOwner", Table: "lead", RowID: "99999999-0000-4000-8000-000000000000"})
	httpError(t, err, 404, "0x80040217")
}
