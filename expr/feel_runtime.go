package expr

import (
	"fmt"

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

var runtimeFuncs = map[string]func(...any) (any, error){
	"$get": func(args ...any) (any, error) {
		k, _ := args[1].(string)
		return feelGet(args[0], k), nil
	},
	"$path": func(args ...any) (any, error) {
		x := args[0]
		for _, k := range args[1:] {
			if x == nil {
				return nil, nil
			}
			x = feelGet(x, k.(string))
		}
		return x, nil
	},
	"$index": fn2(feelIndex),
	"$list":  fn1(func(x any) any { return asList(x) }),
	"$filterResult": fn2(func(orig, filtered any) any {
		if orig == nil {
			return nil
		}
		return filtered
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
	"$isNumber": fn1(func(x any) any { return isNum(x) }),
	"$and":      feelAnd,
	"$or":       feelOr,
	"$add":      fn2(feelAdd),
	"$sub":      fn2(feelSub),
	"$mul":      fn2(feelMul),
	"$div":      fn2(feelDiv),
	"$pow":      fn2(feelPow),
	"$neg":      fn1(feelNeg),
	"$eq":       fn2(feelEqual),
	"$ne":       fn2(func(a, b any) any { return feelNot(feelEqual(a, b)) }),
	"$lt":       fn2(feelLess),
	"$le":       fn2(feelLessEq),
	"$gt":       fn2(feelGreater),
	"$ge":       fn2(feelGreaterEq),
	"$in":       fn2(unaryTest),
	"$range": func(args ...any) (any, error) {
		return &feelRange{start: args[0], end: args[1], startIncl: args[2].(bool), endIncl: args[3].(bool)}, nil
	},
	"$instanceOf": fn2(func(x, typ any) any {
		switch typ {
		case "Any":
			return x != nil
		case "Null":
			return x == nil
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
	"$flatten1": fn1(func(x any) any {
		var out []any
		for _, e := range x.([]any) {
			inner, ok := e.([]any)
			if !ok {
				return nil // an inner iteration over a non-list
			}
			out = append(out, inner...)
		}
		if out == nil {
			out = []any{}
		}
		return out
	}),
	// some is true when any item satisfies, every when all do; anything else (false, null) is
	// false, as feelin and feel-scala evaluate them.
	"$some": fn1(func(x any) any {
		if x == nil {
			return nil
		}
		for _, e := range x.([]any) {
			if e == true {
				return true
			}
		}
		return false
	}),
	"$every": fn1(func(x any) any {
		if x == nil {
			return nil
		}
		for _, e := range x.([]any) {
			if e != true {
				return false
			}
		}
		return true
	}),
	"$lambda": func(args ...any) (any, error) {
		globals, _ := args[1].(map[string]any)
		return &feelFunc{tmpl: args[0].(*funcTemplate), globals: globals, captured: args[2:]}, nil
	},
	"$call": func(args ...any) (any, error) {
		f, ok := args[0].(*feelFunc)
		if !ok {
			return nil, nil
		}
		return f.call(args[1:]...), nil
	},
}

// funcTemplate is a compiled function literal; feelFunc is its value at run time.
type funcTemplate struct {
	prog     *vm.Program
	params   []string // expr-lang variables of the parameters
	captured []string // expr-lang variables of the locals the body can see
	plain    bool
}

type feelFunc struct {
	tmpl     *funcTemplate
	globals  map[string]any
	captured []any
}

func (f *feelFunc) String() string { return fmt.Sprintf("function(%d parameters)", len(f.tmpl.params)) }

// call runs the function; a failure or a wrong number of arguments gives null, as in FEEL.
func (f *feelFunc) call(args ...any) any {
	if len(args) != len(f.tmpl.params) {
		return nil
	}
	env := make(map[string]any, 1+len(f.captured)+len(args))
	env["$outer"] = f.globals
	for i, v := range f.tmpl.captured {
		env[v] = f.captured[i]
	}
	for i, p := range f.tmpl.params {
		env[p] = args[i]
	}
	out, err := vm.Run(f.tmpl.prog, env)
	if err != nil {
		return nil
	}
	return out
}

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
	for name, b := range builtins {
		feelOptions = append(feelOptions, expr.Function("$"+name, b.fn))
	}
}
