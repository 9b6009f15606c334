package expr

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// FEEL values at run time are the plain Go values of the context (map[string]any, []any,
// string, bool, nil), numbers (feel_numbers.go), the temporal types of feel_temporal.go,
// *feelRange and *feelFunc.

func isTrue(x any) bool { b, ok := x.(bool); return ok && b }

// feelAnd is FEEL's three-valued conjunction: false wins, then null, then true.
func feelAnd(args ...any) (any, error) {
	out := any(true)
	for _, a := range args {
		switch a {
		case false:
			return false, nil
		case true:
		default:
			out = nil
		}
	}
	return out, nil
}

// feelOr is FEEL's three-valued disjunction: true wins, then null, then false.
func feelOr(args ...any) (any, error) {
	out := any(false)
	for _, a := range args {
		switch a {
		case true:
			return true, nil
		case false:
		default:
			out = nil
		}
	}
	return out, nil
}

func feelNot(x any) any {
	if b, ok := x.(bool); ok {
		return !b
	}
	return nil
}

// feelEqual is FEEL's "=": null equals only null; values of different types give null.
func feelEqual(a, b any) any {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if isNum(a) {
		c, ok := numCompare(a, b)
		if !ok {
			return nil
		}
		return c == 0
	}
	switch av := a.(type) {
	case string:
		if bv, ok := b.(string); ok {
			return av == bv
		}
	case bool:
		if bv, ok := b.(bool); ok {
			return av == bv
		}
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return nil
		}
		if len(av) != len(bv) {
			return false
		}
		for i := range av { // items of different types are unequal (feel-scala: false, not null)
			if feelEqual(av[i], bv[i]) != true {
				return false
			}
		}
		return true
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return nil
		}
		if len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok {
				return false
			}
			if feelEqual(x, y) != true {
				return false
			}
		}
		return true
	case *feelRange:
		if bv, ok := b.(*feelRange); ok {
			return av.startIncl == bv.startIncl && av.endIncl == bv.endIncl &&
				feelEqual(av.start, bv.start) == true && feelEqual(av.end, bv.end) == true
		}
	default:
		if eq, ok := equalTemporal(a, b); ok {
			return eq
		}
		if reflect.TypeOf(a) == reflect.TypeOf(b) {
			return reflect.DeepEqual(a, b)
		}
	}
	return nil
}

// feelCompare orders two values of one comparable type (numbers, strings, dates, times,
// durations); ok is false for any other pair, which FEEL evaluates to null.
func feelCompare(a, b any) (int, bool) {
	if isNum(a) {
		return numCompare(a, b)
	}
	if as, ok := a.(string); ok {
		bs, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(as, bs), true
	}
	return compareTemporal(a, b)
}

// arithmetic

func feelAdd(a, b any) any {
	if isNum(a) {
		return numAdd(a, b)
	}
	if as, ok := a.(string); ok {
		if bs, ok := b.(string); ok {
			return as + bs
		}
		return nil
	}
	return addTemporal(a, b)
}

func feelSub(a, b any) any {
	if isNum(a) {
		return numSub(a, b)
	}
	return subTemporal(a, b)
}

func feelMul(a, b any) any {
	if isNum(a) {
		if !isNum(b) {
			return mulTemporal(b, a)
		}
		return numMul(a, b)
	}
	return mulTemporal(a, b)
}

func feelDiv(a, b any) any {
	if isNum(a) {
		return numDiv(a, b)
	}
	return divTemporal(a, b)
}

func feelPow(a, b any) any { return numPow(a, b) }

// feelNeg is "-a": numbers only (feel-scala 1.18 negates no duration: "-x" of one is null).
func feelNeg(a any) any {
	if isNum(a) {
		return numNeg(a)
	}
	return nil
}

// paths

// feelIndex is "list[n]": 1-based, negative from the end.
func feelIndex(list []any, n any) any {
	i, ok := toInt(n)
	if !ok {
		return nil
	}
	switch {
	case i > 0 && i <= int64(len(list)):
		return list[i-1]
	case i < 0 && -i <= int64(len(list)):
		return list[int64(len(list))+i]
	}
	return nil
}

// asList is the iteration domain of filters, for, some and every: a list as it is, a range of
// integers expanded, null as an empty list, any other value as a list of itself.
func asList(m *meter, x any) ([]any, error) {
	switch v := x.(type) {
	case []any:
		return v, nil
	case nil:
		return []any{}, nil
	case *feelRange:
		return v.expand(m)
	}
	return []any{x}, nil
}

// feelRange is a range value such as [1..10] or (date("2024-01-01")..date("2024-02-01")].
type feelRange struct {
	start, end         any // nil for an open end
	startIncl, endIncl bool
}

// expand lists the integers of a range with integer ends (anything else: an empty list). A
// range of more than MaxRangeItems items is an error, not an empty list.
func (r *feelRange) expand(m *meter) ([]any, error) {
	s, ok1 := toInt(r.start)
	e, ok2 := toInt(r.end)
	if !ok1 || !ok2 {
		return []any{}, nil
	}
	step := int64(1)
	if e < s {
		step = -1
	}
	if !r.startIncl {
		s += step
	}
	if !r.endIncl {
		e -= step
	}
	if (e-s)*step < 0 {
		return []any{}, nil
	}
	// the number of items, in floating point: e-s can overflow int64
	if n := (float64(e) - float64(s)) * float64(step); n >= MaxRangeItems {
		got := int64(math.MaxInt64)
		if n < math.MaxInt64 {
			got = int64(n) + 1
		}
		err := &BudgetError{Limit: LimitRange, Max: MaxRangeItems, Got: got}
		if m != nil {
			return nil, m.fail(err)
		}
		return nil, err
	}
	n := (e-s)*step + 1
	if err := m.alloc(listBytes + itemBytes*n); err != nil {
		return nil, err
	}
	out := make([]any, 0, n)
	for i := s; ; i += step {
		out = append(out, i)
		if i == e {
			break
		}
	}
	return out, nil
}

func (r *feelRange) String() string {
	var b strings.Builder
	if r.startIncl {
		b.WriteByte('[')
	} else {
		b.WriteByte('(')
	}
	b.WriteString(feelString(r.start))
	b.WriteString("..")
	b.WriteString(feelString(r.end))
	if r.endIncl {
		b.WriteByte(']')
	} else {
		b.WriteByte(')')
	}
	return b.String()
}

// contains reports whether x is in the range (null when x cannot be compared to its ends).
func (r *feelRange) contains(x any) any {
	if r.start != nil {
		c, ok := feelCompare(x, r.start)
		if !ok {
			return nil
		}
		if c < 0 || c == 0 && !r.startIncl {
			return false
		}
	}
	if r.end != nil {
		c, ok := feelCompare(x, r.end)
		if !ok {
			return nil
		}
		if c > 0 || c == 0 && !r.endIncl {
			return false
		}
	}
	return true
}

// feelString is FEEL's string(x).
func feelString(x any) string {
	switch v := x.(type) {
	case nil:
		return "null"
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case *apd.Decimal:
		return decString(v)
	case float64, float32, json.Number:
		if d, ok := toDec(v); ok {
			return decString(d)
		}
		return "null"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = feelLiteral(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(v)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + feelLiteral(v[k]) // {a:1, b:"x"}, as feel-scala writes a context
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case interface{ String() string }:
		return v.String()
	}
	return ""
}

// feelLiteral is how string() shows a value inside a list or context: strings quoted.
func feelLiteral(x any) string {
	if s, ok := x.(string); ok {
		return strconv.Quote(s)
	}
	return feelString(x)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// plain turns a FEEL result into the plain values a process variable can hold: decimals
// become exact json.Numbers, temporal values and ranges their ISO/FEEL strings, functions null. Unchanged containers are returned
// as they are.
func plain(x any) any {
	v, _ := plainC(x)
	return v
}

func plainC(x any) (any, bool) {
	switch v := x.(type) {
	case nil, string, bool, int64, float64, json.Number:
		return v, false
	case *apd.Decimal:
		return json.Number(decString(v)), true
	case []any:
		var out []any
		for i, e := range v {
			p, changed := plainC(e)
			if changed && out == nil {
				out = make([]any, len(v))
				copy(out, v[:i])
			}
			if out != nil {
				out[i] = p
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case map[string]any:
		var out map[string]any
		for k, e := range v {
			p, changed := plainC(e)
			if changed && out == nil {
				out = make(map[string]any, len(v))
				for k2, e2 := range v {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = p
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case *feelFunc:
		return nil, true
	case interface{ String() string }:
		return v.String(), true
	}
	return x, false
}
