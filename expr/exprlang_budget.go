package expr

import (
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// The budget of expr-lang programs. expr-lang's VM has no hook for steps or a context, and
// its own memory budget counts items, not bytes; so the syntax tree is patched before it is
// checked and compiled:
//
//   - every predicate body (map, filter, all, reduce, ...) first calls $step: one step, the
//     item's slot in the result and the literals the body builds;
//   - "+" (unless both sides are known numbers) becomes $plus, which counts a concatenation
//     before making it; ".." becomes $range, which refuses more than MaxRangeItems;
//   - the built-ins whose result can be far larger than their arguments (repeat, join,
//     string, toJSON, flatten, concat, replace, split, splitAfter, fromJSON) run after
//     $guard has counted what they will build, from their arguments bound once with let;
//   - the other built-ins that build strings, lists or maps count their result ($charge).
//
// Each function reaches the evaluation's meter as its first argument, the variable $meter.

// budgetPatch is an expr-lang visitor; one per compilation (it numbers its let variables and
// notes whether the program reads $env).
type budgetPatch struct {
	vars int
	env  bool
}

// guarded are the built-ins checked before they run; charged those counted after.
var (
	guarded = map[string]bool{"repeat": true, "join": true, "string": true, "toJSON": true, "flatten": true,
		"concat": true, "replace": true, "split": true, "splitAfter": true, "fromJSON": true}
	charged = map[string]bool{"trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
		"keys": true, "values": true, "toPairs": true, "fromPairs": true, "sort": true, "reverse": true,
		"uniq": true, "take": true, "toBase64": true, "fromBase64": true}
)

func meterArg() ast.Node { return &ast.IdentifierNode{Value: meterVar} }

func (b *budgetPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			b.env = true
		}
	case *ast.PredicateNode:
		n.Node = &ast.SequenceNode{Nodes: []ast.Node{
			call("$step", meterArg(), constant(int64(itemBytes)+literalBytes(n.Node))), n.Node,
		}}
	case *ast.BinaryNode:
		switch n.Operator {
		case "+":
			if isNumber(n.Left.Type()) && isNumber(n.Right.Type()) {
				return
			}
			ast.Patch(node, call("$plus", meterArg(), n.Left, n.Right))
		case "..":
			ast.Patch(node, call("$range", meterArg(), n.Left, n.Right))
		}
	case *ast.BuiltinNode:
		switch {
		case guarded[n.Name]:
			ast.Patch(node, b.guard(n))
		case charged[n.Name]:
			ast.Patch(node, call("$charge", meterArg(), n))
		}
	}
}

// guard binds the arguments of n to variables, so they are evaluated once, and runs
// $guard(meter, name, args...) before n.
func (b *budgetPatch) guard(n *ast.BuiltinNode) ast.Node {
	vars := make([]string, len(n.Arguments))
	values := n.Arguments
	idents := make([]ast.Node, len(vars))
	for i := range vars {
		b.vars++
		vars[i] = "$g" + strconv.Itoa(b.vars)
		idents[i] = ident(vars[i])
	}
	check := call("$guard", append([]ast.Node{meterArg(), str(n.Name)}, idents...)...)
	inner := &ast.BuiltinNode{Name: n.Name, Arguments: append([]ast.Node(nil), idents...)}
	var out ast.Node = &ast.SequenceNode{Nodes: []ast.Node{check, inner}}
	for i := len(vars) - 1; i >= 0; i-- {
		out = let(vars[i], values[i], out)
	}
	return out
}

func isNumber(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// literalBytes is what the list and map literals of a tree build each time it runs (nested
// loops' literals included, which only overcounts).
func literalBytes(n ast.Node) int64 {
	var c literalCounter
	ast.Walk(&n, &c)
	return c.n
}

type literalCounter struct{ n int64 }

func (c *literalCounter) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.ArrayNode:
		c.n += listBytes + itemBytes*int64(len(n.Nodes))
	case *ast.MapNode:
		c.n += mapBytes + entryBytes*int64(len(n.Pairs))
	}
}

// exprlangFuncs are the functions the patch calls.
var exprlangFuncs = []expr.Option{
	expr.Function("$step", func(args ...any) (any, error) {
		m, _ := args[0].(*meter)
		if err := m.step(1); err != nil {
			return nil, err
		}
		return nil, m.alloc(args[1].(int64))
	}),
	expr.Function("$plus", func(args ...any) (any, error) {
		m, _ := args[0].(*meter)
		if err := m.step(1); err != nil {
			return nil, err
		}
		if a, ok := args[1].(string); ok {
			if b, ok := args[2].(string); ok {
				if err := m.alloc(int64(len(a)) + int64(len(b))); err != nil {
					return nil, err
				}
				return a + b, nil
			}
		}
		return runtime.Add(args[1], args[2]), nil
	}),
	expr.Function("$range", func(args ...any) (any, error) {
		m, _ := args[0].(*meter)
		lo, hi := runtime.ToInt(args[1]), runtime.ToInt(args[2])
		n := int64(hi) - int64(lo) + 1
		if n > MaxRangeItems {
			return nil, m.fail(&BudgetError{Limit: LimitRange, Max: MaxRangeItems, Got: n})
		}
		if err := m.step(1); err != nil {
			return nil, err
		}
		if err := m.alloc(listBytes + itemBytes*max(n, 0)); err != nil {
			return nil, err
		}
		return runtime.MakeRange(lo, hi), nil
	}),
	expr.Function("$charge", func(args ...any) (any, error) {
		m, _ := args[0].(*meter)
		if err := m.step(1 + scanSteps(args[1])); err != nil {
			return nil, err
		}
		return args[1], m.alloc(shallowSize(args[1]))
	}),
	expr.Function("$guard", func(args ...any) (any, error) {
		m, _ := args[0].(*meter)
		name, _ := args[1].(string)
		return nil, guardBuiltin(m, name, args[2:])
	}),
}

// guardBuiltin counts what the expr-lang built-in name will build from args, before it runs.
// Arguments of the wrong type are left for the built-in to refuse.
func guardBuiltin(m *meter, name string, args []any) error {
	steps := int64(1)
	for _, a := range args {
		steps += scanSteps(a)
	}
	if err := m.step(steps); err != nil {
		return err
	}
	str := func(i int) string {
		if i < len(args) {
			s, _ := args[i].(string)
			return s
		}
		return ""
	}
	var n int64
	switch name {
	case "repeat":
		if len(args) == 2 {
			k := int64(runtime.ToInt(args[1]))
			if k > 0 && int64(len(str(0))) > 0 {
				if k > m.lim.bytes/int64(len(str(0)))+1 {
					return m.alloc(m.lim.bytes + 1)
				}
				n = k * int64(len(str(0)))
			}
		}
	case "join":
		glue := str(1)
		k := int64(0)
		list, _ := args[0].([]any)
		for _, e := range list {
			s, _ := e.(string)
			n += int64(len(s))
			k++
		}
		if ss, ok := args[0].([]string); ok {
			for _, s := range ss {
				n += int64(len(s))
			}
			k = int64(len(ss))
		}
		n += k * int64(len(glue))
	case "string", "toJSON":
		var err error
		if n, err = textSize(m, args[0]); err != nil {
			return err
		}
	case "flatten":
		var err error
		if n, err = leaves(m, args[0]); err != nil {
			return err
		}
		n = listBytes + itemBytes*n
	case "concat":
		n = listBytes
		for _, a := range args {
			if v := reflect.ValueOf(a); v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
				n += itemBytes * int64(v.Len())
			}
		}
	case "replace":
		if len(args) == 3 {
			s, old, repl := str(0), str(1), str(2)
			k := int64(utf8.RuneCountInString(s) + 1)
			if old != "" {
				k = int64(strings.Count(s, old))
			}
			n = int64(len(s)) + k*max(int64(len(repl))-int64(len(old)), 0)
		}
	case "split", "splitAfter":
		s, sep := str(0), str(1)
		k := int64(utf8.RuneCountInString(s))
		if sep != "" {
			k = int64(strings.Count(s, sep))
		}
		n = listBytes + 2*itemBytes*(k+1)
	case "fromJSON":
		s := str(0)
		n = int64(len(s))
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '[', '{', ',', ':':
				n += mapBytes
			}
		}
	}
	return m.alloc(n)
}

// textSize estimates the length of x written as text (FEEL's string() or JSON), counting a
// step for each value it visits; it stops as soon as the size passes what the budget has
// left, so a list holding the same long string a million times costs little to refuse.
func textSize(m *meter, x any) (int64, error) {
	var n int64
	var walk func(x any) error
	walk = func(x any) error {
		if err := m.step(1); err != nil {
			return err
		}
		switch v := x.(type) {
		case string:
			n += int64(len(v)) + 2
		case []any:
			n += 2
			for _, e := range v {
				n += 2
				if err := walk(e); err != nil {
					return err
				}
			}
		case map[string]any:
			n += 2
			for k, e := range v {
				n += int64(len(k)) + 6
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			n += 24
		}
		if !m.canAlloc(n) {
			return m.alloc(n)
		}
		return nil
	}
	err := walk(x)
	return n, err
}

// leaves counts the items flatten gives for x, stopping once they pass the budget.
func leaves(m *meter, x any) (int64, error) {
	var n int64
	var walk func(x any) error
	walk = func(x any) error {
		if err := m.step(1); err != nil {
			return err
		}
		l, ok := x.([]any)
		if !ok {
			n++
			if !m.canAlloc(itemBytes * n) {
				return m.alloc(itemBytes * n)
			}
			return nil
		}
		for _, e := range l {
			if err := walk(e); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk(x)
	return n, err
}
