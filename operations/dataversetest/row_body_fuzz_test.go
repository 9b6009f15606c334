package dataversetest

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzRowBody: the create/update body parser never panics, refuses only
// with the documented 400/404 codes, and what it accepts round-trips: the
// values written back as a body (lookups as @odata.bind) parse to the same values.
func FuzzRowBody(f *testing.F) {
	const acct = "a0000000-0000-4000-8000-000000000001"
	for _, seed := range []string{
		`{"name":"Contoso","revenue":12.5,"numberofemployees":3,"creditonhold":false}`,
		`{"accountid":"` + acct + `","primarycontactid@odata.bind":"/contacts(c0000000-0000-4000-8000-000000000001)"}`,
		`{"parentaccountid@odata.bind":"/accounts(accountnumber='C-1')","accountcategorycode":2}`,
		`{"parentaccountid@odata.bind":null,"name":null,"@odata.type":"Microsoft.Dynamics.CRM.account"}`,
		`{"createdon":"2024-01-01T00:00:00Z","description":"x"}`,
		`{"numberofemployees":1.5}`, `{"name":{}}`, `[]`, `{`, `{"x@odata.bind":"/accounts(1)"}`,
	} {
		f.Add([]byte(seed))
	}
	e := NewHandler(Options{Tables: []Table{
		{LogicalName: "account", Rows: []map[string]any{{"accountid": acct, "accountnumber": "C-1"}}},
		{LogicalName: "contact", Rows: []map[string]any{{"contactid": "c0000000-0000-4000-8000-000000000001"}}},
	}})
	defer e.Close()
	t := e.tables["account"]
	allowed := map[string]bool{CodePayloadError: true, CodeObjectDoesNotExist: true, CodeOutOfRange: true, CodeQuerySyntax: true, CodeResourceNotFound: true, CodeInvalidArgument: true}
	f.Fuzz(func(tt *testing.T, body []byte) {
		e.mu.Lock()
		defer e.mu.Unlock()
		b, err := e.parseRowBodyLocked(t, body, "")
		if err != nil {
			if (err.status != 400 && err.status != 404) || !allowed[err.code] {
				tt.Fatalf("%s: error %d %s %s", body, err.status, err.code, err.message)
			}
			return
		}
		again := map[string]any{}
		if b.id != "" {
			again[t.PrimaryIDAttribute] = b.id
		}
		for k, v := range b.vals {
			if ref, ok := v.(lookupRef); ok {
				again[navFor(t, t.cols[k], ref.table)+"@odata.bind"] = "/" + e.tables[ref.table].EntitySetName + "(" + ref.id + ")"
				continue
			}
			if v == nil {
				if c := t.cols[k]; isLookup(c.Type) {
					again[navFor(t, c, c.Targets[0])+"@odata.bind"] = nil
					continue
				}
			}
			again[k] = v
		}
		raw, merr := json.Marshal(again)
		if merr != nil {
			tt.Fatal(merr)
		}
		b2, err := e.parseRowBodyLocked(t, raw, "")
		if err != nil {
			tt.Fatalf("%s accepted, but its values %s are refused: %s", body, raw, err.message)
		}
		if !reflect.DeepEqual(b, b2) {
			tt.Fatalf("%s → %v, written back as %s → %v", body, b.vals, raw, b2.vals)
		}
	})
}
