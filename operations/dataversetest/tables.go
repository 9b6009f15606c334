package dataversetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Column types (AttributeMetadata.AttributeType) the emulator knows.
const (
	TypeString   = "String"
	TypeMemo     = "Memo"
	TypeInteger  = "Integer"
	TypeBigInt   = "BigInt"
	TypeDecimal  = "Decimal"
	TypeMoney    = "Money"
	TypeDouble   = "Double"
	TypeBoolean  = "Boolean"
	TypeDateTime = "DateTime"
	TypeGUID     = "Uniqueidentifier"
	TypePicklist = "Picklist"
	TypeState    = "State"
	TypeStatus   = "Status"
	TypeLookup   = "Lookup"
	TypeCustomer = "Customer"
	TypeOwner    = "Owner"
)

// Privileges a Table can deny (Table.Deny).
const (
	PrivCreate = "Create"
	PrivRead   = "Read"
	PrivWrite  = "Write"
	PrivDelete = "Delete"
)

// Column is one attribute of a table.
type Column struct {
	// LogicalName is the column's name, lower case.
	LogicalName string `json:"logicalName"`
	// Type is an AttributeType such as String, Integer, Money, Picklist or Lookup.
	Type string `json:"type"`
	// Targets are the tables a Lookup, Customer or Owner column may point to.
	Targets []string `json:"targets,omitempty"`
	// Navigation maps a target table to the single-valued navigation property
	// used in "<nav>@odata.bind" and $expand. Default: the column's name for a
	// single target, "<column>_<target>" for several.
	Navigation map[string]string `json:"navigation,omitempty"`
	// Options are the labels of a Picklist, State or Status column's values.
	Options map[int]string `json:"options,omitempty"`
	// Default is the value a created row gets when the body does not set it.
	Default any `json:"default,omitempty"`
}

// Table is a Dataverse table with its metadata and seed rows.
type Table struct {
	// LogicalName, e.g. "account". Required.
	LogicalName string `json:"logicalName"`
	// EntitySetName, e.g. "accounts"; default LogicalName+"s".
	EntitySetName string `json:"entitySetName,omitempty"`
	// PrimaryIDAttribute; default LogicalName+"id".
	PrimaryIDAttribute string `json:"primaryIdAttribute,omitempty"`
	// PrimaryNameAttribute; default "name".
	PrimaryNameAttribute string `json:"primaryNameAttribute,omitempty"`
	// Columns besides the primary key, createdon, modifiedon and versionnumber,
	// which every table has.
	Columns []Column `json:"columns,omitempty"`
	// AlternateKeys lists the column sets that identify a row, e.g.
	// [["emailaddress1"]]; each is unique among the table's rows.
	AlternateKeys [][]string `json:"alternateKeys,omitempty"`
	// Deny lists privileges every caller lacks on the table (Create, Read,
	// Write, Delete): such requests get 403 0x80040220.
	Deny []string `json:"deny,omitempty"`
	// Rows are seed rows: column values as a client would send them, lookups
	// as "<nav>@odata.bind". A row without its primary key gets a new id.
	Rows []map[string]any `json:"rows,omitempty"`
}

// table is a Table with its derived indexes.
type table struct {
	Table
	cols     map[string]*Column // logical name → column
	order    []string           // column names in answer order, primary key last
	navs     map[string]navProp // navigation property → column and target
	otc      int                // object type code, for messages
	metadata string             // MetadataId
}

// navProp is a single-valued navigation property of a lookup column. Most
// point at one table; ownerid points at systemuser and team alike.
type navProp struct {
	column  string
	targets []string
}

func (np navProp) binds(table string) bool { return containsString(np.targets, table) }

// edmType is the OData type of a column's value.
func edmType(t string) string {
	switch t {
	case TypeString, TypeMemo:
		return "Edm.String"
	case TypeInteger, TypePicklist, TypeState, TypeStatus:
		return "Edm.Int32"
	case TypeBigInt:
		return "Edm.Int64"
	case TypeDecimal, TypeMoney:
		return "Edm.Decimal"
	case TypeDouble:
		return "Edm.Double"
	case TypeBoolean:
		return "Edm.Boolean"
	case TypeDateTime:
		return "Edm.DateTimeOffset"
	}
	return "Edm.Guid"
}

func isLookup(t string) bool { return t == TypeLookup || t == TypeCustomer || t == TypeOwner }

// lookupProp is the read-back property of a lookup column: _x_value.
func lookupProp(col string) string { return "_" + col + "_value" }

// validTypes are the column types a Table may declare.
var validTypes = []string{TypeString, TypeMemo, TypeInteger, TypeBigInt, TypeDecimal, TypeMoney, TypeDouble,
	TypeBoolean, TypeDateTime, TypeGUID, TypePicklist, TypeState, TypeStatus, TypeLookup, TypeCustomer, TypeOwner}

// compileTables merges the built-in tables with opts' tables and indexes
// them. A configured table with the name of a built-in one and no columns
// adds rows, keys or denials to it; one with columns replaces it.
func compileTables(extra []Table) (map[string]*table, error) {
	byName := map[string]Table{}
	var names []string
	add := func(t Table) {
		if _, ok := byName[t.LogicalName]; !ok {
			names = append(names, t.LogicalName)
		}
		byName[t.LogicalName] = t
	}
	for _, t := range builtinTables() {
		add(t)
	}
	for i, t := range extra {
		if t.LogicalName == "" {
			return nil, fmt.Errorf("tables[%d].logicalName is required", i)
		}
		if base, ok := byName[t.LogicalName]; ok && len(t.Columns) == 0 {
			base.Rows = append(append([]map[string]any(nil), base.Rows...), t.Rows...)
			base.AlternateKeys = append(append([][]string(nil), base.AlternateKeys...), t.AlternateKeys...)
			base.Deny = append(append([]string(nil), base.Deny...), t.Deny...)
			add(base)
			continue
		}
		add(t)
	}
	out := make(map[string]*table, len(names))
	sets := map[string]string{}
	for i, n := range names {
		t, err := indexTable(byName[n], i+1)
		if err != nil {
			return nil, err
		}
		if other, dup := sets[t.EntitySetName]; dup {
			return nil, fmt.Errorf("table %s: entitySetName %s is also %s's", n, t.EntitySetName, other)
		}
		sets[t.EntitySetName] = n
		out[n] = t
	}
	for _, t := range out {
		for _, c := range t.cols {
			for _, target := range c.Targets {
				if _, ok := out[target]; !ok {
					return nil, fmt.Errorf("table %s: column %s: target table %s is not defined", t.LogicalName, c.LogicalName, target)
				}
			}
		}
	}
	return out, nil
}

func indexTable(t Table, n int) (*table, error) {
	where := "table " + t.LogicalName
	if t.LogicalName != strings.ToLower(t.LogicalName) {
		return nil, fmt.Errorf("%s: logicalName must be lower case", where)
	}
	if t.EntitySetName == "" {
		t.EntitySetName = t.LogicalName + "s"
	}
	if t.PrimaryIDAttribute == "" {
		t.PrimaryIDAttribute = t.LogicalName + "id"
	}
	if t.PrimaryNameAttribute == "" {
		t.PrimaryNameAttribute = "name"
	}
	tb := &table{Table: t, cols: map[string]*Column{}, navs: map[string]navProp{}, otc: 10000 + n,
		metadata: fmt.Sprintf("70816501-edb9-4740-a16c-%012x", n)}
	all := append([]Column{}, t.Columns...)
	all = append(all,
		Column{LogicalName: "createdon", Type: TypeDateTime},
		Column{LogicalName: "modifiedon", Type: TypeDateTime},
		Column{LogicalName: "versionnumber", Type: TypeBigInt},
	)
	for i := range all {
		c := all[i]
		cw := fmt.Sprintf("%s: columns[%d] (%s)", where, i, c.LogicalName)
		if c.LogicalName == "" || c.LogicalName != strings.ToLower(c.LogicalName) {
			return nil, fmt.Errorf("%s: logicalName must be set and lower case", cw)
		}
		if !containsString(validTypes, c.Type) {
			return nil, fmt.Errorf("%s: type %q is not one of %s", cw, c.Type, strings.Join(validTypes, ", "))
		}
		if _, dup := tb.cols[c.LogicalName]; dup || c.LogicalName == t.PrimaryIDAttribute {
			continue // built-in columns may be redeclared
		}
		if isLookup(c.Type) {
			if len(c.Targets) == 0 {
				return nil, fmt.Errorf("%s: a %s column needs targets", cw, c.Type)
			}
			for _, target := range c.Targets {
				nav := c.Navigation[target]
				if nav == "" {
					nav = c.LogicalName
					if len(c.Targets) > 1 {
						nav = c.LogicalName + "_" + target
					}
				}
				np := tb.navs[nav]
				if np.column != "" && np.column != c.LogicalName {
					return nil, fmt.Errorf("%s: navigation property %s is also column %s's", cw, nav, np.column)
				}
				tb.navs[nav] = navProp{column: c.LogicalName, targets: append(np.targets, target)}
			}
		} else if len(c.Targets) > 0 {
			return nil, fmt.Errorf("%s: targets are for Lookup, Customer and Owner columns only", cw)
		}
		if c.Default != nil {
			raw, _ := json.Marshal(c.Default)
			v, err := columnValue(t.LogicalName, &c, raw)
			if err != nil || v == nil {
				return nil, fmt.Errorf("%s: default %s is not a value of the column", cw, raw)
			}
			c.Default = v
		}
		tb.cols[c.LogicalName] = &c
		tb.order = append(tb.order, c.LogicalName)
	}
	tb.cols[t.PrimaryIDAttribute] = &Column{LogicalName: t.PrimaryIDAttribute, Type: TypeGUID}
	tb.order = append(tb.order, t.PrimaryIDAttribute)
	for _, key := range t.AlternateKeys {
		if len(key) == 0 {
			return nil, fmt.Errorf("%s: an alternate key needs columns", where)
		}
		for _, k := range key {
			if c, ok := tb.cols[k]; !ok || isLookup(c.Type) {
				return nil, fmt.Errorf("%s: alternate key column %s is not a column of the table", where, k)
			}
		}
	}
	for _, d := range t.Deny {
		if !containsString([]string{PrivCreate, PrivRead, PrivWrite, PrivDelete}, d) {
			return nil, fmt.Errorf("%s: deny %q is not Create, Read, Write or Delete", where, d)
		}
	}
	return tb, nil
}

// property returns the column behind an OData property name: a column's
// logical name, or _x_value for a lookup column x.
func (t *table) property(name string) (*Column, bool) {
	if strings.HasPrefix(name, "_") && strings.HasSuffix(name, "_value") {
		c, ok := t.cols[strings.TrimSuffix(strings.TrimPrefix(name, "_"), "_value")]
		if ok && isLookup(c.Type) {
			return c, true
		}
		return nil, false
	}
	c, ok := t.cols[name]
	if !ok || isLookup(c.Type) {
		return nil, false
	}
	return c, true
}

// propName is the OData property of a column (x or _x_value).
func propName(c *Column) string {
	if isLookup(c.Type) {
		return lookupProp(c.LogicalName)
	}
	return c.LogicalName
}

// typeName is the entity type's full name in messages.
func (t *table) typeName() string { return "Microsoft.Dynamics.CRM." + t.LogicalName }

func (t *table) denies(priv string) bool { return containsString(t.Deny, priv) }

// tableNames lists the logical names, sorted.
func tableNames(m map[string]*table) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
