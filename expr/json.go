package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// DecodeJSON decodes a JSON document into the values expressions see, keeping every number
// exact: integral numbers within int64 as int64, fractions as float64 when it holds the
// number's decimal value (FEEL reads a float64 as its shortest decimal: 0.1 is 0.1), and as
// json.Number otherwise (123456789.0123456789, 1e30, 2^63); objects as map[string]any, arrays as
// []any.
func DecodeJSON(data []byte) (any, error) { return decodeJSON(data) }

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return fromJSON(v), nil
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, ok := toInt(x); ok {
			return i
		}
		f, err := x.Float64()
		if err != nil || f == math.Trunc(f) {
			return x // beyond float64, or a whole number beyond int64
		}
		if c, ok := numCompare(f, x); ok && c == 0 {
			return f
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = fromJSON(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSON(e)
		}
	}
	return v
}

// valuesEqual compares two plain values, numbers by value (1 and 1.0 are equal).
func valuesEqual(a, b any) bool {
	if isNum(a) {
		c, ok := numCompare(a, b)
		return ok && c == 0
	}
	switch av := a.(type) {
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !valuesEqual(av[i], bv[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok || !valuesEqual(x, y) {
				return false
			}
		}
		return true
	}
	return a == b
}
