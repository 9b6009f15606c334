package operations

import (
	"fmt"
	"sort"
	"strings"
)

// bindSuffix marks a column set by binding: name@odata.bind.
const bindSuffix = "@odata.bind"

// isLookupValue reports whether a column value is a lookup given as {table, id}.
func isLookupValue(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, hasTable := m["table"]
	return hasTable
}

// bindLookups returns a row body in which each lookup given as {table: "contact", id: "<guid>"}
// (id may also be an alternate key context) becomes "<navigation property>@odata.bind":
// "/contacts(<key>)". The navigation property comes from navs, the table's lookup columns and
// their targets (so a polymorphic lookup such as customerid picks customerid_contact). Other
// columns, raw name@odata.bind keys included, are kept as they are. resolve finds the target
// table by logical or entity set name. field names the variable in errors ("row").
func bindLookups(field string, t *Table, row map[string]any, navs map[string]map[string]string, resolve func(string) (*Table, error)) (map[string]any, error) {
	out := make(map[string]any, len(row))
	names := make([]string, 0, len(row))
	for k := range row {
		names = append(names, k)
	}
	sort.Strings(names) // errors name the same column every time
	for _, col := range names {
		v := row[col]
		if !isLookupValue(v) || strings.Contains(col, "@") {
			if _, dup := out[col]; dup {
				return nil, &InputError{Field: field + "." + col, Msg: "is set twice (as a lookup and as a raw @odata.bind)"}
			}
			out[col] = v
			continue
		}
		f := field + "." + col
		m := v.(map[string]any)
		for k := range m {
			if k != "table" && k != "id" {
				return nil, &InputError{Field: f, Msg: fmt.Sprintf("a lookup is {table, id}; unexpected key %q", truncate(k, 80))}
			}
		}
		name, ok := m["table"].(string)
		if !ok || name == "" {
			return nil, &InputError{Field: f + ".table", Msg: "must be a table name such as \"contact\""}
		}
		target, err := resolve(name)
		if err != nil {
			if ie, ok := err.(*InputError); ok {
				return nil, &InputError{Field: f + ".table", Msg: ie.Msg}
			}
			return nil, err
		}
		key, err := bindKey(f+".id", m["id"], target.PrimaryID)
		if err != nil {
			return nil, err
		}
		targets, isLookup := navs[col]
		if !isLookup {
			return nil, &InputError{Field: f, Msg: fmt.Sprintf("%s is not a lookup column of table %s", col, t.LogicalName)}
		}
		nav, ok := targets[target.LogicalName]
		if !ok {
			known := make([]string, 0, len(targets))
			for k := range targets {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, &InputError{Field: f + ".table", Msg: fmt.Sprintf("lookup %s of table %s cannot point to %s; it points to %s", col, t.LogicalName, target.LogicalName, strings.Join(known, ", "))}
		}
		k := nav + bindSuffix
		if _, dup := out[k]; dup {
			return nil, &InputError{Field: f, Msg: fmt.Sprintf("binds %s, which the row sets already", k)}
		}
		if _, dup := row[k]; dup {
			return nil, &InputError{Field: f, Msg: fmt.Sprintf("binds %s, which the row sets already", k)}
		}
		out[k] = "/" + target.EntitySetName + "(" + key + ")"
	}
	return out, nil
}
