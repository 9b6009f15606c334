package operations

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// columnName matches a column's logical name as a key or lookup may use it (_x_value included).
var columnName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// KeySegment renders a row id as the OData key in a row's URL, percent-encoded for the path:
// a GUID as is, or an alternate key (a context of column → value) as name=literal pairs in
// name order. primaryID is the table's primary key column: it and lookup keys (_x_value) take a
// GUID literal; strings are quoted with ” for a quote; numbers and booleans are bare. field
// names the variable in errors ("rowId").
func KeySegment(field string, rowID any, primaryID string) (string, error) {
	return keySegment(field, rowID, primaryID, escapeKeyText)
}

// bindKey renders a row id as in KeySegment but not percent-encoded: an @odata.bind value is a
// JSON string that Dataverse reads as a reference, not a URL it decodes.
func bindKey(field string, rowID any, primaryID string) (string, error) {
	return keySegment(field, rowID, primaryID, func(s string) string { return s })
}

func keySegment(field string, rowID any, primaryID string, esc func(string) string) (string, error) {
	switch v := rowID.(type) {
	case string:
		if !ValidID(v) {
			return "", &InputError{Field: field, Msg: fmt.Sprintf("must be a GUID (8-4-4-4-12 hex digits) or a context of alternate-key columns such as {emailaddress1: \"a@b.c\"}, got %q", truncate(v, 80))}
		}
		return v, nil
	case map[string]any:
		if len(v) == 0 {
			return "", &InputError{Field: field, Msg: "an alternate key needs at least one column"}
		}
		names := make([]string, 0, len(v))
		for n := range v {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		for i, n := range names {
			if !columnName.MatchString(n) {
				return "", &InputError{Field: field, Msg: fmt.Sprintf("%q is not a column name", truncate(n, 80))}
			}
			guidKey := n == primaryID || (strings.HasPrefix(n, "_") && strings.HasSuffix(n, "_value"))
			lit, err := keyLiteral(v[n], guidKey, esc)
			if err != nil {
				return "", &InputError{Field: field + "." + n, Msg: err.Error()}
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n)
			b.WriteByte('=')
			b.WriteString(lit)
		}
		return b.String(), nil
	case nil:
		return "", &InputError{Field: field, Msg: "is required"}
	}
	return "", &InputError{Field: field, Msg: fmt.Sprintf("must be a GUID or a context of alternate-key columns, got %s", kind(rowID))}
}

// keyUnsafe are the characters Microsoft documents as breaking GET and PATCH by an alternate key
// (and so @odata.bind to one): "If the data within a column that is used in an alternate key
// will contain one of the following characters /,#,<,>,*,%,&,:,\\,?,+ then GET or PATCH actions
// will not work" (learn.microsoft.com, Define alternate keys using Power Apps). A value holding
// one is refused before any request, naming the column, instead of a syntax error or a 404 from
// Dataverse (and an unescaped '?' or '#' in a bind cannot cut the reference short).
const (
	keyUnsafe     = "/#<>*%&:\\?+"
	keyUnsafeList = "/ # < > * % & : \\ ? +"
)

// keyLiteral renders one key value as an OData literal, percent-encoded.
func keyLiteral(v any, guidKey bool, esc func(string) string) (string, error) {
	if guidKey {
		s, ok := v.(string)
		if !ok || !ValidID(s) {
			return "", fmt.Errorf("must be a GUID, got %s", kind(v))
		}
		return s, nil
	}
	switch t := v.(type) {
	case string:
		if i := strings.IndexAny(t, keyUnsafe); i >= 0 {
			return "", fmt.Errorf("holds %q: Dataverse cannot find a row by an alternate key whose value holds any of %s (documented: \"Define alternate keys\"); use the row's id, or a filter in listRows", t[i], keyUnsafeList)
		}
		return "'" + esc(strings.ReplaceAll(t, "'", "''")) + "'", nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case json.Number:
		if _, err := strconv.ParseFloat(string(t), 64); err != nil {
			return "", fmt.Errorf("%q is not a number", t)
		}
		return esc(string(t)), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return "", fmt.Errorf("must be a finite number")
		}
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return strconv.FormatInt(int64(t), 10), nil
		}
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	case nil:
		return "", fmt.Errorf("a key value cannot be null")
	}
	return "", fmt.Errorf("must be a string, number or boolean, got %s", kind(v))
}

// escapeKeyText percent-encodes every byte that is not a path character of RFC 3986 (unreserved,
// sub-delims, ':' and '@'), so that no value can end the path, start a query or a fragment, or
// be decoded twice ('%' itself is encoded).
func escapeKeyText(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// kind names a JSON value's type for an error message.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, float64, json.Number:
		return "a number"
	case map[string]any:
		return "a context"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// InputError is a value that cannot be sent: Field names the variable (row.parentcustomerid,
// rowId.emailaddress1), Msg says why. The job side turns it into an incident.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }
