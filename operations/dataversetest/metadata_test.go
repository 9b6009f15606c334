package dataversetest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestEntityDefinitions(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Tables: []Table{{LogicalName: "new_invoice", EntitySetName: "new_invoices", PrimaryNameAttribute: "new_name",
		Columns: []Column{{LogicalName: "new_name", Type: TypeString}}}}})
	a := send(t, s, http.MethodGet, api+"EntityDefinitions?$select=LogicalName,EntitySetName", nil)
	sets := map[string]string{}
	for _, v := range a.json(t)["value"].([]any) {
		m := v.(map[string]any)
		sets[m["LogicalName"].(string)] = m["EntitySetName"].(string)
		if len(m) != 3 {
			t.Errorf("$select returned %v", m)
		}
	}
	for logical, set := range map[string]string{"account": "accounts", "contact": "contacts", "task": "tasks", "lead": "leads",
		"incident": "incidents", "new_project": "new_projects", "new_invoice": "new_invoices"} {
		if sets[logical] != set {
			t.Errorf("%s: entity set %q, want %q", logical, sets[logical], set)
		}
	}
	a = send(t, s, http.MethodGet, api+"EntityDefinitions?$select=LogicalName&$filter="+url.QueryEscape("EntitySetName eq 'tasks'"), nil)
	if v := a.json(t)["value"].([]any); len(v) != 1 || v[0].(map[string]any)["LogicalName"] != "task" {
		t.Fatalf("filter by entity set: %s", a.body)
	}

	m := send(t, s, http.MethodGet, api+"EntityDefinitions(LogicalName='task')?$expand=Attributes,ManyToOneRelationships", nil).json(t)
	if m["PrimaryIdAttribute"] != "activityid" || m["PrimaryNameAttribute"] != "subject" || m["EntitySetName"] != "tasks" {
		t.Fatalf("task definition %v", m)
	}
	var regarding map[string]any
	for _, v := range m["Attributes"].([]any) {
		if at := v.(map[string]any); at["LogicalName"] == "regardingobjectid" {
			regarding = at
		}
	}
	if regarding["@odata.type"] != "#Microsoft.Dynamics.CRM.LookupAttributeMetadata" || regarding["AttributeType"] != "Lookup" || len(regarding["Targets"].([]any)) != 5 {
		t.Fatalf("regardingobjectid %v", regarding)
	}
	navs := map[string]string{}
	for _, v := range m["ManyToOneRelationships"].([]any) {
		r := v.(map[string]any)
		if r["ReferencingAttribute"] == "regardingobjectid" {
			navs[r["ReferencedEntity"].(string)] = r["ReferencingEntityNavigationPropertyName"].(string)
		}
	}
	if navs["lead"] != "regardingobjectid_lead_task" || navs["new_project"] != "regardingobjectid_new_project_task" {
		t.Fatalf("navigation properties %v", navs)
	}
	a = send(t, s, http.MethodGet, api+"EntityDefinitions(LogicalName='contact')/Attributes", nil)
	if a.status != 200 || len(a.json(t)["value"].([]any)) < 10 {
		t.Fatalf("attributes: %d %s", a.status, a.body)
	}
	wantError(t, send(t, s, http.MethodGet, api+"EntityDefinitions(LogicalName='nope')", nil), 404, CodeObjectDoesNotExist, "nope")
	wantError(t, send(t, s, http.MethodGet, api+"EntityDefinitions?$select=Bogus", nil), 400, CodeQuerySyntax, "Could not find a property named 'Bogus'")
}

func TestValidateOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tables []Table
		want   string
	}{
		{"bad type", []Table{{LogicalName: "x", Columns: []Column{{LogicalName: "a", Type: "Text"}}}}, `table x: columns[0] (a): type "Text" is not one of`},
		{"missing target", []Table{{LogicalName: "x", Columns: []Column{{LogicalName: "a", Type: TypeLookup, Targets: []string{"nope"}}}}}, "target table nope is not defined"},
		{"bad seed row", []Table{{LogicalName: "account", Rows: []map[string]any{{"name": 3}}}}, "table account: rows[0]: Cannot convert the literal '3'"},
		{"duplicate key in seed", []Table{{LogicalName: "account", Rows: []map[string]any{{"accountnumber": "1"}, {"accountnumber": "1"}}}}, "matching key values"},
		{"bad deny", []Table{{LogicalName: "account", Deny: []string{"Append"}}}, `deny "Append"`},
		{"seed lookup to a later row", []Table{{LogicalName: "account", Rows: []map[string]any{
			{"name": "a", "primarycontactid@odata.bind": "/contacts(00000000-0000-4000-8000-00000000c001)"}}},
			{LogicalName: "contact", Rows: []map[string]any{{"contactid": "00000000-0000-4000-8000-00000000c001", "lastname": "c"}}}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Options{Tables: c.tables}.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}
