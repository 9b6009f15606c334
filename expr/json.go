package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// DecodeJSON decodes a JSON document into the values expressions see: integral numbers as
// int64, other numbers as float64, objects as map[string]any, arrays as []any.
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
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return normNum(f)
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
	if _, af, _, ok := toNum(a); ok {
		_, bf, _, ok := toNum(b)
		return ok && (af == bf || math.Abs(af-bf) <= 1e-12*math.Max(math.Abs(af), math.Abs(bf)))
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
