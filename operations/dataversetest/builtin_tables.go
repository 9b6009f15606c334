package dataversetest

// The tables every emulator has: a subset of the columns of Dataverse's
// account, contact, lead, incident, task, systemuser and team tables, and a
// custom table new_project, with their real primary keys, entity set names,
// option values and navigation property names (polymorphic lookups such as
// customerid, parentcustomerid and regardingobjectid have one navigation
// property per target; a custom lookup's is its schema name, new_AccountId).

func str(name string) Column  { return Column{LogicalName: name, Type: TypeString} }
func memo(name string) Column { return Column{LogicalName: name, Type: TypeMemo} }
func money(name string) Column {
	return Column{LogicalName: name, Type: TypeMoney}
}
func integer(name string) Column { return Column{LogicalName: name, Type: TypeInteger} }
func date(name string) Column    { return Column{LogicalName: name, Type: TypeDateTime} }
func picklist(name string, opts map[int]string) Column {
	return Column{LogicalName: name, Type: TypePicklist, Options: opts}
}
func lookup(name string, targets ...string) Column {
	return Column{LogicalName: name, Type: TypeLookup, Targets: targets}
}

// ownerColumn is every user-owned table's ownerid.
func ownerColumn() Column {
	return Column{LogicalName: "ownerid", Type: TypeOwner, Targets: []string{"systemuser", "team"},
		Navigation: map[string]string{"systemuser": "ownerid", "team": "ownerid"}}
}

func stateStatus(states, statuses map[int]string, defaultStatus int) []Column {
	return []Column{
		{LogicalName: "statecode", Type: TypeState, Options: states, Default: 0},
		{LogicalName: "statuscode", Type: TypeStatus, Options: statuses, Default: defaultStatus},
	}
}

var activeInactive = map[int]string{0: "Active", 1: "Inactive"}

func builtinTables() []Table {
	return []Table{
		{
			LogicalName: "account",
			Columns: append([]Column{
				str("name"), str("accountnumber"), str("emailaddress1"), str("telephone1"), str("address1_city"),
				money("revenue"), integer("numberofemployees"), {LogicalName: "creditonhold", Type: TypeBoolean, Default: false},
				picklist("accountcategorycode", map[int]string{1: "Preferred Customer", 2: "Standard"}),
				lookup("primarycontactid", "contact"), lookup("parentaccountid", "account"),
				memo("description"), ownerColumn(),
			}, stateStatus(activeInactive, map[int]string{1: "Active", 2: "Inactive"}, 1)...),
			AlternateKeys: [][]string{{"accountnumber"}},
		},
		{
			LogicalName: "contact", PrimaryNameAttribute: "fullname",
			Columns: append([]Column{
				str("firstname"), str("lastname"), str("fullname"), str("emailaddress1"), str("telephone1"),
				str("jobtitle"), date("birthdate"),
				{LogicalName: "parentcustomerid", Type: TypeCustomer, Targets: []string{"account", "contact"}},
				memo("description"), ownerColumn(),
			}, stateStatus(activeInactive, map[int]string{1: "Active", 2: "Inactive"}, 1)...),
			AlternateKeys: [][]string{{"emailaddress1"}},
		},
		{
			LogicalName: "lead", PrimaryNameAttribute: "fullname",
			Columns: append([]Column{
				str("subject"), str("firstname"), str("lastname"), str("fullname"), str("companyname"),
				str("emailaddress1"), money("estimatedamount"),
				picklist("leadqualitycode", map[int]string{1: "Hot", 2: "Warm", 3: "Cold"}),
				lookup("parentaccountid", "account"), lookup("parentcontactid", "contact"),
				memo("description"), ownerColumn(),
			}, stateStatus(map[int]string{0: "Open", 1: "Qualified", 2: "Disqualified"},
				map[int]string{1: "New", 2: "Contacted", 3: "Qualified", 4: "Lost", 5: "Cannot Contact", 6: "No Longer Interested", 7: "Canceled"}, 1)...),
		},
		{
			LogicalName: "incident", PrimaryNameAttribute: "title",
			Columns: append([]Column{
				str("title"), str("ticketnumber"), memo("description"),
				{LogicalName: "customerid", Type: TypeCustomer, Targets: []string{"account", "contact"}},
				picklist("prioritycode", map[int]string{1: "High", 2: "Normal", 3: "Low"}),
				picklist("caseorigincode", map[int]string{1: "Phone", 2: "Email", 3: "Web"}),
				ownerColumn(),
			}, stateStatus(map[int]string{0: "Active", 1: "Resolved", 2: "Cancelled"},
				map[int]string{1: "In Progress", 2: "On Hold", 3: "Waiting for Details", 4: "Researching", 5: "Problem Solved", 6: "Cancelled"}, 1)...),
			AlternateKeys: [][]string{{"ticketnumber"}},
		},
		{
			LogicalName: "task", PrimaryIDAttribute: "activityid", PrimaryNameAttribute: "subject",
			Columns: append([]Column{
				str("subject"), memo("description"), date("scheduledend"), integer("percentcomplete"),
				{LogicalName: "prioritycode", Type: TypePicklist, Options: map[int]string{0: "Low", 1: "Normal", 2: "High"}, Default: 1},
				{LogicalName: "regardingobjectid", Type: TypeLookup, Targets: []string{"account", "contact", "lead", "incident", "new_project"},
					Navigation: map[string]string{
						"account": "regardingobjectid_account_task", "contact": "regardingobjectid_contact_task",
						"lead": "regardingobjectid_lead_task", "incident": "regardingobjectid_incident_task",
						"new_project": "regardingobjectid_new_project_task",
					}},
				ownerColumn(),
			}, stateStatus(map[int]string{0: "Open", 1: "Completed", 2: "Canceled"},
				map[int]string{2: "Not Started", 3: "In Progress", 4: "Waiting on someone else", 5: "Completed", 6: "Canceled", 7: "Deferred"}, 2)...),
		},
		{
			LogicalName: "new_project", PrimaryNameAttribute: "new_name",
			Columns: append([]Column{
				str("new_name"), str("new_code"), money("new_budget"), date("new_startdate"),
				{LogicalName: "new_accountid", Type: TypeLookup, Targets: []string{"account"}, Navigation: map[string]string{"account": "new_AccountId"}},
				picklist("new_status", map[int]string{100000000: "Planned", 100000001: "Active", 100000002: "Done"}),
				ownerColumn(),
			}, stateStatus(activeInactive, map[int]string{1: "Active", 2: "Inactive"}, 1)...),
			AlternateKeys: [][]string{{"new_code"}},
		},
		{
			LogicalName: "systemuser", PrimaryNameAttribute: "fullname",
			Columns: []Column{str("fullname"), str("internalemailaddress"), str("domainname")},
			Rows: []map[string]any{{"systemuserid": callerID, "fullname": "# Emulator Application User",
				"internalemailaddress": "emulator@example.com", "domainname": "emulator@example.com"}},
		},
		{
			LogicalName: "team",
			Columns:     []Column{str("name")},
		},
		workflowTable(),
		connectionReferenceTable(),
	}
}
