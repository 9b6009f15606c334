package spec

import (
	"strconv"

	"github.com/pa-connector/pa-connector/operations"
)

// Fields of the dataverse:1 row operations.
var (
	Table = &Field{
		Name: "table", Label: "Table", Group: "input", Kind: Text, Required: true,
		Help: "The table's logical name (account, contact, task) or its entity set name (accounts). A name that is no table gets an incident naming the closest tables. For performAction: the table of the row a bound action runs on, with rowId; empty for an unbound action.",
	}
	RowID = &Field{
		Name: "rowId", Label: "Row ID", Group: "input", Kind: RowRef, Required: true,
		Help: "The row's id (a GUID), or an alternate key as a FEEL context of column values such as ={emailaddress1: \"a@b.c\"}. For performAction: the row a bound action runs on, with table; empty for an unbound action.",
	}
	Row = &Field{
		Name: "row", Label: "Row", Group: "input", Kind: Context, Required: true,
		Help: "The columns to write, as a FEEL context such as ={subject: \"Call back\", regardingobjectid: {table: \"lead\", id: leadId}}. A lookup is set by {table, id}; raw name@odata.bind keys pass through.",
	}
	Select = &Field{
		Name: "select", Label: "Select columns", Group: "input", Kind: List,
		Help: "The columns to read, as a list or a comma-separated string; empty: all columns.",
	}
	Expand = &Field{
		Name: "expand", Label: "Expand", Group: "input", Kind: Text,
		Help: "An OData $expand of single-valued lookups, for example primarycontactid($select=fullname).",
	}
	Filter = &Field{
		Name: "filter", Label: "Filter", Group: "input", Kind: Text,
		Help: "An OData $filter, for example statecode eq 0 and contains(name,'Contoso'); sent as one encoded query parameter.",
	}
	OrderBy = &Field{
		Name: "orderBy", Label: "Order by", Group: "input", Kind: Text,
		Help: "An OData $orderby, for example scheduledend asc.",
	}
	Top = &Field{
		Name: "top", Label: "Top", Group: "input", Kind: Int, Min: 1, Max: 1 << 31 / 2,
		Help: "The most rows Dataverse returns in all ($top); empty: no limit but maxRows.",
	}
	PageSize = &Field{
		Name: "pageSize", Label: "Page size", Group: "input", Kind: Int,
		Default: strconv.Itoa(operations.DefaultPageSize), NoPrefill: true, Min: 1, Max: operations.MaxPageSize, Unit: "rows",
		Help: "Rows per page read from Dataverse (Prefer: odata.maxpagesize).",
		Note: "Default = " + strconv.Itoa(operations.DefaultPageSize) + " rows, max = " + strconv.Itoa(operations.MaxPageSize) + ".",
	}
	MaxRows = &Field{
		Name: "maxRows", Label: "Maximum rows", Group: "input", Kind: Int,
		Default: strconv.Itoa(operations.DefaultMaxRows), NoPrefill: true, Min: 1, Max: 1 << 31 / 2, Unit: "rows",
		Help: "The worker follows @odata.nextLink until it has read this many rows; the result's nextLink is non-null when more remain.",
		Note: "Default = " + strconv.Itoa(operations.DefaultMaxRows) + " rows.",
	}
	IncludeFormattedValues = &Field{
		Name: "includeFormattedValues", Label: "Include formatted values", Group: "input", Kind: Bool,
		Help: "true: each row carries Dataverse's formatted values (column@OData.Community.Display.V1.FormattedValue).",
	}
	Action = &Field{
		Name: "action", Label: "Action", Group: "input", Kind: Text, Required: true,
		Pattern: operations.ActionNamePattern, Shape: "the unique name of a custom API or action (such as new_NotifyOwner)",
		Help: "The unique name of the custom API or custom process action to call (case-sensitive), such as new_NotifyOwner. A bound one runs on the row that table and rowId name. One that does not exist (or is bound otherwise) gets an incident saying so.",
	}
	Parameters = &Field{
		Name: "parameters", Label: "Parameters", Group: "input", Kind: Context, MaxBytes: 2 << 20,
		Help: "The action's request parameters, as a FEEL context such as ={Text: \"Call back\", Priority: 2}; empty: none. A parameter Dataverse refuses (unknown, missing or of the wrong type) gets an incident naming Dataverse's error code.",
	}
	IfMatch = &Field{
		Name: "ifMatch", Label: "If-Match (ETag)", Group: "input", Kind: Text,
		Pattern: operations.ETagPattern, Shape: `an ETag as the row's @odata.etag gives it (W/"12345"), or "*"`,
		Help: "An ETag the row must still have (optimistic concurrency, a mismatch is error code 412); empty: the row must exist (\"*\"), an update never creates.",
	}
)

// Operation names of dataverse:1.
const (
	OpCreateRow = string(operations.OpCreateRow)
	OpGetRow    = string(operations.OpGetRow)
	OpListRows  = string(operations.OpListRows)
	OpUpdateRow = string(operations.OpUpdateRow)
	OpDeleteRow = string(operations.OpDeleteRow)
	OpUpsertRow = string(operations.OpUpsertRow)
	// OpPerformAction calls a custom API or action, unbound or bound to a row.
	OpPerformAction = string(operations.OpPerformAction)
)

const rowResultHelp = "Expression to map the response into process variables; response.body is "

// Dataverse is the job type dataverse:1: rows of Dataverse tables, with the same
// authentication, secrets, limits and outcomes as desktop flows.
var Dataverse = &JobType{
	Type:        "dataverse:1",
	File:        "pa-connector-dataverse.json",
	TemplateID:  "io.pa-connector.Dataverse.v1",
	Version:     1,
	Name:        "Dataverse rows (pa-connector)",
	Description: "Create, get, list, update, upsert and delete Dataverse rows and call custom APIs and actions with the pa-connector job worker (job type dataverse:1). A missing row (404) and an ETag mismatch (412) can be caught through the error expression",
	Keywords:    []string{"dataverse", "dynamics 365", "rows", "create row", "get row", "list rows", "update row", "upsert row", "delete row", "custom api", "action", "odata"},
	Engines:     PowerAutomate.Engines,
	Icon:        PowerAutomate.Icon,
	Groups:      PowerAutomate.Groups,
	Default:     OpGetRow,
	Operations: []*Operation{
		{Name: OpGetRow, Label: "Get a row", Fields: with(dataverse, Table, RowID, Select, Expand),
			Result: Result{ID: "resultExpressionGetRow", Value: "={row: response.body.row}", Help: rowResultHelp + "{row}." + resultExpressionDocs}},
		{Name: OpCreateRow, Label: "Create a row", Fields: with(dataverse, Table, Row),
			Result: Result{ID: "resultExpressionCreateRow", Value: "={rowId: response.body.id}", Help: rowResultHelp + "{id, row} (the row as created)." + resultExpressionDocs}},
		{Name: OpUpdateRow, Label: "Update a row", Fields: with(dataverse, Table, RowID, Row, IfMatch),
			Result: Result{ID: "resultExpressionUpdateRow", Help: rowResultHelp + "{id, row} (the row as updated)." + resultExpressionDocs}},
		{Name: OpUpsertRow, Label: "Upsert a row (update it, or create it when missing)", Fields: with(dataverse, Table, RowID, Row),
			Result: Result{ID: "resultExpressionUpsertRow", Help: rowResultHelp + "{id, row, created}: created is true when the row did not exist." + resultExpressionDocs}},
		{Name: OpDeleteRow, Label: "Delete a row", Fields: with(dataverse, Table, RowID, IfMatch),
			Result: Result{ID: "resultExpressionDeleteRow", Help: rowResultHelp + "{id}." + resultExpressionDocs}},
		{Name: OpListRows, Label: "List rows", Fields: with(dataverse, Table, Select, Filter, OrderBy, Expand, Top, PageSize, MaxRows, IncludeFormattedValues),
			Result: Result{ID: "resultExpressionListRows", Value: "={rows: response.body.rows}", Help: rowResultHelp + "{rows, count, nextLink}: nextLink is non-null when more rows remain." + resultExpressionDocs}},
		{Name: OpPerformAction, Label: "Perform an action (custom API)", Fields: with(dataverse, Action, Table, RowID, Parameters),
			Optional: []*Field{Table, RowID},
			Result: Result{ID: "resultExpressionPerformAction", Value: "={actionResponse: response.body}",
				Help: "Expression to map the response into process variables; response.body is the action's response: its output parameters, {} when it has none." + resultExpressionDocs}},
	},
	Headers: taskHeaders,
}
