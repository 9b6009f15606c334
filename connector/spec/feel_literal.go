package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// feelLiteral writes a JSON value (as encoding/json decodes it, or int64) as a FEEL literal:
// numbers in plain decimal form (FEEL has no exponent form: 1e-7 is 0.0000001), strings as
// feelString, objects as contexts with string keys (in key order) and arrays as lists.
func feelLiteral(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "null", nil
	case bool:
		return strconv.FormatBool(t), nil
	case string:
		return feelString(t), nil
	case float64:
		return feelNumber(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case int:
		return strconv.Itoa(t), nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			x, err := feelLiteral(t[k])
			if err != nil {
				return "", err
			}
			parts = append(parts, feelString(k)+":"+x)
		}
		return "{" + strings.Join(parts, ",") + "}", nil
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			x, err := feelLiteral(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, x)
		}
		return "[" + strings.Join(parts, ",") + "]", nil
	}
	return "", fmt.Errorf("a %T has no FEEL literal", v)
}

// feelNumber writes n in plain decimal form, the only form FEEL's number literal has.
func feelNumber(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }

// feelString is s as a FEEL string literal: only \\, \", \n, \r, \t and \u00XX (other control
// characters) are escaped, so the literal reads the same to every FEEL reader (no \u escape
// for <, >, &, U+2028 or U+2029, as encoding/json would write).
func feelString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
