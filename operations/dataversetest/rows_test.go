package dataversetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const api = "/api/data/v9.2/"

// send is call with extra headers (Prefer, If-Match, If-None-Match).
func send(t *testing.T, s *Server, method, path string, body any, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = s.URL() + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+staticToken)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// wantError checks an OData error answer's status, code and message part.
func wantError(t *testing.T, a answer, status int, code, msgPart string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	c, m := a.odata(t)
	if c != code || !strings.Contains(m, msgPart) {
		t.Fatalf("error %q %q, want code %q and a message containing %q", c, m, code, msgPart)
	}
	if ct := a.header.Get("Content-Type"); ct != contentTypeODataJSON {
		t.Errorf("Content-Type %q", ct)
	}
}

const repr = "return=representation"

// create makes a row and returns its representation.
func create(t *testing.T, s *Server, set string, row map[string]any) map[string]any {
	t.Helper()
	a := send(t, s, http.MethodPost, api+set, row, "Prefer", repr)
	if a.status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", set, a.status, a.body)
	}
	return a.json(t)
}

func TestCreateAnswersAsDocumented(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	a := send(t, s, http.MethodPost, api+"accounts", map[string]any{"name": "Contoso", "revenue": 1000.5})
	if a.status != http.StatusNoContent || len(a.body) != 0 {
		t.Fatalf("create without Prefer: %d %s", a.status, a.body)
	}
	eid := a.header.Get("OData-EntityId")
	if !strings.HasPrefix(eid, s.URL()+api+"accounts(") {
		t.Fatalf("OData-EntityId %q", eid)
	}
	a = send(t, s, http.MethodPost, api+"accounts?$select=name", map[string]any{"name": "Fabrikam"}, "Prefer", repr)
	if a.status != http.StatusCreated || a.header.Get("Preference-Applied") != repr {
		t.Fatalf("create with representation: %d %v %s", a.status, a.header, a.body)
	}
	m := a.json(t)
	if m["@odata.context"] != s.URL()+api+"$metadata#accounts(name)/$entity" || m["name"] != "Fabrikam" || len(m) != 4 {
		t.Fatalf("representation %s", a.body)
	}
	if etag, _ := m["@odata.etag"].(string); !strings.HasPrefix(etag, `W/"`) || a.header.Get("ETag") != etag {
		t.Fatalf("etag %v, header %q", m["@odata.etag"], a.header.Get("ETag"))
	}
	id, _ := m["accountid"].(string)
	got := send(t, s, http.MethodGet, api+"accounts("+id+")", nil).json(t)
	if got["name"] != "Fabrikam" || got["statecode"] != 0.0 || got["statuscode"] != 1.0 || got["_ownerid_value"] != callerID || got["revenue"] != nil {
		t.Fatalf("retrieve: %v", got)
	}
}

func TestRowErrors(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Tables: []Table{{LogicalName: "lead", Deny: []string{PrivCreate}}}})
	acct := create(t, s, "accounts", map[string]any{"name": "A"})["accountid"].(string)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, msg          string
	}{
		{"unknown column", "POST", "accounts", map[string]any{"nmae": "x"}, 400, CodePayloadError, "The property 'nmae' does not exist on type 'Microsoft.Dynamics.CRM.account'"},
		{"wrong literal type", "POST", "accounts", map[string]any{"numberofemployees": "12"}, 400, CodePayloadError, "Cannot convert the literal '12' to the expected type 'Edm.Int32'"},
		{"option out of range", "POST", "accounts", map[string]any{"accountcategorycode": 7}, 400, CodeOutOfRange, "The value 7 of 'accountcategorycode'"},
		{"lookup set by logical name", "POST", "contacts", map[string]any{"parentcustomerid": acct}, 400, CodePayloadError, "The property 'parentcustomerid' does not exist"},
		{"undeclared navigation property", "POST", "contacts", map[string]any{"parentcustomerid@odata.bind": "/accounts(" + acct + ")"}, 400, CodePayloadError, "An undeclared property 'parentcustomerid'"},
		{"bind to a missing row", "POST", "contacts", map[string]any{"parentcustomerid_account@odata.bind": "/accounts(00000000-0000-4000-8000-000000000999)"}, 404, CodeObjectDoesNotExist, "account With Id = 00000000-0000-4000-8000-000000000999 Does Not Exist"},
		{"bind to the wrong table", "POST", "contacts", map[string]any{"parentcustomerid_contact@odata.bind": "/accounts(" + acct + ")"}, 400, CodePayloadError, "points at table 'account'"},
		{"missing row", "GET", "accounts(00000000-0000-4000-8000-000000000998)", nil, 404, CodeObjectDoesNotExist, "account With Id = 00000000-0000-4000-8000-000000000998 Does Not Exist"},
		{"bad key", "GET", "accounts(42)", nil, 400, CodeQuerySyntax, "Bad Request - Error in query syntax."},
		{"unknown $select column", "GET", "accounts?$select=name,nope", nil, 400, CodeQuerySyntax, "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.account'."},
		{"unknown $filter column", "GET", "accounts?$filter=" + url.QueryEscape("nope eq 1"), nil, 400, CodeQuerySyntax, "Could not find a property named 'nope'"},
		{"bad $filter syntax", "GET", "accounts?$filter=" + url.QueryEscape("name eq 'x"), nil, 400, CodeQuerySyntax, "Syntax error at position 8"},
		{"incompatible $filter types", "GET", "accounts?$filter=" + url.QueryEscape("name eq 3"), nil, 400, CodeQuerySyntax, "Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'"},
		{"$skip", "GET", "accounts?$skip=2", nil, 400, CodeQuerySyntax, "The query parameter $skip is not supported"},
		{"unknown entity set", "GET", "acounts", nil, 404, CodeResourceNotFound, "Resource not found for the segment 'acounts'."},
		{"privilege", "POST", "leads", map[string]any{"subject": "x"}, 403, CodePrivilegeDenied, "is missing prvCreatelead privilege"},
		{"unknown alternate key", "GET", "contacts(firstname='a')", nil, 400, CodeInvalidArgument, "do not match any alternate key defined for the entity contact"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, send(t, s, c.method, api+c.path, c.body), c.status, c.code, c.msg)
		})
	}
}

func TestLookupsAreBoundAndReadBack(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	acct := create(t, s, "accounts", map[string]any{"name": "Contoso"})["accountid"].(string)
	con := create(t, s, "contacts", map[string]any{"firstname": "Ada", "lastname": "Lovelace",
		"parentcustomerid_account@odata.bind": "/accounts(" + acct + ")"})
	if con["_parentcustomerid_value"] != acct || con["fullname"] != "Ada Lovelace" {
		t.Fatalf("created contact %v", con)
	}
	if _, ok := con["_parentcustomerid_value@"+annLookupTable]; ok {
		t.Fatal("annotations without Prefer odata.include-annotations")
	}
	id := con["contactid"].(string)
	a := send(t, s, http.MethodGet, api+"contacts("+id+")?$select=_parentcustomerid_value,fullname", nil, "Prefer", `odata.include-annotations="*"`)
	m := a.json(t)
	want := map[string]any{
		"_parentcustomerid_value@" + annLookupTable: "account",
		"_parentcustomerid_value@" + annNavigation:  "parentcustomerid_account",
		"_parentcustomerid_value@" + annFormatted:   "Contoso",
		"_parentcustomerid_value":                   acct,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], v, a.body)
		}
	}
	if a.header.Get("Preference-Applied") != `odata.include-annotations="*"` {
		t.Errorf("Preference-Applied %q", a.header.Get("Preference-Applied"))
	}
	// A custom table's lookup uses its schema-cased navigation property; a
	// polymorphic task regarding lookup its per-target one; an absolute URL binds too.
	p := create(t, s, "new_projects", map[string]any{"new_name": "P", "new_AccountId@odata.bind": s.URL() + api + "accounts(" + acct + ")"})
	task := create(t, s, "tasks", map[string]any{"subject": "Call", "regardingobjectid_new_project_task@odata.bind": "/new_projects(" + p["new_projectid"].(string) + ")"})
	if p["_new_accountid_value"] != acct || task["_regardingobjectid_value"] != p["new_projectid"] || task["statuscode"] != 2.0 {
		t.Fatalf("project %v task %v", p, task)
	}
	// Lookups filter by _x_value; a null bind clears the lookup.
	list := send(t, s, http.MethodGet, api+"contacts?$filter="+url.QueryEscape("_parentcustomerid_value eq "+acct), nil).json(t)
	if n := len(list["value"].([]any)); n != 1 {
		t.Fatalf("filter by lookup: %d rows", n)
	}
	send(t, s, http.MethodPatch, api+"contacts("+id+")", map[string]any{"parentcustomerid_account@odata.bind": nil})
	if v := send(t, s, http.MethodGet, api+"contacts("+id+")", nil).json(t)["_parentcustomerid_value"]; v != nil {
		t.Fatalf("after a null bind: %v", v)
	}
	// $expand of a single-valued navigation property.
	send(t, s, http.MethodPatch, api+"contacts("+id+")", map[string]any{"parentcustomerid_account@odata.bind": "/accounts(" + acct + ")"})
	x := send(t, s, http.MethodGet, api+"contacts("+id+")?$select=fullname&$expand=parentcustomerid_account($select=name)", nil).json(t)
	sub, _ := x["parentcustomerid_account"].(map[string]any)
	if sub["name"] != "Contoso" || sub["accountid"] != acct || x["@odata.context"] != s.URL()+api+"$metadata#contacts(fullname,parentcustomerid_account(name))/$entity" {
		t.Fatalf("expand: %v", x)
	}
	if v := send(t, s, http.MethodGet, api+"contacts("+id+")?$expand=parentcustomerid_contact", nil).json(t)["parentcustomerid_contact"]; v != nil {
		t.Fatalf("expand of the other target: %v", v)
	}
}

func TestETagsAndConditionalWrites(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	row := create(t, s, "accounts", map[string]any{"name": "A", "accountnumber": "N1"})
	id, etag := row["accountid"].(string), row["@odata.etag"].(string)
	path := api + "accounts(" + id + ")"

	if a := send(t, s, http.MethodGet, path, nil, "If-None-Match", etag); a.status != http.StatusNotModified {
		t.Fatalf("unchanged row: %d", a.status)
	}
	if a := send(t, s, http.MethodGet, path, nil, "If-None-Match", etag, "Prefer", `odata.include-annotations="*"`); a.status != http.StatusOK {
		t.Fatalf("with annotations Dataverse never answers 304: %d", a.status)
	}
	if a := send(t, s, http.MethodPatch, path, map[string]any{"name": "B"}, "If-Match", etag); a.status != http.StatusNoContent {
		t.Fatalf("update with the current ETag: %d %s", a.status, a.body)
	}
	wantError(t, send(t, s, http.MethodPatch, path, map[string]any{"name": "C"}, "If-Match", etag), 412, CodeETagMismatch, "The version of the existing record doesn't match the RowVersion property provided.")
	wantError(t, send(t, s, http.MethodDelete, path, nil, "If-Match", etag), 412, CodeETagMismatch, "RowVersion")
	wantError(t, send(t, s, http.MethodPatch, path, map[string]any{"name": "C"}, "If-None-Match", "*"), 412, CodeDuplicateRecord, "A record with matching key values already exists.")
	missing := api + "accounts(00000000-0000-4000-8000-0000000000f1)"
	wantError(t, send(t, s, http.MethodPatch, missing, map[string]any{"name": "C"}, "If-Match", "*"), 404, CodeObjectDoesNotExist, "account With Id = 00000000-0000-4000-8000-0000000000f1 Does Not Exist")

	// Upsert: PATCH creates a missing row (201 with representation), then updates it (200).
	a := send(t, s, http.MethodPatch, missing, map[string]any{"name": "Upserted"}, "Prefer", repr)
	if a.status != http.StatusCreated || a.json(t)["accountid"] != "00000000-0000-4000-8000-0000000000f1" {
		t.Fatalf("upsert create: %d %s", a.status, a.body)
	}
	a = send(t, s, http.MethodPatch, missing, map[string]any{"name": "Again"}, "Prefer", repr)
	if a.status != http.StatusOK || a.json(t)["name"] != "Again" {
		t.Fatalf("upsert update: %d %s", a.status, a.body)
	}
	// Duplicates on create: the same id, or the same alternate key.
	wantError(t, send(t, s, http.MethodPost, api+"accounts", map[string]any{"accountid": id}), 412, CodeDuplicateRecord, "matching key values")
	wantError(t, send(t, s, http.MethodPost, api+"accounts", map[string]any{"accountnumber": "n1"}), 412, CodeDuplicateRecord, "matching key values")

	cur := send(t, s, http.MethodGet, path, nil).json(t)["@odata.etag"].(string)
	if cur == etag {
		t.Fatal("an update kept the ETag")
	}
	if a := send(t, s, http.MethodDelete, path, nil, "If-Match", cur); a.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	wantError(t, send(t, s, http.MethodGet, path, nil), 404, CodeObjectDoesNotExist, "Does Not Exist")
}

func TestAlternateKeys(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	c := create(t, s, "contacts", map[string]any{"lastname": "O'Hara", "emailaddress1": "a@b.c"})
	a := send(t, s, http.MethodGet, api+"contacts(emailaddress1='A@b.c')", nil)
	if a.status != 200 || a.json(t)["contactid"] != c["contactid"] {
		t.Fatalf("by alternate key: %d %s", a.status, a.body)
	}
	wantError(t, send(t, s, http.MethodGet, api+"contacts(emailaddress1='x@y.z')", nil), 404, CodeObjectDoesNotExist, "A record with the specified key values does not exist in contact entity")
	// Upsert by alternate key creates the row with the key's value.
	a = send(t, s, http.MethodPatch, api+"contacts(emailaddress1='new@b.c')", map[string]any{"lastname": "N"}, "Prefer", repr)
	if a.status != http.StatusCreated || a.json(t)["emailaddress1"] != "new@b.c" {
		t.Fatalf("upsert by key: %d %s", a.status, a.body)
	}
	// A key value with a comma and a parenthesis inside quotes.
	create(t, s, "accounts", map[string]any{"name": "K", "accountnumber": "x,(1)"})
	if a := send(t, s, http.MethodGet, api+"accounts(accountnumber='x,(1)')", nil); a.status != 200 {
		t.Fatalf("quoted key: %d %s", a.status, a.body)
	}
}

func TestListQueryOptions(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for i, n := range []string{"Alpha", "beta", "Gamma", "Delta", "epsilon"} {
		row := map[string]any{"name": n, "numberofemployees": (i + 1) * 10}
		if i%2 == 0 {
			row["accountcategorycode"] = 1
		}
		create(t, s, "accounts", row)
	}
	names := func(q string) string {
		t.Helper()
		a := send(t, s, http.MethodGet, api+"accounts?"+q, nil)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", q, a.status, a.body)
		}
		var out []string
		for _, v := range a.json(t)["value"].([]any) {
			out = append(out, v.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	f := func(s string) string { return "$filter=" + url.QueryEscape(s) }
	cases := []struct{ q, want string }{
		{"$select=name", "Alpha,beta,Gamma,Delta,epsilon"},
		{f("name eq 'ALPHA'"), "Alpha"},
		{f("numberofemployees gt 20 and numberofemployees le 40"), "Gamma,Delta"},
		{f("numberofemployees lt 20 or name eq 'epsilon'"), "Alpha,epsilon"},
		{f("not (numberofemployees ge 20)"), "Alpha"},
		{f("contains(name,'ta')"), "beta,Delta"},
		{f("startswith(name,'g') or endswith(name,'ON')"), "Gamma,epsilon"},
		{f("accountcategorycode eq null"), "beta,Delta"},
		{f("accountcategorycode ne null"), "Alpha,Gamma,epsilon"},
		{f("accountcategorycode ne 1"), ""},
		{"$orderby=" + url.QueryEscape("numberofemployees desc"), "epsilon,Delta,Gamma,beta,Alpha"},
		{"$orderby=" + url.QueryEscape("accountcategorycode,name desc"), "Delta,beta,Gamma,epsilon,Alpha"},
		{"$orderby=name&$top=2", "Alpha,beta"},
	}
	for _, c := range cases {
		if got := names(c.q); got != c.want {
			t.Errorf("%s: got %q, want %q", c.q, got, c.want)
		}
	}
	a := send(t, s, http.MethodGet, api+"accounts?$select=name&$count=true&$top=1", nil).json(t)
	if a["@odata.count"] != 5.0 || a["@odata.context"] != s.URL()+api+"$metadata#accounts(name)" {
		t.Fatalf("count/context: %v", a)
	}
}

func TestPagingFollowsNextLink(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	for i := 0; i < 7; i++ {
		create(t, s, "accounts", map[string]any{"name": string(rune('a' + i))})
	}
	var seen []string
	next := api + "accounts?$select=name&$orderby=name"
	pages := 0
	for next != "" {
		a := send(t, s, http.MethodGet, next, nil, "Prefer", "odata.maxpagesize=3")
		if a.status != 200 || a.header.Get("Preference-Applied") != "odata.maxpagesize=3" {
			t.Fatalf("page %d: %d %q %s", pages, a.status, a.header.Get("Preference-Applied"), a.body)
		}
		m := a.json(t)
		for _, v := range m["value"].([]any) {
			seen = append(seen, v.(map[string]any)["name"].(string))
		}
		next, _ = m["@odata.nextLink"].(string)
		if next != "" && !strings.Contains(next, "$skiptoken=") {
			t.Fatalf("nextLink %q", next)
		}
		pages++
	}
	if pages != 3 || strings.Join(seen, "") != "abcdefg" {
		t.Fatalf("%d pages, rows %v", pages, seen)
	}
	wantError(t, send(t, s, http.MethodGet, api+"accounts?$skiptoken=nonsense", nil), 400, CodeQuerySyntax, "paging cookie")
}

func TestFormattedValues(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	id := create(t, s, "accounts", map[string]any{"name": "F", "revenue": 1234567.5, "creditonhold": true,
		"accountcategorycode": 2, "numberofemployees": 1200})["accountid"].(string)
	m := send(t, s, http.MethodGet, api+"accounts("+id+")", nil, "Prefer", `odata.include-annotations="OData.Community.Display.V1.FormattedValue"`).json(t)
	want := map[string]string{"revenue": "$1,234,567.50", "creditonhold": "Yes", "accountcategorycode": "Standard", "numberofemployees": "1,200", "statecode": "Active"}
	for k, v := range want {
		if got := m[k+"@"+annFormatted]; got != v {
			t.Errorf("%s formatted %v, want %q", k, got, v)
		}
	}
	if _, ok := m["_ownerid_value@"+annLookupTable]; ok {
		t.Error("a FormattedValue-only preference returned lookuplogicalname")
	}
	if m["_ownerid_value@"+annFormatted] != "# Emulator Application User" {
		t.Errorf("owner formatted %v", m["_ownerid_value@"+annFormatted])
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func TestPageSizeAboveTheMaximumIsIgnored(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	create(t, s, "accounts", map[string]any{"name": "a"})
	a := send(t, s, http.MethodGet, api+"accounts", nil, "Prefer", "odata.maxpagesize=5001")
	if a.status != 200 || a.header.Get("Preference-Applied") != "" {
		t.Fatalf("maxpagesize 5001: %d %q", a.status, a.header.Get("Preference-Applied"))
	}
}

func TestOwnerBindsUserOrTeam(t *testing.T) {
	t.Parallel()
	const team = "7ea00000-0000-4000-8000-000000000001"
	s := start(t, Options{Tables: []Table{{LogicalName: "team", Rows: []map[string]any{{"teamid": team, "name": "Sales"}}}}})
	a := create(t, s, "accounts", map[string]any{"name": "T", "ownerid@odata.bind": "/teams(" + team + ")"})
	id := a["accountid"].(string)
	m := send(t, s, http.MethodGet, api+"accounts("+id+")?$select=_ownerid_value", nil, "Prefer", `odata.include-annotations="*"`).json(t)
	if m["_ownerid_value"] != team || m["_ownerid_value@"+annLookupTable] != "team" || m["_ownerid_value@"+annFormatted] != "Sales" {
		t.Fatalf("team owner: %v", m)
	}
	send(t, s, http.MethodPatch, api+"accounts("+id+")", map[string]any{"ownerid@odata.bind": "/systemusers(" + callerID + ")"})
	m = send(t, s, http.MethodGet, api+"accounts("+id+")?$select=_ownerid_value", nil, "Prefer", `odata.include-annotations="*"`).json(t)
	if m["_ownerid_value@"+annLookupTable] != "systemuser" {
		t.Fatalf("user owner: %v", m)
	}
	wantError(t, send(t, s, http.MethodPatch, api+"accounts("+id+")", map[string]any{"ownerid@odata.bind": "/accounts(" + id + ")"}), 400, CodePayloadError, "binds table 'systemuser' or 'team'")
}

func TestResetRestoresTheSeedRows(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Tables: []Table{{LogicalName: "account", Rows: []map[string]any{{"name": "Seeded"}}}}})
	create(t, s, "accounts", map[string]any{"name": "Added"})
	if rows, _ := s.Rows("account"); len(rows) != 2 {
		t.Fatalf("before reset: %d rows", len(rows))
	}
	s.Reset()
	rows, _ := s.Rows("account")
	if len(rows) != 1 || rows[0]["name"] != "Seeded" {
		t.Fatalf("after reset: %v", rows)
	}
}
