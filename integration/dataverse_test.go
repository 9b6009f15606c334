//go:build integration

package integration

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestDataverseRowsThroughTheBinary runs dataverse:1 through the worker binary, the engine and
// the emulator binary: createRow → getRow → updateRow → updateRow with the ETag read before
// the first update, whose 412 an error boundary event catches → listRows across 3 pages →
// upsertRow twice (created, then updated) → createRow of an account with a {table, id} lookup
// → listRows with select, orderBy, top, expand and includeFormattedValues, reading the lookup
// back as _x_value with its annotations → performAction of a custom API bound to the contact.
func TestDataverseRowsThroughTheBinary(t *testing.T) {
	cfg := emulatorConfig()
	var seeded []map[string]any
	for i := range 7 {
		seeded = append(seeded, map[string]any{"lastname": fmt.Sprintf("Page%02d", i)})
	}
	cfg["tables"] = []map[string]any{{"logicalName": "contact", "rows": seeded},
		{"logicalName": "account", "rows": []map[string]any{{"name": "Northwind"}, {"name": "Contoso"}, {"name": "Fabrikam"}}}}
	cfg["actions"] = []map[string]any{{"name": "new_NotifyOwner", "boundTable": "contact",
		"inputs":  []map[string]any{{"name": "Text", "type": "Edm.String"}, {"name": "Priority", "type": "Edm.Int32"}},
		"outputs": map[string]any{"Contact": "${row.id}", "Said": "${inputs.Text}", "Priority": "${inputs.Priority}"}}}
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/dataverse-rows.bpmn")
	startWorker(t, "SECRET_DV_TOKEN="+dvToken)

	const upsertID = "c0c0c0c0-0000-4000-8000-0000000000a1"
	vars := runProcess(t, "dataverse-rows", map[string]any{"organizationUri": dv.URL, "authentication": bearer(), "upsertId": upsertID}, 30*time.Second)
	if id, _ := vars["createdId"].(string); len(id) != 36 {
		t.Fatalf("createdId = %v, want the created row's GUID", vars["createdId"])
	}
	if vars["fetchedName"] != "Grace" || vars["updatedTitle"] != "Admiral" {
		t.Errorf("fetchedName, updatedTitle = %v, %v; want Grace, Admiral", vars["fetchedName"], vars["updatedTitle"])
	}
	// listRows runs only after the boundary event caught the stale update's 412.
	want := []any{"Page00", "Page01", "Page02", "Page03", "Page04", "Page05", "Page06"}
	if vars["listed"] != float64(7) || !reflect.DeepEqual(vars["listedNames"], want) || vars["listedNext"] != nil {
		t.Fatalf("listed %v rows %v (next %v), want the 7 seeded rows in order and no next link; variables %v",
			vars["listed"], vars["listedNames"], vars["listedNext"], vars)
	}
	if vars["upsertCreated"] != true || vars["upsertedId"] != upsertID || vars["upsertAgainCreated"] != false || vars["upsertName"] != "Margaret Hamilton" {
		t.Errorf("upserts: created %v (id %v), then created %v with fullname %v; want true (%s), then false with Margaret Hamilton",
			vars["upsertCreated"], vars["upsertedId"], vars["upsertAgainCreated"], vars["upsertName"], upsertID)
	}

	// top 2 of the 4 accounts by name: the one created (its lookup read back) and Contoso.
	createdID, accountID := vars["createdId"], vars["accountId"]
	const (
		formatted = "@OData.Community.Display.V1.FormattedValue"
		lookup    = "_primarycontactid_value"
	)
	wantFirst := map[string]any{
		"name": "Adatum", "revenue": 1234.5, "revenue" + formatted: "$1,234.50",
		lookup: createdID, lookup + formatted: "Grace Hopper",
		lookup + "@Microsoft.Dynamics.CRM.lookuplogicalname":            "contact",
		lookup + "@Microsoft.Dynamics.CRM.associatednavigationproperty": "primarycontactid",
		"primarycontactid": map[string]any{"lastname": "Hopper", "contactid": createdID},
		"accountid":        accountID,
	}
	accounts, _ := vars["accounts"].([]any)
	if vars["accountsCount"] != float64(2) || len(accounts) != 2 || vars["accountsNext"] != nil {
		t.Fatalf("listRows with top 2 = count %v, %d rows, next %v; want 2 rows and no next link: %v", vars["accountsCount"], len(accounts), vars["accountsNext"], accounts)
	}
	first, _ := accounts[0].(map[string]any)
	if exp, ok := first["primarycontactid"].(map[string]any); ok {
		delete(exp, "@odata.etag") // an expanded row carries its own ETag
	}
	if etag, _ := first["@odata.etag"].(string); etag == "" {
		t.Errorf("listed account has no @odata.etag: %v", first)
	}
	delete(first, "@odata.etag")
	if !reflect.DeepEqual(first, wantFirst) {
		t.Errorf("first account = %v\nwant %v", first, wantFirst)
	}
	if second, _ := accounts[1].(map[string]any); second["name"] != "Contoso" || second[lookup] != nil {
		t.Errorf("second account = %v, want Contoso without a primary contact", second)
	}

	wantAction := map[string]any{"Contact": createdID, "Said": "Adatum needs a call", "Priority": float64(2)}
	if !reflect.DeepEqual(vars["actionResponse"], wantAction) {
		t.Errorf("actionResponse = %v, want %v", vars["actionResponse"], wantAction)
	}
	counts := dv.counts(t)
	if counts["ListRows"] != 4 || counts["UpdateRow"] != 4 || counts["CreateRow"] != 2 || counts["Action"] != 1 {
		t.Errorf("emulator calls = %v, want 4 ListRows (3 pages of 3, then 1), 4 UpdateRow (2 updates, 2 upserts), 2 CreateRow and 1 Action", counts)
	}
}
