package expr

import "math/bits"

// What a FEEL built-in costs. Every call counts one step, plus (unless it takes constant
// time) an item for each item of its list and context arguments and a step for each 64 bytes
// of its string arguments. What it builds counts on the bytes budget in one of three ways:
//
//   - by default the result's own size, after the call (a string's bytes, a list's slots, a
//     context's entries): the result of these is at most a few times their arguments;
//   - nothing, for the built-ins that return an argument, a part of one, or a scalar;
//   - before the call, when the result can be far larger than the arguments (string join,
//     string(), replace, split, flatten, ...): those have a metered implementation (mfn) that
//     sizes the result first.
type budget struct {
	mfn     func(m *meter, a []any) (any, error) // counts what it builds itself
	keeps   bool                                 // builds nothing worth counting
	fromArg bool                                 // builds a list or context of its arguments' items: counted before
	cheap   bool                                 // constant time whatever its arguments
	sorts   bool                                 // sorts its list: n·log2(n) comparisons
	sums    bool                                 // computes over its numbers: decimal arithmetic for each decimal item
}

// withBudget gives b a metered implementation.
func withBudget(b *builtin, f func(m *meter, a []any) (any, error)) *builtin {
	b.mfn = f
	return b
}

func init() {
	for _, name := range []string{"get value", "get or else", "is defined", "not", "count",
		"bpmnError", "jobError", "ignoreError"} {
		builtins[name].cheap = true
	}
	for _, name := range []string{"get value", "get or else", "is defined", "not", "count", "min", "max",
		"median", "sum", "mean", "product", "all", "any", "list contains", "string length", "contains",
		"starts with", "ends with", "substring before", "substring after", "bpmnError", "jobError", "ignoreError"} {
		builtins[name].keeps = true
	}
	for _, name := range []string{"append", "concatenate", "insert before", "remove", "reverse", "sublist",
		"index of", "context merge", "put all", "context"} {
		builtins[name].fromArg = true
	}
	for _, name := range []string{"sort", "median", "mode"} {
		builtins[name].sorts = true
	}
	for _, name := range []string{"sum", "mean", "product", "stddev"} {
		builtins[name].sums = true
	}
}

// sortSteps is what sorting n items costs: a step for each of its n·log2(n) comparisons.
func sortSteps(n int) int64 {
	return int64(n) * int64(bits.Len(uint(n)))
}

// listLen is the length of the list a built-in works on: its first argument when that is a
// list, else its arguments (min([1, 2]) = min(1, 2)).
func listLen(a []any) int {
	if len(a) > 0 {
		if l, ok := a[0].([]any); ok {
			return len(l)
		}
	}
	return len(a)
}

// exprFunc is the function registered for b: the meter comes first (mcall). A call that
// gives null says why, as feel-scala does (invocationFailure).
func (b *builtin) exprFunc() func(...any) (any, error) {
	return func(args ...any) (any, error) {
		m, _ := args[0].(*meter)
		a := args[1:]
		n := len(m.warningsSoFar())
		out, err := b.run(m, a)
		if out == nil && err == nil && m.warns() && len(m.warningsSoFar()) == n {
			b.invocationFailure(m, a)
		}
		return out, err
	}
}

// run counts what a call of b costs, and calls it.
func (b *builtin) run(m *meter, a []any) (any, error) {
	steps := int64(1)
	if !b.cheap {
		for _, x := range a {
			steps += scanSteps(x)
		}
	}
	if b.sorts {
		steps += sortSteps(listLen(a))
	}
	if b.sums {
		steps += decimalItemSteps(listArg(a))
	}
	if err := m.step(steps); err != nil {
		return nil, err
	}
	if b.mfn != nil {
		return b.mfn(m, a)
	}
	if b.fromArg {
		n := int64(listBytes)
		for _, x := range a {
			switch v := x.(type) {
			case []any:
				n += itemBytes * int64(len(v))
			case map[string]any:
				n += entryBytes * int64(len(v))
			default:
				n += itemBytes
			}
		}
		if err := m.alloc(n); err != nil {
			return nil, err
		}
	}
	out, err := b.fn(a...)
	if err != nil || b.keeps || b.fromArg {
		return out, err
	}
	return out, m.alloc(shallowSize(out))
}

// left is what the bytes budget has left (no limit for a nil meter).
func (m *meter) left() int64 {
	if m == nil {
		return 1 << 62
	}
	return max(m.bytes, 0)
}

// runeOffset is the byte offset of the i-th rune of s (len(s) past its end).
func runeOffset(s string, i int64) int {
	if i <= 0 {
		return 0
	}
	n := int64(0)
	for off := range s {
		if n == i {
			return off
		}
		n++
	}
	return len(s)
}

func asMap(x any) map[string]any {
	m, _ := x.(map[string]any)
	return m
}

// decimalItemSteps is what arithmetic over l's numbers costs beyond a step an item: an
// operation of decimals (decDivSteps: sum, product and the squares of stddev are the costly
// kinds) for each item that is not an int64.
func decimalItemSteps(l []any) int64 {
	n := int64(0)
	for _, x := range l {
		if _, ok := x.(int64); !ok && isNum(x) {
			n++
		}
	}
	return n * decDivSteps
}
