package dataversetest

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// rowKey is the key in a row's URL: a primary key or alternate-key values.
type rowKey struct {
	id  string
	alt map[string]any // column → stored-form value
}

// splitKey splits "a='x,y',b=2" at the commas outside quotes.
func splitKey(s string) []string {
	var parts []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// parseRowKey reads a key: a bare GUID, or name=value pairs that must be
// exactly one of t's alternate keys.
func parseRowKey(t *table, raw string) (rowKey, *odataError) {
	if id, ok := parseGUID(raw); ok {
		return rowKey{id: id}, nil
	}
	if !strings.Contains(raw, "=") {
		return rowKey{}, badKey
	}
	alt := map[string]any{}
	for _, part := range splitKey(raw) {
		name, value, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return rowKey{}, badKey
		}
		if name == t.PrimaryIDAttribute {
			id, ok := parseGUID(strings.TrimSpace(value))
			if !ok {
				return rowKey{}, badKey
			}
			alt[name] = id
			continue
		}
		toks, err := lexFilter(value)
		if err != nil || len(toks) != 2 || toks[0].kind != "lit" || toks[0].lit.kind == litNull {
			return rowKey{}, badKey
		}
		c, ok := t.property(name)
		if !ok {
			return rowKey{}, unknownProperty(t, name)
		}
		v, verr := keyValue(c, toks[0].lit)
		if verr != nil {
			return rowKey{}, verr
		}
		alt[name] = v
	}
	if id, ok := alt[t.PrimaryIDAttribute].(string); ok && len(alt) == 1 {
		return rowKey{id: id}, nil
	}
	names := make([]string, 0, len(alt))
	for n := range alt {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, key := range t.AlternateKeys {
		k := append([]string(nil), key...)
		sort.Strings(k)
		if strings.Join(k, ",") == strings.Join(names, ",") {
			return rowKey{alt: alt}, nil
		}
	}
	return rowKey{}, newError(http.StatusBadRequest, CodeInvalidArgument, fmt.Sprintf("The key attributes (%s) do not match any alternate key defined for the entity %s.", strings.Join(names, ","), t.LogicalName))
}

// keyValue converts a key literal to the stored form of column c.
func keyValue(c *Column, l lit) (any, *odataError) {
	if !compatible(c, l) {
		return nil, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", l.raw, edmType(c.Type)))
	}
	switch l.kind {
	case litString, litGUID:
		return l.raw, nil
	case litBool:
		return l.raw == "true", nil
	case litDateTime:
		s, _ := parseDateTime(l.raw)
		return s, nil
	case litInt:
		if edmType(c.Type) == "Edm.Decimal" || edmType(c.Type) == "Edm.Double" {
			f, _ := strconv.ParseFloat(l.raw, 64)
			return f, nil
		}
		n, _ := strconv.ParseInt(l.raw, 10, 64)
		return n, nil
	}
	f, _ := strconv.ParseFloat(l.raw, 64)
	return f, nil
}

// findRowLocked returns the row a key names, or 404.
func (e *Emulator) findRowLocked(t *table, raw string) (*row, *odataError) {
	k, err := parseRowKey(t, raw)
	if err != nil {
		return nil, err
	}
	r, ok := e.lookupKeyLocked(t, k)
	if !ok {
		return nil, notFoundKey(t, k)
	}
	return r, nil
}

func (e *Emulator) lookupKeyLocked(t *table, k rowKey) (*row, bool) {
	if k.id != "" {
		return e.store.get(t.LogicalName, k.id)
	}
	return e.store.byKey(t.LogicalName, k.alt)
}

func notFoundKey(t *table, k rowKey) *odataError {
	if k.id != "" {
		return notFoundRow(t.LogicalName, k.id)
	}
	return newError(http.StatusNotFound, CodeObjectDoesNotExist, fmt.Sprintf("A record with the specified key values does not exist in %s entity", t.LogicalName))
}
