package dataversetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rowBody is a parsed create/update body: column values (nil = set null).
type rowBody struct {
	id   string // the primary key when the body sets it
	vals map[string]any
}

// parseRowBodyLocked reads a create or update body for table t the way
// OData deserializes it: unknown properties, wrong literal types and
// undeclared navigation properties are 400 0x80048d19. Lookups are set with
// "<navigation property>@odata.bind": "/<entity set>(<key>)" and must name
// an existing row. id is the row being updated ("" on create).
func (e *Emulator) parseRowBodyLocked(t *table, body []byte, id string) (rowBody, *odataError) {
	out := rowBody{vals: map[string]any{}}
	if len(bytes.TrimSpace(body)) == 0 {
		return out, payloadError("Invalid JSON. A token was not recognized in the JSON content.")
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return out, payloadError("Invalid JSON. " + jsonProblem(err))
	}
	if obj == nil {
		return out, payloadError("Invalid JSON. A JSON object was expected.")
	}
	for _, k := range sortedKeys(obj) {
		raw := obj[k]
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			np, declared := t.navs[nav]
			if !declared {
				return out, payloadError(fmt.Sprintf("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", nav))
			}
			if string(raw) == "null" {
				out.vals[np.column] = nil
				continue
			}
			var ref string
			if err := json.Unmarshal(raw, &ref); err != nil {
				return out, payloadError(fmt.Sprintf("An unexpected '%s' node was found for property named '%s' when reading from the JSON reader. A 'PrimitiveValue' node was expected.", jsonNode(raw), k))
			}
			target, rid, err := e.resolveBindLocked(np, ref)
			if err != nil {
				return out, err
			}
			out.vals[np.column] = lookupRef{table: target, id: rid}
			continue
		}
		if strings.Contains(k, "@") {
			continue // instance annotations such as @odata.type are ignored
		}
		if k == t.PrimaryIDAttribute {
			var s string
			g, ok := "", false
			if json.Unmarshal(raw, &s) == nil {
				g, ok = parseGUID(s)
			}
			if !ok {
				return out, payloadError(fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Guid'.", literal(raw)))
			}
			if id != "" && g != id {
				return out, newError(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("The %s in the request body (%s) does not match the key in the URL (%s).", k, g, id))
			}
			out.id = g
			continue
		}
		if _, isNav := t.navs[k]; isNav {
			return out, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("Deep insert through the navigation property '%s' is not supported by the emulator; use '%s@odata.bind'.", k, k))
		}
		c, ok := t.property(k)
		if !ok || isLookup(c.Type) {
			return out, payloadError(fmt.Sprintf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", k, t.typeName()))
		}
		if k == "createdon" || k == "modifiedon" || k == "versionnumber" {
			continue // system columns: Dataverse ignores values sent for them
		}
		v, err := columnValue(t.LogicalName, c, raw)
		if err != nil {
			return out, err
		}
		out.vals[k] = v
	}
	return out, nil
}

func jsonNode(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "StartObject"
	case '[':
		return "StartArray"
	}
	return "PrimitiveValue"
}

// columnValue converts one JSON value to the stored form of column c.
func columnValue(tableName string, c *Column, raw json.RawMessage) (any, *odataError) {
	edm := edmType(c.Type)
	if string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '{' || raw[0] == '[' {
		return nil, payloadError(fmt.Sprintf("An unexpected '%s' node was found for property named '%s' when reading from the JSON reader. A 'PrimitiveValue' node was expected.", jsonNode(raw), c.LogicalName))
	}
	cannot := payloadError(fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", literal(raw), edm))
	str := func() (string, bool) {
		var s string
		return s, raw[0] == '"' && json.Unmarshal(raw, &s) == nil
	}
	switch c.Type {
	case TypeString, TypeMemo:
		s, ok := str()
		if !ok {
			return nil, cannot
		}
		return s, nil
	case TypeBoolean:
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, cannot
	case TypeDateTime:
		s, ok := str()
		if !ok {
			return nil, cannot
		}
		ts, ok := parseDateTime(s)
		if !ok {
			return nil, payloadError(fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", s))
		}
		return ts, nil
	case TypeGUID:
		s, ok := str()
		g, ok2 := parseGUID(s)
		if !ok || !ok2 {
			return nil, cannot
		}
		return g, nil
	case TypeDecimal, TypeMoney, TypeDouble:
		if raw[0] == '"' {
			return nil, cannot
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, cannot
		}
		return f, nil
	}
	// Integer, BigInt, Picklist, State, Status.
	if raw[0] == '"' || bytes.ContainsAny(raw, ".eE") {
		return nil, cannot
	}
	bits := 32
	if c.Type == TypeBigInt {
		bits = 64
	}
	n, err := strconv.ParseInt(string(raw), 10, bits)
	if err != nil {
		return nil, cannot
	}
	if len(c.Options) > 0 {
		if _, ok := c.Options[int(n)]; !ok {
			return nil, newError(http.StatusBadRequest, CodeOutOfRange, fmt.Sprintf("A validation error occurred. The value %d of '%s' on record of type '%s' is outside the valid range.", n, c.LogicalName, tableName))
		}
	}
	return n, nil
}

// parseDateTime accepts an ISO 8601 date-time with offset or a date, and
// returns it in UTC as Dataverse answers it.
func parseDateTime(s string) (string, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts.UTC().Format(time.RFC3339), true
		}
	}
	return "", false
}

// resolveBindLocked reads an @odata.bind reference, "/contacts(<key>)",
// "contacts(<key>)" or an absolute URL ending so, and returns the target
// table and row id. The row must exist.
func (e *Emulator) resolveBindLocked(np navProp, ref string) (string, string, *odataError) {
	path := ref
	if i := strings.Index(path, apiPrefix); i >= 0 {
		path = path[i+len(apiPrefix):]
	}
	path = strings.TrimPrefix(path, "/")
	bad := payloadError(fmt.Sprintf("An error occurred while processing the '@odata.bind' value '%s': the value is not a valid entity reference such as '/%s(<id>)'.", ref, e.tables[np.targets[0]].EntitySetName))
	open := strings.IndexByte(path, '(')
	if open <= 0 || !strings.HasSuffix(path, ")") {
		return "", "", bad
	}
	set, key := path[:open], path[open+1:len(path)-1]
	t := e.tableBySet(set)
	if t == nil {
		return "", "", newError(http.StatusBadRequest, CodeResourceNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", set))
	}
	if !np.binds(t.LogicalName) {
		return "", "", payloadError(fmt.Sprintf("The entity reference '%s' points at table '%s', but the navigation property binds table '%s'.", ref, t.LogicalName, strings.Join(np.targets, "' or '")))
	}
	r, err := e.findRowLocked(t, key)
	if err != nil {
		return "", "", err
	}
	return t.LogicalName, r.id, nil
}

// tableBySet returns the table with an entity set name, or nil.
func (e *Emulator) tableBySet(set string) *table {
	for _, t := range e.tables {
		if t.EntitySetName == set {
			return t
		}
	}
	return nil
}
