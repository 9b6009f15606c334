package secrets

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// bearerOrJWT matches credentials by their shape, whoever's they are: the value of a Bearer
// Authorization header and JSON Web Tokens. Its classes hold no quote or backslash, so it
// cannot match across the escapes of a JSON log line.
var bearerOrJWT = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*|eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+`)

// Message scrubs a message (an incident, a BPMN error's message, a log field): every held
// value in every form, then anything shaped like a Bearer token or a JWT. It must be applied
// to the whole message before it is cut to a length.
func (r *Registry) Message(s string) string {
	return scrubShapes(r.Text(s))
}

// Text replaces every held value, in every form, with Redacted.
func (r *Registry) Text(s string) string {
	if r == nil {
		return s
	}
	return replace(s, r.text.Load().find(s))
}

func scrubShapes(s string) string {
	if !mayHoldShape(s) {
		return s
	}
	return bearerOrJWT.ReplaceAllString(s, "${1}"+Redacted)
}

// mayHoldShape is a cheap test that spares the regular expression most texts.
func mayHoldShape(s string) bool {
	if strings.Contains(s, "eyJ") {
		return true
	}
	for _, b := range []byte{'b', 'B'} {
		for i := 0; ; {
			j := strings.IndexByte(s[i:], b)
			if j < 0 {
				break
			}
			i += j
			if i+6 <= len(s) && strings.EqualFold(s[i:i+6], "bearer") {
				return true
			}
			i++
		}
	}
	return false
}

// Value returns v (decoded JSON: maps, slices, strings, numbers, booleans) with every held
// value replaced in every string, map key included, and in the text of every number: the
// variables of a command. It copies only what it changes. Shapes are left alone here: a
// variable may rightly hold a token the job was asked to fetch.
func (r *Registry) Value(v any) any {
	if r == nil {
		return v
	}
	m := r.text.Load()
	if m == nil || len(m.byGram) == 0 {
		return v
	}
	out, _ := m.value(v)
	return out
}

// Map is Value for a map of variables.
func (r *Registry) Map(v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	out, _ := r.Value(v).(map[string]any)
	return out
}

// value returns v scrubbed and whether anything changed.
func (m *matcher) value(v any) (any, bool) {
	switch t := v.(type) {
	case string:
		if sp := m.find(t); sp != nil {
			return replace(t, sp), true
		}
	case map[string]any:
		var out map[string]any
		for k, x := range t {
			nk := k
			if sp := m.find(k); sp != nil {
				nk = replace(k, sp)
			}
			nx, changed := m.value(x)
			if out == nil && (changed || nk != k) {
				out = make(map[string]any, len(t))
				for k2, x2 := range t {
					out[k2] = x2
				}
			}
			if out != nil {
				if nk != k {
					delete(out, k)
				}
				out[nk] = nx
			}
		}
		if out != nil {
			return out, true
		}
	case []any:
		var out []any
		for i, x := range t {
			nx, changed := m.value(x)
			if changed && out == nil {
				out = append([]any(nil), t...)
			}
			if out != nil {
				out[i] = nx
			}
		}
		if out != nil {
			return out, true
		}
	case int64:
		return m.number(strconv.FormatInt(t, 10), v)
	case int:
		return m.number(strconv.Itoa(t), v)
	case float64:
		text, _ := json.Marshal(t) // the digits the command will carry
		return m.number(string(text), v)
	case json.Number:
		return m.number(string(t), v)
	}
	return v, false
}

// number turns a number whose digits hold a secret into the scrubbed text.
func (m *matcher) number(text string, v any) (any, bool) {
	if sp := m.find(text); sp != nil {
		return replace(text, sp), true
	}
	return v, false
}
