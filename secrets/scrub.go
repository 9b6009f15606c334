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

// sigParam matches the value of a URL's sig parameter, the signature of a cloud flow's trigger
// URL (and of its Location), whoever's URL it is: after sig= or, in a URL written into another,
// sig%3D, whatever precedes it (a JSON text may spell the & before it \u0026). The value ends
// where a URL's next parameter, a quote, a backslash (a JSON escape) or white space begins.
var sigParam = regexp.MustCompile(`(?i)(sig(?:=|%3D))[^&\s"'\\#<>]+`)

// Message scrubs a message (an incident, a BPMN error's message, a log field): every held
// value in every form, then anything shaped like a Bearer token, a JWT or a URL's sig value. It
// must be applied to the whole message before it is cut to a length.
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
	s = bearerOrJWT.ReplaceAllString(s, "${1}"+Redacted)
	if mayHoldSig(s) {
		s = sigParam.ReplaceAllString(s, "${1}"+Redacted)
	}
	return s
}

// mayHoldShape is a cheap test that spares the regular expressions most texts.
func mayHoldShape(s string) bool {
	return strings.Contains(s, "eyJ") || containsFold(s, "bearer") || mayHoldSig(s)
}

func mayHoldSig(s string) bool { return containsFold(s, "sig=") || containsFold(s, "sig%3d") }

// containsFold reports whether s holds word (lower-case ASCII) in any case.
func containsFold(s, word string) bool {
	for _, b := range []byte{word[0], word[0] - 'a' + 'A'} {
		for i := 0; ; {
			j := strings.IndexByte(s[i:], b)
			if j < 0 {
				break
			}
			i += j
			if i+len(word) <= len(s) && strings.EqualFold(s[i:i+len(word)], word) {
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
