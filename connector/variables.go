package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MaxVariableDepth is how deeply a job variable may nest lists and contexts. Camunda's template
// nests three levels (authentication, body.inputs); Dataverse's flow inputs are flat. A value
// nested deeper is refused with an incident that names the variable, instead of being sent on.
const MaxVariableDepth = 128

// decodeVariables parses the job's variables (a JSON object). A variable that cannot be used —
// nested deeper than MaxVariableDepth, or holding a number beyond float64's range such as 1e400
// — is an *InputError whose field is the path to the value (runInputs.Order.Lines[3]).
// Numbers become int64 when whole and exact, else float64, as operations.ParseBody makes them.
func decodeVariables(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return map[string]any{}, nil
	}
	v, err := decodeJSON(s, "")
	if err != nil {
		return nil, fmt.Errorf("invalid input: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("job variables are not a JSON object, got %s", typeName(v))
	}
	return m, nil
}

// decodeJSON parses one JSON value under the limits of decodeVariables; field names the value
// in errors ("" for the variables document, whose top-level keys are the variables' names).
func decodeJSON(s, field string) (any, error) {
	base := 0
	if field == "" {
		base = 1 // the document's own braces do not count against a variable's depth
	}
	depth, long := scan(s)
	if depth > MaxVariableDepth+base {
		return nil, locate(s, field, base)
	}
	if !long {
		// No run of 16 digits: every number fits a float64 exactly or is out of its range
		// (an error, located below). Unmarshal is the cheaper path.
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, locate(s, field, base)
		}
		return wholeNumbers(v), nil
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, locate(s, field, base)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, jsonErr(field, "is not valid JSON: more data after the value")
	}
	return numbers(v, field)
}

// numbers turns json.Number into int64 (whole and within int64) or float64; a number beyond
// float64's range is an error naming its path.
func numbers(v any, path string) (any, error) {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, jsonErr(path, "the number %s is out of range (a JSON number must fit a 64-bit float, at most about 1.8e308)", truncate(string(t), 40))
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return f, nil
	case map[string]any:
		for k, x := range t {
			y, err := numbers(x, joinPath(path, k))
			if err != nil {
				return nil, err
			}
			t[k] = y
		}
	case []any:
		for i, x := range t {
			y, err := numbers(x, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			t[i] = y
		}
	}
	return v, nil
}

// wholeNumbers turns integral float64s into int64, so expressions see 4, not 4.0.
func wholeNumbers(v any) any {
	switch t := v.(type) {
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
	case map[string]any:
		for k, x := range t {
			t[k] = wholeNumbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = wholeNumbers(x)
		}
	}
	return v
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonErr(path, format string, args ...any) error {
	if path == "" {
		return fmt.Errorf("job variables: "+format, args...)
	}
	return inputErr(truncate(path, 120), format, args...)
}

// scan returns the deepest nesting of objects and arrays in s (strings skipped) and whether s
// has a run of 16 or more digits, which a float64 may not hold exactly (outside strings too:
// a cheap, conservative test).
func scan(s string) (deepest int, long bool) {
	depth, digits, inString := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if digits++; digits >= 16 {
				long = true
			}
		} else {
			digits = 0
		}
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > deepest {
				deepest = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest, long
}

// locate walks s token by token to say which value is too deep or malformed. It is the slow
// path, taken only for a document that failed.
func locate(s, field string, base int) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	type frame struct {
		path   string
		object bool
		index  int
		key    bool // an object expects a key next
	}
	var stack []frame
	path := field
	next := func() string { // the path of the value about to be read
		if len(stack) == 0 {
			return field
		}
		top := &stack[len(stack)-1]
		if top.object {
			return path
		}
		p := top.path + "[" + strconv.Itoa(top.index) + "]"
		top.index++
		return p
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return jsonErr(field, "is not valid JSON")
		}
		if err != nil {
			where := field
			if len(stack) > 0 {
				if top := stack[len(stack)-1]; top.object && !top.key {
					where = path // the value of the key just read
				} else {
					where = top.path
				}
			}
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return jsonErr(where, "is not valid JSON: %s", se.Error())
			}
			return jsonErr(where, "is not valid JSON: %v", err)
		}
		if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].key {
			if k, ok := tok.(string); ok {
				stack[len(stack)-1].key = false
				path = joinPath(stack[len(stack)-1].path, k)
				continue
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				p := next()
				if len(stack)+1 > MaxVariableDepth+base {
					name := p
					if i := strings.IndexAny(name, ".["); i > 0 && field == "" {
						name = name[:i]
					}
					return jsonErr(name, "is nested more than %d levels deep (lists and contexts), at %s", MaxVariableDepth, truncate(p, 80))
				}
				stack = append(stack, frame{path: p, object: t == '{', key: t == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
			}
			continue
		case json.Number:
			p := next()
			if _, err := numbers(t, p); err != nil {
				return err
			}
		default:
			next()
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}
