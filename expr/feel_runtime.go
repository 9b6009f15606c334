package expr

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// The runtime functions that translated FEEL calls. Each takes and returns FEEL values and
// never fails on a value of the wrong type: FEEL gives null instead.

func fn1(f func(a any) any) func(...any) (any, error) {
	return func(args ...any) (any, error) { return f(args[0]), nil }
}

func fn2(f func(a, b any) any) func(...any) (any, error) {
	return func(args ...any) (any, error) { return f(args[0], args[1]), nil }
}

// runtimeFuncs take constant time and build nothing larger than their arguments: outside a
// loop (whose iterations are metered) their number is bounded by the source, so they need no
// meter.
var runtimeFuncs = map[string]func(...any) (any, error){
	"$itemHas": fn2(func(item, name any) any {
		m, _ := item.(map[string]any)
		_, ok := m[name.(string)]
		return ok
	}),
	"$itemOr": func(args ...any) (any, error) {
		if m, ok := args[0].(map[string]any); ok {
			if v, ok := m[args[1].(string)]; ok {
				return v, nil
			}
		}
		return args[2], nil
	},
	"$true":     fn1(func(x any) any { return isTrue(x) }),
	"$isFalse":  fn1(func(x any) any { return x == false }),
	"$isNumber": fn1(func(x any) any { return isNum(x) }),
	"$range": func(args ...any) (any, error) {
		return &feelRange{start: args[0], end: args[1], startIncl: args[2].(bool), endIncl: args[3].(bool)}, nil
	},
	"$instanceOf": fn2(func(x, typ any) any {
		switch typ {
		case "Any":
			return x != nil
		case "Null": // feel-scala 1.18: no value is an instance of Null, not even null
			return false
		case "range":
			_, ok := x.(*feelRange)
			return ok
		}
		return x != nil && typeName(x) == typ
	}),
	"$iterable": fn1(func(x any) any {
		switch x.(type) {
		case []any, *feelRange:
			return true
		}
		return false
	}),
	// some is true when any item satisfies, every when all do; otherwise an item that is
	// not a boolean makes either null, as in feel-scala. The items were counted as they were
	// made, and warned about ($quantItem).
	"$some":       fn1(func(x any) any { return quantify(x, true) }),
	"$every":      fn1(func(x any) any { return quantify(x, false) }),
	"$quantState": func(...any) (any, error) { return &quantState{}, nil },
	"$lambda": func(args ...any) (any, error) {
		globals, _ := args[1].(map[string]any)
		return &feelFunc{tmpl: args[0].(*funcTemplate), globals: globals, captured: args[2:]}, nil
	},
}

// What decimal arithmetic costs, measured against a step (an iteration with an int64
// operation): an addition, subtraction or product of decimals about 8 steps, a division
// about 32, a whole power one product for each bit of its exponent; each decimal built
// holds about 64 bytes (issue 14 fix 2). The int64 fast path costs nothing beyond its step.
const (
	decSteps    = 8
	decDivSteps = 32
	decBytes    = 64
)

// arith is the binary operator op whose decimal arithmetic is metered, and whose null
// result warns.
func arith(op string, f func(a, b any) any, steps int64) mfunc {
	return func(m *meter, a []any) (any, error) {
		return decimalCost(m, a[0], a[1], arithmetic(m, op, a[0], a[1], f(a[0], a[1])), steps)
	}
}

// decimalCost counts steps and decBytes when out = a op b took decimal arithmetic: a decimal
// result, or an int64 one from an operand that is not an int64.
func decimalCost(m *meter, a, b, out any, steps int64) (any, error) {
	switch out.(type) {
	case *apd.Decimal:
	case int64:
		_, ai := a.(int64)
		_, bi := b.(int64)
		if ai && bi {
			return out, nil
		}
	default:
		return out, nil
	}
	if err := m.step(steps); err != nil {
		return nil, err
	}
	return out, m.alloc(decBytes)
}

// mfunc is a metered runtime function: its work depends on its arguments' sizes, or it
// builds values; it counts both on m before doing the work.
type mfunc func(m *meter, a []any) (any, error)

// metered are the runtime functions called with the meter as first argument (mcall).
var metered = map[string]mfunc{
	"$step": func(m *meter, a []any) (any, error) { // a loop iteration: see closure
		if err := m.step(1); err != nil {
			return nil, err
		}
		return nil, m.alloc(a[0].(int64))
	},
	"$get": func(m *meter, a []any) (any, error) {
		k, _ := a[1].(string)
		if err := chargeGet(m, a[0]); err != nil {
			return nil, err
		}
		return getWarn(m, a[0], k), nil
	},
	"$path": func(m *meter, a []any) (any, error) {
		x := a[0]
		for _, k := range a[1:] {
			if err := chargeGet(m, x); err != nil {
				return nil, err
			}
			x = getWarn(m, x, k.(string))
		}
		return x, nil
	},
	"$list": func(m *meter, a []any) (any, error) { return asList(m, a[0]) },
	"$flatten1": func(m *meter, a []any) (any, error) {
		n := int64(0)
		for _, e := range a[0].([]any) {
			inner, ok := e.([]any)
			if !ok {
				return nil, nil // an inner iteration over a non-list
			}
			n += int64(len(inner))
		}
		if err := m.step(1 + n); err != nil {
			return nil, err
		}
		if err := m.alloc(listBytes + itemBytes*n); err != nil {
			return nil, err
		}
		out := make([]any, 0, n)
		for _, e := range a[0].([]any) {
			out = append(out, e.([]any)...)
		}
		return out, nil
	},
	"$add": func(m *meter, a []any) (any, error) {
		if x, ok := a[0].(string); ok {
			if y, ok := a[1].(string); ok {
				if err := m.alloc(int64(len(x)) + int64(len(y))); err != nil {
					return nil, err
				}
			}
		}
		return decimalCost(m, a[0], a[1], arithmetic(m, "+", a[0], a[1], feelAdd(a[0], a[1])), decSteps)
	},
	"$sub": arith("-", feelSub, decSteps),
	"$mul": arith("*", feelMul, decSteps),
	"$div": arith("/", feelDiv, decDivSteps),
	"$pow": func(m *meter, a []any) (any, error) {
		out := arithmetic(m, "**", a[0], a[1], feelPow(a[0], a[1]))
		if !isNum(out) {
			return out, nil
		}
		steps := int64(decDivSteps) // a float power, or a whole one by squaring: one product a bit
		if y, ok := toInt(a[1]); ok {
			steps = decSteps * int64(1+bits.Len64(uint64(max(y, -y))))
		}
		if err := m.step(steps); err != nil {
			return nil, err
		}
		return out, m.alloc(decBytes)
	},
	"$lt": compare(func(c int) bool { return c < 0 }),
	"$le": compare(func(c int) bool { return c <= 0 }),
	"$gt": compare(func(c int) bool { return c > 0 }),
	"$ge": compare(func(c int) bool { return c >= 0 }),
	"$eq": func(m *meter, a []any) (any, error) {
		if err := m.step(1 + min(scanSteps(a[0]), scanSteps(a[1]))); err != nil {
			return nil, err
		}
		return equal(m, a[0], a[1]), nil
	},
	"$ne": func(m *meter, a []any) (any, error) {
		if err := m.step(1 + min(scanSteps(a[0]), scanSteps(a[1]))); err != nil {
			return nil, err
		}
		return feelNot(equal(m, a[0], a[1])), nil
	},
	// Why a part gives null: the warnings of feel_warnings.go.
	"$var":     func(m *meter, a []any) (any, error) { return variable(m, a[0], a[1].(string)), nil },
	"$novar":   func(m *meter, a []any) (any, error) { variable(m, a[0], a[1].(string)); return nil, nil },
	"$pathVar": pathVar,
	"$cond":    func(m *meter, a []any) (any, error) { return condition(m, a[0]), nil },
	"$notList": func(m *meter, a []any) (any, error) { expectedList(m, a[0]); return nil, nil },
	"$boolean": func(m *meter, a []any) (any, error) { return leftOperand(m, a[0]), nil },
	"$and":     func(m *meter, a []any) (any, error) { return junction(m, a[0], a[1], feelAnd), nil },
	"$or":      func(m *meter, a []any) (any, error) { return junction(m, a[0], a[1], feelOr), nil },
	"$neg":     func(m *meter, a []any) (any, error) { return negate(m, a[0]) },
	"$index":   func(m *meter, a []any) (any, error) { return index(m, a[0], a[1]), nil },
	"$quantItem": func(m *meter, a []any) (any, error) {
		a[0].(*quantState).item(m, a[1].(bool), a[2])
		return a[2], nil
	},
	"$warn": func(m *meter, a []any) (any, error) { // a construct feel-scala evaluates to null
		m.warn(a[0].(string), "%s", a[1].(string))
		return nil, nil
	},
	"$in": func(m *meter, a []any) (any, error) {
		if err := m.step(1 + scanSteps(a[1])); err != nil {
			return nil, err
		}
		return inTest(m, a[0], a[1]), nil
	},
	// $call(name, f, args...) calls the function a local name holds; anything else, or a
	// function of another arity, is null with feel-scala's NO_FUNCTION_FOUND.
	"$call": func(m *meter, a []any) (any, error) {
		f, ok := a[1].(*feelFunc)
		if !ok || len(f.tmpl.params) != len(a)-2 {
			m.warn(WarnNoFunction, "No function found with name '%s' and %d parameters", a[0].(string), len(a)-2)
			return nil, nil
		}
		return f.call(m, a[2:]...)
	},
	// $callNamed(name, f, names, args...): a parameter not named is null; a name the function
	// does not have makes the call null, as in feel-scala.
	"$callNamed": func(m *meter, a []any) (any, error) {
		names := a[2].([]string)
		f, ok := a[1].(*feelFunc)
		var args []any
		if ok {
			args = make([]any, len(f.tmpl.names))
			for i, name := range names {
				pos := slices.Index(f.tmpl.names, name)
				if pos < 0 {
					ok = false
					break
				}
				args[pos] = a[3+i]
			}
		}
		if !ok {
			m.warn(WarnNoFunction, "No function found with name '%s' and parameters: %s", a[0].(string), strings.Join(names, ","))
			return nil, nil
		}
		return f.call(m, args...)
	},
}

// compare is a comparison operator: values that cannot be compared give null and a warning.
func compare(holds func(c int) bool) mfunc {
	return func(m *meter, a []any) (any, error) {
		c, ok := feelCompare(a[0], a[1])
		if !ok {
			notComparable(m, a[0], a[1]) // null too, as in feel-scala ("=" is another matter)
			return nil, nil
		}
		return holds(c), nil
	}
}

// equal is "=": values of different types give null and a warning.
func equal(m *meter, a, b any) any {
	e := feelEqual(a, b)
	if e == nil && a != nil && b != nil {
		notComparable(m, a, b)
	}
	return e
}

// chargeGet counts a path step: on a list it projects every item into a new list.
func chargeGet(m *meter, x any) error {
	if l, ok := x.([]any); ok {
		if err := m.step(1 + int64(len(l))); err != nil {
			return err
		}
		return m.alloc(listBytes + itemBytes*int64(len(l)))
	}
	return nil
}

// meteredFunc adapts an mfunc to expr-lang: the meter comes first.
func meteredFunc(f mfunc) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		m, _ := args[0].(*meter)
		return f(m, args[1:])
	}
}

// funcTemplate is a compiled function literal; feelFunc is its value at run time.
type funcTemplate struct {
	prog     *vm.Program
	params   []string // expr-lang variables of the parameters
	names    []string // the parameters' FEEL names, for named arguments
	captured []string // expr-lang variables of the locals the body can see
	plain    bool
	literals int64 // bytes of the list and context literals the body builds at each call
}

type feelFunc struct {
	tmpl     *funcTemplate
	globals  map[string]any
	captured []any
}

// String is how feel-scala shows a function: function(a, b).
func (f *feelFunc) String() string { return "function(" + strings.Join(f.tmpl.names, ", ") + ")" }

// call runs the function; a failure or a wrong number of arguments gives null, as in FEEL.
// The only error is the budget's (or the context's): calls nest at most MaxDepth deep, so
// a function applied to itself cannot overflow the stack.
func (f *feelFunc) call(m *meter, args ...any) (any, error) {
	if len(args) != len(f.tmpl.params) {
		return nil, nil
	}
	if err := m.enter(); err != nil {
		return nil, err
	}
	defer m.leave()
	if err := m.alloc(mapBytes + entryBytes*int64(2+len(f.captured)+len(args)) + f.tmpl.literals); err != nil {
		return nil, err
	}
	env := make(map[string]any, 2+len(f.captured)+len(args))
	env["$outer"] = f.globals
	env[meterVar] = m
	for i, v := range f.tmpl.captured {
		env[v] = f.captured[i]
	}
	for i, p := range f.tmpl.params {
		env[p] = args[i]
	}
	out, err := vm.Run(f.tmpl.prog, env)
	if m != nil && m.err != nil {
		return nil, m.err
	}
	if err != nil {
		return nil, nil
	}
	return out, nil
}

// builtinFunc is the expr-lang function of a FEEL built-in: apart from the runtime's own
// ("$and" is the operator, and() the built-in).
func builtinFunc(name string) string { return "$fn:" + name }

// feelOptions configure expr-lang for translated FEEL.
var feelOptions []expr.Option

func init() {
	feelOptions = []expr.Option{
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(),
		expr.DisableAllBuiltins(),
	}
	for name, f := range runtimeFuncs {
		feelOptions = append(feelOptions, expr.Function(name, f))
	}
	for name, f := range metered {
		feelOptions = append(feelOptions, expr.Function(name, meteredFunc(f)))
	}
	for name, b := range builtins {
		b.name = name
		feelOptions = append(feelOptions, expr.Function(builtinFunc(name), b.exprFunc()))
	}
}
