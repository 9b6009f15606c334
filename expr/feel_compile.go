package expr

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// The FEEL front end translates the FEEL tree into an expr-lang syntax tree and lets expr-lang
// check and compile it to its bytecode, so a FEEL program runs on the same VM, at the same
// speed, as an expr-lang one. FEEL semantics (null propagation, three-valued logic, 1-based
// lists, paths over lists, ...) live in the runtime functions of feel_values.go and
// feel_builtins.go, registered under names starting with "$" that no FEEL name can produce
// (a FEEL name starting with "$" is read through $env instead).
//
// Local names (for and quantifier variables, filter items, context entries that later entries
// refer to, function parameters) become expr-lang "let" variables named $v1, $v2, ...; for,
// some, every and filters become expr-lang's map and filter built-ins over closures. A
// function literal is compiled to a program of its own, run with its parameters and the
// locals it can see in its environment.

type scopeKind int

const (
	scopeLet  scopeKind = iota // FEEL name -> expr-lang variable
	scopeItem                  // a filter item: its context entries are names too
)

type scope struct {
	parent *scope
	kind   scopeKind
	name   string // FEEL name (scopeLet)
	v      string // expr-lang variable
}

type feelCompiler struct {
	src      string
	vars     int
	inFunc   bool            // compiling a function body: globals come from $outer
	temporal bool            // the program may produce values plain() must convert (temporal values, decimals, ...)
	nodes    int             // nodes of the translated tree so far, bounded by maxTranslatedNodes
	findings []*CompileError // constructs feel-scala evaluates to null, for lint (soft)
}

type compileFailure struct{ err *CompileError }

func (c *feelCompiler) fail(off int, format string, args ...any) {
	line, col := position(c.src, off)
	panic(compileFailure{&CompileError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}})
}

// soft compiles a construct that feel-scala accepts and evaluates to null (an unknown
// function, arguments no form of a function takes, an invalid temporal literal): the program
// gives null there, with feel-scala's warning when it gives one (warnType non-empty), and the
// construct is a finding that Program.Findings returns for lint to report before deploy.
func (c *feelCompiler) soft(off int, warnType, warning, format string, args ...any) ast.Node {
	c.finding(off, format, args...)
	if warnType == "" {
		return &ast.NilNode{}
	}
	return mcall("$warn", str(warnType), str(warning))
}

// finding records a construct lint reports (Program.Findings).
func (c *feelCompiler) finding(off int, format string, args ...any) {
	line, col := position(c.src, off)
	c.findings = append(c.findings, &CompileError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

// grow counts n nodes of the translated tree: a name inside nested filters, or a function
// literal inside nested scopes, translates to a tree that grows with the nesting.
func (c *feelCompiler) grow(off, n int) {
	c.nodes += n
	if c.nodes > maxTranslatedNodes {
		err := &BudgetError{Limit: LimitSource, Max: maxTranslatedNodes, Got: int64(c.nodes)}
		line, col := position(c.src, off)
		panic(compileFailure{&CompileError{Line: line, Column: col, Err: err,
			Msg: fmt.Sprintf("the expression translates to more than %d nodes", maxTranslatedNodes)}})
	}
}

func (c *feelCompiler) newVar() string {
	c.vars++
	return "$v" + strconv.Itoa(c.vars)
}

// compileFEEL compiles src (starting with "=") into a program.
func compileFEEL(src string) (prog *vm.Program, needsPlain bool, findings []*CompileError, err error) {
	start := strings.Index(src, "=") + 1
	tree, perr := parseFEEL(src, start)
	if perr != nil {
		return nil, false, nil, perr
	}
	c := &feelCompiler{src: src}
	node, cerr := c.translate(tree, nil)
	if cerr != nil {
		return nil, false, nil, cerr
	}
	prog, err = buildProgram(node)
	return prog, c.temporal, c.findings, err
}

func (c *feelCompiler) translate(n fnode, s *scope) (out ast.Node, err *CompileError) {
	defer func() {
		if r := recover(); r != nil {
			cf, ok := r.(compileFailure)
			if !ok {
				panic(r)
			}
			err = cf.err
		}
	}()
	return c.node(n, s), nil
}

// feelConfig is the expr-lang configuration of FEEL programs: no expr-lang built-ins (a FEEL
// name such as "count" or "date" must stay a name), the FEEL runtime functions.
func feelConfig() *conf.Config {
	cfg := conf.CreateNew()
	for _, op := range feelOptions {
		op(cfg)
	}
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	cfg.Check()
	return cfg
}

func buildProgram(node ast.Node) (*vm.Program, error) {
	cfg := feelConfig()
	tree := &exprparser.Tree{Node: node, Source: file.NewSource("FEEL")}
	if _, err := checker.Check(tree, cfg); err != nil {
		return nil, fmt.Errorf("internal error checking the translated FEEL: %w", err)
	}
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return nil, fmt.Errorf("internal error compiling the translated FEEL: %w", err)
	}
	return prog, nil
}

// helpers building expr-lang nodes

func call(name string, args ...ast.Node) ast.Node {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: args}
}

// mcall calls a metered function: its first argument is the evaluation's meter.
func mcall(name string, args ...ast.Node) ast.Node {
	return call(name, append([]ast.Node{meterArg()}, args...)...)
}

func str(s string) ast.Node   { return &ast.StringNode{Value: s} }
func ident(v string) ast.Node { return &ast.IdentifierNode{Value: v} }
func constant(v any) ast.Node { return &ast.ConstantNode{Value: v} }

func let(v string, value, body ast.Node) ast.Node {
	return &ast.VariableDeclaratorNode{Name: v, Value: value, Expr: body}
}

// closure is an expr-lang predicate whose element is bound to v. Each run counts a step, the
// item's slot in the result and the literals the body builds.
func closure(v string, body ast.Node) ast.Node {
	tick := mcall("$step", constant(int64(itemBytes)+literalBytes(body)))
	return &ast.PredicateNode{Node: let(v, &ast.PointerNode{}, &ast.SequenceNode{Nodes: []ast.Node{tick, body}})}
}

var binaryFuncs = map[string]string{
	"+": "$add", "-": "$sub", "*": "$mul", "/": "$div", "**": "$pow",
	"=": "$eq", "!=": "$ne", "<": "$lt", "<=": "$le", ">": "$gt", ">=": "$ge",
}

// binop calls the runtime function of a binary operator.
func binop(op string, l, r ast.Node) ast.Node {
	if name := binaryFuncs[op]; metered[name] != nil {
		return mcall(name, l, r)
	}
	return call(binaryFuncs[op], l, r)
}

func (c *feelCompiler) node(n fnode, s *scope) ast.Node {
	c.grow(n.at(), 1)
	switch n := n.(type) {
	case *fNum:
		if _, ok := n.val.(int64); !ok {
			c.temporal = true // a decimal
		}
		return constant(n.val)
	case *fStr:
		return str(n.val)
	case *fBool:
		return &ast.BoolNode{Value: n.val}
	case *fNull:
		return &ast.NilNode{}
	case *fTemporal:
		v, ok := parseTemporalLiteral(n.val)
		if !ok { // feel-scala: null, without a warning
			return c.soft(n.off, "", "", "invalid temporal literal @%q", n.val)
		}
		c.temporal = true
		return constant(v)
	case *fName:
		return c.name(n.off, n.name, s)
	case *fPath:
		// a.b.c becomes one call $path(a, "b", "c")
		var keys []string
		x := fnode(n)
		for {
			p, ok := x.(*fPath)
			if !ok {
				break
			}
			keys = append(keys, p.key)
			x = p.x
		}
		if b, ok := x.(*fName); ok && c.resolvesGlobal(b.name, s) {
			// a variable's path: a missing variable and a null one warn differently
			args := []ast.Node{c.globals(), str(b.name)}
			for i := len(keys) - 1; i >= 0; i-- {
				args = append(args, str(keys[i]))
			}
			return mcall("$pathVar", args...)
		}
		args := []ast.Node{c.node(x, s)}
		for i := len(keys) - 1; i >= 0; i-- {
			args = append(args, str(keys[i]))
		}
		if len(args) == 2 {
			return mcall("$get", args...)
		}
		return mcall("$path", args...)
	case *fFilter:
		return c.filter(n, s)
	case *fCall:
		return c.call(n, s)
	case *fBinary:
		switch n.op {
		case "and", "or":
			return c.junction(n.op, c.node(n.l, s), c.node(n.r, s))
		}
		switch n.op {
		case "+", "-", "*", "/", "**":
			c.temporal = true // may make a decimal
		}
		return binop(n.op, c.node(n.l, s), c.node(n.r, s))
	case *fNeg:
		c.temporal = true
		return mcall("$neg", c.node(n.x, s))
	case *fBetween:
		v := c.newVar()
		x := ident(v)
		return let(v, c.node(n.x, s), c.junction("and", mcall("$ge", x, c.node(n.lo, s)), mcall("$le", x, c.node(n.hi, s))))
	case *fIn:
		v := c.newVar()
		x := ident(v)
		var tests []ast.Node
		for _, t := range n.tests {
			if u, ok := t.(*fUnaryCmp); ok {
				tests = append(tests, binop(u.op, x, c.node(u.x, s)))
			} else {
				tests = append(tests, mcall("$in", x, c.node(t, s)))
			}
		}
		body := tests[0]
		for _, t := range tests[1:] {
			body = c.junction("or", body, t)
		}
		return let(v, c.node(n.x, s), body)
	case *fUnaryCmp:
		c.fail(n.off, "unsupported construct: a unary test (%s) outside 'in'", n.op)
	case *fRange:
		var start, end ast.Node = &ast.NilNode{}, &ast.NilNode{}
		if n.start != nil {
			start = c.node(n.start, s)
		}
		if n.end != nil {
			end = c.node(n.end, s)
		}
		c.temporal = true
		return call("$range", start, end, &ast.BoolNode{Value: n.startIncl}, &ast.BoolNode{Value: n.endIncl})
	case *fList:
		items := make([]ast.Node, len(n.items))
		for i, e := range n.items {
			items[i] = c.node(e, s)
		}
		return &ast.ArrayNode{Nodes: items}
	case *fContext:
		return c.context(n, s)
	case *fIf:
		return &ast.ConditionalNode{Cond: mcall("$cond", c.node(n.cond, s)), Exp1: c.node(n.then, s), Exp2: c.node(n.els, s)}
	case *fFor:
		return c.iterate(n.vars, n.ins, n.body, s, nil)
	case *fQuant:
		name := "$some"
		if n.every {
			name = "$every"
		}
		// each item's answer goes through $quantItem, which warns about the first that is
		// not a boolean while no item has decided yet, in the order feel-scala does
		st := c.newVar()
		item := func(b ast.Node) ast.Node {
			return mcall("$quantItem", ident(st), &ast.BoolNode{Value: n.every}, b)
		}
		return let(st, call("$quantState"), call(name, c.iterate(n.vars, n.ins, n.body, s, item)))
	case *fFunc:
		return c.function(n, s)
	case *fInstanceOf:
		if !typeNames[n.typ] {
			c.finding(n.off, "unknown type %q: instance of it is always false", n.typ)
		}
		return call("$instanceOf", c.node(n.x, s), str(n.typ))
	}
	c.fail(n.at(), "unsupported construct")
	return nil
}

// junction is "l and r" (op "and") or "l or r" as feel-scala evaluates them: l first, then r
// only when l does not decide (false for and, true for or); each operand that is not a
// boolean warns, l before r is evaluated, r only when l was a boolean.
func (c *feelCompiler) junction(op string, l, r ast.Node) ast.Node {
	v := c.newVar()
	decides, result := "$isFalse", &ast.BoolNode{Value: false}
	if op == "or" {
		decides, result = "$true", &ast.BoolNode{Value: true}
	}
	return let(v, mcall("$boolean", l), &ast.ConditionalNode{
		Cond: call(decides, ident(v)),
		Exp1: result,
		Exp2: mcall("$"+op, ident(v), r),
	})
}

// name resolves a FEEL name: a local, a filter item's entry, or a variable of the context.
func (c *feelCompiler) name(off int, name string, s *scope) ast.Node {
	for sc := s; sc != nil; sc = sc.parent {
		c.grow(off, 1)
		switch sc.kind {
		case scopeLet:
			if sc.name == name {
				return ident(sc.v)
			}
		case scopeItem: // the item's entry when it has one, else the name outside (read only then)
			if name == "item" {
				return call("$itemOr", ident(sc.v), str(name), ident(sc.v))
			}
			return &ast.ConditionalNode{
				Cond: call("$itemHas", ident(sc.v), str(name)),
				Exp1: call("$itemOr", ident(sc.v), str(name), &ast.NilNode{}),
				Exp2: c.name(off, name, sc.parent),
			}
		}
	}
	return c.global(name)
}

// global reads a variable of the context; a missing one is null with a NO_VARIABLE_FOUND
// warning. A variable that is there costs one nil check more than reading it.
func (c *feelCompiler) global(name string) ast.Node {
	if c.inFunc || strings.HasPrefix(name, "$") {
		return mcall("$var", c.globals(), str(name))
	}
	return &ast.BinaryNode{Operator: "??", Left: ident(name), Right: mcall("$novar", c.globals(), str(name))}
}

// globals is the map of the context's variables: the environment, or in a function body the
// one the function was made in.
func (c *feelCompiler) globals() ast.Node {
	if c.inFunc {
		return ident("$outer")
	}
	return ident("$env")
}

// resolvesGlobal reports whether name read in scope s is a variable of the context.
func (c *feelCompiler) resolvesGlobal(name string, s *scope) bool {
	for sc := s; sc != nil; sc = sc.parent {
		if sc.kind == scopeItem || sc.name == name {
			return false
		}
	}
	return true
}

func (c *feelCompiler) isLocal(name string, s *scope) bool {
	for sc := s; sc != nil; sc = sc.parent {
		if sc.kind == scopeLet && sc.name == name {
			return true
		}
	}
	return false
}

// iterate compiles "for a in A, b in B return body" (and the same for some/every) into
// nested maps, flattened one level per extra variable.
func (c *feelCompiler) iterate(vars []string, ins []fnode, body fnode, s *scope, wrap func(ast.Node) ast.Node) ast.Node {
	v := c.newVar()
	lv := c.newVar()
	inner := &scope{parent: s, kind: scopeLet, name: vars[0], v: v}
	var b ast.Node
	if len(vars) == 1 {
		b = c.node(body, inner)
		if wrap != nil {
			b = wrap(b)
		}
	} else {
		b = c.iterate(vars[1:], ins[1:], body, inner, wrap)
	}
	var m ast.Node = &ast.BuiltinNode{Name: "map", Arguments: []ast.Node{mcall("$list", ident(lv)), closure(v, b)}}
	if len(vars) > 1 {
		m = mcall("$flatten1", m)
	}
	// iterating over anything but a list or a range gives null
	return let(lv, c.node(ins[0], s), &ast.ConditionalNode{Cond: call("$iterable", ident(lv)), Exp1: m, Exp2: mcall("$notList", ident(lv))})
}

// filter compiles "list[e]": an index when e is a number, else the items for which e is true.
func (c *feelCompiler) filter(n *fFilter, s *scope) ast.Node {
	list := c.node(n.x, s)
	switch f := n.filter.(type) {
	case *fNum:
		return mcall("$index", list, constant(f.val))
	}
	lv := c.newVar()
	iv := c.newVar()
	pred := c.node(n.filter, &scope{parent: s, kind: scopeItem, v: iv})
	// filtering anything but a list is null and a warning, as in feel-scala
	filtered := &ast.ConditionalNode{
		Cond: call("$iterable", ident(lv)),
		Exp1: &ast.BuiltinNode{Name: "filter", Arguments: []ast.Node{mcall("$list", ident(lv)), closure(iv, call("$true", pred))}},
		Exp2: mcall("$notList", ident(lv)),
	}
	if isBooleanExpr(n.filter) {
		return let(lv, list, filtered)
	}
	// The filter might be a number computed at run time (list[i], list[count(list)]): it is
	// evaluated once outside the items; a number indexes, anything else filters.
	fv := c.newVar()
	return let(lv, list, let(fv, c.node(n.filter, s), &ast.ConditionalNode{
		Cond: call("$isNumber", ident(fv)),
		Exp1: mcall("$index", ident(lv), ident(fv)),
		Exp2: filtered,
	}))
}

// isBooleanExpr reports whether e can only be a boolean (or null), so a filter with it cannot
// be an index.
func isBooleanExpr(e fnode) bool {
	switch e := e.(type) {
	case *fBinary:
		switch e.op {
		case "=", "!=", "<", "<=", ">", ">=", "and", "or":
			return true
		}
	case *fBetween, *fIn, *fBool, *fQuant, *fInstanceOf:
		return true
	case *fCall:
		if b, ok := builtins[e.name]; ok {
			return b.boolean
		}
	}
	return false
}

// context compiles a context literal; when an entry refers to an earlier one by name, the
// entries become let variables so the reference sees the value.
func (c *feelCompiler) context(n *fContext, s *scope) ast.Node {
	selfRef := false
	for i := 1; i < len(n.vals) && !selfRef; i++ {
		used := map[string]bool{}
		namesIn(n.vals[i], used)
		for _, k := range n.keys[:i] {
			if used[k] {
				selfRef = true
				break
			}
		}
	}
	if !selfRef {
		pairs := make([]ast.Node, len(n.keys))
		for i, k := range n.keys {
			pairs[i] = &ast.PairNode{Key: str(k), Value: c.node(n.vals[i], s)}
		}
		return &ast.MapNode{Pairs: pairs}
	}
	vs := make([]string, len(n.keys))
	inner := s
	values := make([]ast.Node, len(n.keys))
	for i, k := range n.keys {
		values[i] = c.node(n.vals[i], inner)
		vs[i] = c.newVar()
		inner = &scope{parent: inner, kind: scopeLet, name: k, v: vs[i]}
	}
	pairs := make([]ast.Node, len(n.keys))
	for i, k := range n.keys {
		pairs[i] = &ast.PairNode{Key: str(k), Value: ident(vs[i])}
	}
	var out ast.Node = &ast.MapNode{Pairs: pairs}
	for i := len(n.keys) - 1; i >= 0; i-- {
		out = let(vs[i], values[i], out)
	}
	return out
}

// namesIn collects the names a FEEL tree mentions (names and called local functions).
func namesIn(n fnode, out map[string]bool) {
	switch n := n.(type) {
	case *fName:
		out[n.name] = true
	case *fPath:
		namesIn(n.x, out)
	case *fFilter:
		namesIn(n.x, out)
		namesIn(n.filter, out)
	case *fCall:
		out[n.name] = true
		for _, a := range n.args {
			namesIn(a, out)
		}
	case *fBinary:
		namesIn(n.l, out)
		namesIn(n.r, out)
	case *fNeg:
		namesIn(n.x, out)
	case *fBetween:
		namesIn(n.x, out)
		namesIn(n.lo, out)
		namesIn(n.hi, out)
	case *fIn:
		namesIn(n.x, out)
		for _, t := range n.tests {
			namesIn(t, out)
		}
	case *fUnaryCmp:
		namesIn(n.x, out)
	case *fRange:
		if n.start != nil {
			namesIn(n.start, out)
		}
		if n.end != nil {
			namesIn(n.end, out)
		}
	case *fList:
		for _, e := range n.items {
			namesIn(e, out)
		}
	case *fContext:
		for _, e := range n.vals {
			namesIn(e, out)
		}
	case *fIf:
		namesIn(n.cond, out)
		namesIn(n.then, out)
		namesIn(n.els, out)
	case *fFor:
		for _, e := range n.ins {
			namesIn(e, out)
		}
		namesIn(n.body, out)
	case *fQuant:
		for _, e := range n.ins {
			namesIn(e, out)
		}
		namesIn(n.body, out)
	case *fFunc:
		namesIn(n.body, out)
	case *fInstanceOf:
		namesIn(n.x, out)
	}
}

// call compiles a call of a built-in function or of a local name holding a function.
func (c *feelCompiler) call(n *fCall, s *scope) ast.Node {
	if c.isLocal(n.name, s) {
		args := []ast.Node{str(n.name), c.node(&fName{n.off, n.name}, s)}
		if n.named != nil { // matched to the function's parameter names when it is called
			args = append(args, constant(n.named))
			for _, a := range n.args {
				args = append(args, c.node(a, s))
			}
			return mcall("$callNamed", args...)
		}
		for _, a := range n.args {
			args = append(args, c.node(a, s))
		}
		return mcall("$call", args...)
	}
	// a call no function takes: null with feel-scala's warning; lint reports it, and what its
	// arguments hold (their nodes are dropped)
	noSuchCall := func(format string, a ...any) ast.Node {
		for _, arg := range n.args {
			c.node(arg, s)
		}
		return c.soft(n.off, WarnNoFunction, noFunction(n), format, a...)
	}
	b, ok := builtins[n.name]
	if !ok {
		return noSuchCall("unknown function %q", n.name)
	}
	args := n.args
	if n.named != nil {
		var problem string
		if args, problem = namedArgs(n, b); problem != "" {
			return noSuchCall("%s", problem)
		}
	}
	if len(args) < b.min || b.max >= 0 && len(args) > b.max || n.named == nil && !b.takes(len(args)) {
		return noSuchCall("%s() takes %s, got %d", n.name, b.arity(), len(args))
	}
	if b.temporal || !b.boolean {
		c.temporal = true // a temporal value or a decimal
	}
	out := make([]ast.Node, len(args))
	for i, a := range args {
		if a == nil {
			out[i] = &ast.NilNode{}
			continue
		}
		out[i] = c.node(a, s)
	}
	return mcall(builtinFunc(n.name), out...)
}

// noFunction is feel-scala's NO_FUNCTION_FOUND warning for a call no function takes.
func noFunction(n *fCall) string {
	if n.named != nil {
		return fmt.Sprintf("No function found with name '%s' and parameters: %s", n.name, strings.Join(n.named, ","))
	}
	return fmt.Sprintf("No function found with name '%s' and %d parameters", n.name, len(n.args))
}

// namedArgs orders named arguments by the function's parameter names; problem says why no
// form of the function takes them.
func namedArgs(n *fCall, b *builtin) (args []fnode, problem string) {
	params := b.params
	if b.forms != nil {
		params = nil
	}
	for _, form := range b.forms { // the first form that has every name given
		if params == nil && hasAll(form, n.named) {
			params = form
		}
	}
	if params == nil && b.forms != nil {
		return nil, fmt.Sprintf("%s() has no form with parameters %s (forms: %s)", n.name, strings.Join(n.named, ", "), formsString(b.forms))
	}
	if params == nil {
		return nil, fmt.Sprintf("%s() does not take named arguments", n.name)
	}
	args = make([]fnode, len(params))
	last := -1
	for i, name := range n.named {
		pos := slices.Index(params, name)
		if pos < 0 {
			return nil, fmt.Sprintf("%s() has no parameter %q (parameters: %s)", n.name, name, strings.Join(params, ", "))
		}
		if args[pos] != nil {
			return nil, fmt.Sprintf("%s(): parameter %q given twice", n.name, name)
		}
		args[pos] = n.args[i]
		last = max(last, pos)
	}
	args = args[:last+1]
	for i, a := range args {
		if a == nil && i < b.min {
			return nil, fmt.Sprintf("%s(): missing parameter %q", n.name, params[i])
		}
	}
	return args, ""
}

func hasAll(form, names []string) bool {
	for _, n := range names {
		found := false
		for _, f := range form {
			found = found || f == n
		}
		if !found {
			return false
		}
	}
	return true
}

func formsString(forms [][]string) string {
	var out []string
	for _, f := range forms {
		out = append(out, "("+strings.Join(f, ", ")+")")
	}
	return strings.Join(out, " ")
}

// function compiles a function literal to its own program; at run time the literal becomes a
// *feelFunc holding the globals and the values of the locals its body can see.
func (c *feelCompiler) function(n *fFunc, s *scope) ast.Node {
	var captured []string
	var capturedVals []ast.Node
	seen := map[string]bool{}
	for sc := s; sc != nil; sc = sc.parent {
		c.grow(n.off, 1)
		if !seen[sc.v] {
			seen[sc.v] = true
			captured = append(captured, sc.v)
			capturedVals = append(capturedVals, ident(sc.v))
		}
	}
	inner := s
	params := make([]string, len(n.params))
	for i, p := range n.params {
		params[i] = c.newVar()
		inner = &scope{parent: inner, kind: scopeLet, name: p, v: params[i]}
	}
	sub := &feelCompiler{src: c.src, vars: c.vars, inFunc: true, nodes: c.nodes}
	body := sub.node(n.body, inner)
	c.vars, c.nodes = sub.vars, sub.nodes
	c.findings = append(c.findings, sub.findings...)
	c.temporal = c.temporal || sub.temporal
	prog, err := buildProgram(body)
	if err != nil {
		c.fail(n.off, "%v", err)
	}
	tmpl := &funcTemplate{prog: prog, params: params, names: n.params, captured: captured, plain: sub.temporal, literals: literalBytes(body)}
	globals := ident("$env")
	if c.inFunc {
		globals = ident("$outer")
	}
	args := append([]ast.Node{constant(tmpl), globals}, capturedVals...)
	c.temporal = true // the function value itself must not leak into a result
	return call("$lambda", args...)
}
