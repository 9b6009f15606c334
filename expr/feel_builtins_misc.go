package expr

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The built-ins of Camunda's FEEL pages that the first set (feel_builtins.go) lacked:
// string, list, boolean, context and conversion functions. Functions of a later Camunda
// version than 8.5 (feel-scala 1.18) are marked so: a cluster on 8.5 answers null for them.

// addBuiltins adds a group of built-ins to builtins; a package variable initialised with it
// runs before any init function, so the runtime registers the group with the rest.
func addBuiltins(group map[string]*builtin) bool {
	for name, b := range group {
		if _, dup := builtins[name]; dup {
			panic("expr: built-in " + name + " declared twice")
		}
		builtins[name] = b
	}
	return true
}

// setForms gives built-ins whose forms have different parameter names those names.
func setForms(forms map[string][][]string) bool {
	for name, f := range forms {
		builtins[name].forms = f
	}
	return true
}

// AssertionError is the failure of FEEL's assert(value, condition[, cause]): unlike other
// failures it ends the evaluation, as in feel-scala.
type AssertionError struct{ Cause string }

func (e *AssertionError) Error() string { return "assertion failed: " + e.Cause }

var _ = addBuiltins(map[string]*builtin{
	// boolean
	"assert": {min: 2, max: 3, params: p("value", "condition", "cause"), fn: func(a ...any) (any, error) {
		if a[1] == true {
			return a[0], nil
		}
		cause := "the condition is not fulfilled"
		if len(a) == 3 {
			if s, ok := a[2].(string); ok {
				cause = s
			}
		}
		return nil, &AssertionError{Cause: cause}
	}},

	// string
	"extract": withBudget(pure(2, 2, p("string", "pattern"), nil), func(m *meter, a []any) (any, error) {
		s, ok := a[0].(string)
		re, err := regex(m, a[1:2])
		if !ok || re == nil {
			return nil, err
		}
		// at most one match more than the budget holds (each costs an item): matching all of a
		// 6 MB text first built 100 MB before the budget could say no
		limit := int(min(max((m.left()-listBytes)/itemBytes, 0), int64(len(s))+1)) + 1
		found := re.FindAllString(s, limit)
		if len(found) == limit {
			return nil, m.alloc(m.left() + 1)
		}
		n := int64(listBytes)
		for _, f := range found {
			n += itemBytes + int64(len(f))
		}
		if err := m.alloc(n); err != nil {
			return nil, err
		}
		out := make([]any, len(found))
		for i, f := range found {
			out[i] = f
		}
		return out, nil
	}),
	"to base64": strFn(func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }),
	"from base64": pure(1, 1, p("value"), func(a []any) any { // Camunda 8.6
		s, ok := a[0].(string)
		if !ok {
			return nil
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !utf8.Valid(b) {
			return nil
		}
		return string(b)
	}),
	"is blank": boolean(pure(1, 1, p("string"), func(a []any) any { // Camunda 8.6
		s, ok := a[0].(string)
		if !ok {
			return nil
		}
		return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) }) < 0
	})),
	"uuid": pure(0, 0, nil, func([]any) any {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
		b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}),

	// list
	"and": boolean(listFn(func(l []any) any { v, _ := feelAnd(l...); return v })),
	"or":  boolean(listFn(func(l []any) any { v, _ := feelOr(l...); return v })),
	"is empty": boolean(pure(1, 1, p("list"), func(a []any) any {
		if l, ok := a[0].([]any); ok {
			return len(l) == 0
		}
		return nil
	})),
	"duplicate values": withBudget(pure(1, 1, p("list"), nil), func(m *meter, a []any) (any, error) {
		list, ok := listOf(a[0])
		if !ok {
			return nil, nil
		}
		seen, err := distinct(m, list)
		if err != nil {
			return nil, err
		}
		out := []any{}
		for _, v := range seen.([]any) {
			n := 0
			for _, e := range list {
				if feelEqual(e, v) == true {
					n++
				}
			}
			if err := m.step(int64(len(list))); err != nil {
				return nil, err
			}
			if n > 1 {
				out = append(out, v)
			}
		}
		return out, nil
	}),
	"partition": withBudget(pure(2, 2, p("list", "size"), nil), func(m *meter, a []any) (any, error) { // Camunda 8.6
		list, ok := listOf(a[0])
		size, ok2 := intArg(a[1])
		if !ok || !ok2 || size < 1 {
			return nil, nil
		}
		step := int(min(size, int64(max(len(list), 1))))
		parts := int64((len(list) + step - 1) / step)
		if err := m.alloc(listBytes + parts*(itemBytes+listBytes) + itemBytes*int64(len(list))); err != nil {
			return nil, err
		}
		out := make([]any, 0, parts)
		for i := 0; i < len(list); i += step {
			out = append(out, append([]any{}, list[i:min(i+step, len(list))]...))
		}
		return out, nil
	}),

	// context
	"put": pure(3, 3, p("context", "key", "value"), func(a []any) any { // the former name of context put
		if _, ok := a[1].(string); !ok {
			return nil
		}
		return contextPut(a[0], a[1], a[2])
	}),

	// conversion (Camunda 8.6)
	"to json": withBudget(pure(1, 1, p("value"), nil), func(m *meter, a []any) (any, error) {
		n, err := textSize(m, a[0])
		if err != nil {
			return nil, err
		}
		if err := m.alloc(n); err != nil {
			return nil, err
		}
		v := plain(a[0])
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, nil
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	}),
	"from json": withBudget(pure(1, 1, p("value"), nil), func(m *meter, a []any) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return nil, nil
		}
		if err := m.alloc(4 * int64(len(s))); err != nil { // decoded values take at most a few times their text
			return nil, err
		}
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, nil
		}
		return v, nil
	}),
})
