package operations

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// A small metadata set: task's polymorphic regardingobjectid and ownerid, contact's customer
// lookup, as the emulator and Dataverse name their navigation properties.
var (
	testTables = map[string]*Table{}
	testNavs   = map[string]map[string]string{
		"regardingobjectid": {"account": "regardingobjectid_account_task", "lead": "regardingobjectid_lead_task"},
		"ownerid":           {"systemuser": "ownerid", "team": "ownerid"},
		"new_accountid":     {"account": "new_AccountId"},
	}
	testTask = &Table{LogicalName: "task", EntitySetName: "tasks", PrimaryID: "activityid"}
)

func init() {
	for _, t := range []*Table{testTask,
		{LogicalName: "account", EntitySetName: "accounts", PrimaryID: "accountid"},
		{LogicalName: "lead", EntitySetName: "leads", PrimaryID: "leadid"},
		{LogicalName: "systemuser", EntitySetName: "systemusers", PrimaryID: "systemuserid"},
		{LogicalName: "team", EntitySetName: "teams", PrimaryID: "teamid"},
	} {
		testTables[t.LogicalName], testTables[t.EntitySetName] = t, t
	}
}

func testResolve(name string) (*Table, error) {
	if t := testTables[strings.ToLower(name)]; t != nil {
		return t, nil
	}
	return nil, &InputError{Field: "table", Msg: "no table " + name}
}

func TestBindLookups(t *testing.T) {
	const id = "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	got, err := bindLookups("row", testTask, map[string]any{
		"subject":           "Call",
		"regardingobjectid": map[string]any{"table": "lead", "id": id},
		"ownerid":           map[string]any{"table": "teams", "id": id},
		"new_accountid":     map[string]any{"table": "account", "id": map[string]any{"accountnumber": "A'1 (2)"}},
		"x@odata.bind":      "/anything(raw)",
		"description":       map[string]any{"note": "a context without table is not a lookup"},
	}, testNavs, testResolve)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"subject":                                "Call",
		"regardingobjectid_lead_task@odata.bind": "/leads(" + id + ")",
		"ownerid@odata.bind":                     "/teams(" + id + ")",
		"new_AccountId@odata.bind":               "/accounts(accountnumber='A''1 (2)')",
		"x@odata.bind":                           "/anything(raw)",
		"description":                            map[string]any{"note": "a context without table is not a lookup"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bindLookups =\n%v\nwant\n%v", got, want)
	}
	for _, c := range []struct {
		row   map[string]any
		field string
		msg   string
	}{
		{map[string]any{"regardingobjectid": map[string]any{"table": "systemuser", "id": id}}, "row.regardingobjectid.table", "points to account, lead"},
		{map[string]any{"subject": map[string]any{"table": "lead", "id": id}}, "row.subject", "not a lookup column of table task"},
		{map[string]any{"ownerid": map[string]any{"table": "nope", "id": id}}, "row.ownerid.table", "no table nope"},
		{map[string]any{"ownerid": map[string]any{"table": 3, "id": id}}, "row.ownerid.table", "must be a table name"},
		{map[string]any{"ownerid": map[string]any{"table": "team"}}, "row.ownerid.id", "is required"},
		{map[string]any{"ownerid": map[string]any{"table": "team", "id": id, "name": "x"}}, "row.ownerid", `unexpected key "name"`},
		{map[string]any{"ownerid": map[string]any{"table": "team", "id": id}, "ownerid@odata.bind": "/teams(" + id + ")"}, "row.ownerid", "sets already"},
	} {
		_, err := bindLookups("row", testTask, c.row, testNavs, testResolve)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != c.field || !strings.Contains(ie.Msg, c.msg) {
			t.Errorf("bindLookups(%v) = %v, want an error on %s saying %q", c.row, err, c.field, c.msg)
		}
	}
}

// FuzzBindLookups: a lookup {table, id} becomes exactly one <nav>@odata.bind whose navigation
// property is the one the metadata gives for that column and target, pointing at the target's
// entity set and id; every other column passes unchanged; a refusal names a row field and
// happens only when the lookup cannot be bound.
func FuzzBindLookups(f *testing.F) {
	f.Add("regardingobjectid", "lead", "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6", "raw")
	f.Add("ownerid", "teams", "6F0D8A3E-1B2C-4D5E-8F90-A1B2C3D4E5F6", "/x(1)")
	f.Add("subject", "account", "x", "")
	f.Add("regardingobjectid", "accounts", "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6", "")
	f.Add("regardingobjectid_lead_task@odata.bind", "lead", "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6", "y")
	f.Fuzz(func(t *testing.T, col, table, id, raw string) {
		row := map[string]any{"description": raw, "regardingobjectid_account_task@odata.bind": raw}
		row[col] = map[string]any{"table": table, "id": id}
		got, err := bindLookups("row", testTask, row, testNavs, testResolve)
		raw0 := strings.Contains(col, "@") // a key with @ is passed through as it is
		target, _ := testResolve(table)
		var nav string
		if target != nil {
			nav = testNavs[col][target.LogicalName]
		}
		_, taken := row[nav+bindSuffix]
		bindable := raw0 || (nav != "" && ValidID(id) && !taken)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.HasPrefix(ie.Field, "row.") {
				t.Fatalf("error %v names no row field", err)
			}
			if bindable {
				t.Fatalf("bindLookups refused a bindable lookup %s → %s(%s): %v", col, table, id, err)
			}
			return
		}
		if !bindable {
			t.Fatalf("bindLookups bound %s → %s(%s), which the metadata does not allow: %v", col, table, id, got)
		}
		if len(got) != len(row) {
			t.Fatalf("bindLookups gave %d columns for %d: %v", len(got), len(row), got)
		}
		for k, v := range row {
			if k == col && !raw0 {
				continue
			}
			if !reflect.DeepEqual(got[k], v) {
				t.Fatalf("column %s changed: %v → %v", k, v, got[k])
			}
		}
		if !raw0 {
			if v := got[nav+bindSuffix]; v != "/"+target.EntitySetName+"("+id+")" {
				t.Fatalf("%s@odata.bind = %v, want /%s(%s)", nav, v, target.EntitySetName, id)
			}
		}
	})
}
