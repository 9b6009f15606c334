// Package expr compiles and evaluates result and error expressions over a plain context (maps,
// slices, strings, numbers, booleans). It knows no HTTP and no jobs. Each distinct source is
// compiled once; programs are safe for concurrent use.
//
// Two syntaxes, chosen by the source's first characters (after white space):
//
//   - "=" starts a FEEL expression, Camunda's convention: what a modeler writes in Camunda
//     Modeler works unchanged (feel_*.go; see docs/feel.md for what is supported).
//   - "expr:" starts an expr-lang expression (https://expr-lang.org); so does any source with
//     neither prefix, as before FEEL support, so existing plain expr-lang headers keep working.
package expr

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	exprlexer "github.com/expr-lang/expr/parser/lexer"
	"github.com/expr-lang/expr/vm"
)

// Program is a compiled expression.
type Program struct {
	src      string
	prog     *vm.Program
	feel     bool
	plain    bool  // FEEL results may hold temporal values to turn into ISO strings
	size     int64 // approximate bytes the program holds, for the cache
	keepsEnv bool  // an expr-lang program reading $env: its result may be the environment
	findings []*CompileError
}

// Findings are the constructs of a FEEL program that compile, as in feel-scala, but always
// evaluate to null: a call of an unknown function or with arguments no form of the function
// takes (null with a NO_FUNCTION_FOUND warning), an invalid temporal literal (null). A
// cluster runs such an expression; `expr lint` reports them as errors before deploy.
func (p *Program) Findings() []*CompileError { return p.findings }

// IsFEEL reports whether the program was compiled from FEEL.
func (p *Program) IsFEEL() bool { return p.feel }

// Source returns the text the program was compiled from.
func (p *Program) Source() string { return p.src }

// Eval runs the program over env with no context: EvalContext(context.Background(), env).
func (p *Program) Eval(env map[string]any) (any, error) {
	return p.EvalContext(context.Background(), env)
}

// EvalContext runs the program over env under its budget (budget.go) and ctx: it stops with a
// *BudgetError when it goes over a limit, and with an error matching ctx.Err() (and its
// cause) when ctx ends. Missing names evaluate to nil. env is not modified.
func (p *Program) EvalContext(ctx context.Context, env map[string]any) (any, error) {
	out, _, err := p.EvalWarnings(ctx, env)
	return out, err
}

// EvalWarnings is EvalContext that also returns the warnings of a FEEL evaluation: why parts
// of it gave null as feel-scala gives null (values that cannot be compared, ...), in the
// order they arose. Warnings are not errors: the result stands.
func (p *Program) EvalWarnings(ctx context.Context, env map[string]any, opts ...EvalOption) (any, []Warning, error) {
	return p.eval(ctx, env, defaultLimits, opts...)
}

// An EvalOption changes one evaluation.
type EvalOption func(*meter)

// Scrub passes every text a warning shows of a value through f (a secrets scrubber) before
// the warning quotes and cuts it: a scrubber of the finished warning could not recognise a
// secret of which the warning shows only the first 100 bytes.
func Scrub(f func(string) string) EvalOption { return func(m *meter) { m.scrub = f } }

// meterVar is the variable through which a program reaches its evaluation's meter.
const meterVar = "$meter"

func (p *Program) eval(ctx context.Context, env map[string]any, lim limits, opts ...EvalOption) (any, []Warning, error) {
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("evaluating %q: %w", short(p.src), stopped(ctx))
	}
	// The meter and the environment (env and the meter) of an evaluation come from a pool:
	// allocating them took as long as evaluating a typical mapping.
	st := evalPool.Get().(*evalState)
	st.m = newMeter(ctx, lim)
	for _, o := range opts {
		o(&st.m)
	}
	out, err := p.evalWith(&st.m, env, st.env)
	warnings := st.m.warnings
	if p.keepsEnv {
		st.env = make(map[string]any, 8) // the result may hold it ($env)
	}
	clear(st.env)
	st.m = meter{}
	evalPool.Put(st)
	return out, warnings, err
}

type evalState struct {
	m   meter
	env map[string]any
}

var evalPool = sync.Pool{New: func() any { return &evalState{env: make(map[string]any, 8)} }}

// evalWith runs the program with meter m over env, copied into e (nil: a new map).
func (p *Program) evalWith(m *meter, env map[string]any, e map[string]any) (any, error) {
	if e == nil {
		e = make(map[string]any, len(env)+1)
	}
	for k, v := range env {
		e[k] = v
	}
	e[meterVar] = m
	out, err := vm.Run(p.prog, e)
	if m.err != nil {
		err = m.err // what the program failed on is the budget, whatever it made of that
	}
	if err != nil {
		return nil, fmt.Errorf("evaluating %q: %w", short(p.src), err)
	}
	if p.plain {
		out = plain(out)
	}
	return out, nil
}

// Cache compiles each distinct source once. The zero value is ready to use. It holds at most
// maxEntries programs and maxCacheBytes of them (by Program.size), so a stream of generated
// or large sources cannot grow it without bound; when full, it evicts programs at random.
type Cache struct {
	mu       sync.RWMutex
	programs map[string]*Program
	bytes    int64
}

const (
	maxEntries    = 10000
	maxCacheBytes = 32 << 20
)

// Bytes is the approximate size of the programs the cache holds.
func (c *Cache) Bytes() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bytes
}

// Len is the number of programs the cache holds.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.programs)
}

// Compile returns the program for src, compiling it on first use.
func (c *Cache) Compile(src string) (*Program, error) {
	c.mu.RLock()
	p, ok := c.programs[src]
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	p, err := Compile(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.programs == nil {
		c.programs = make(map[string]*Program)
	}
	if _, ok := c.programs[src]; ok || p.size > maxCacheBytes {
		return p, nil
	}
	for k, q := range c.programs { // map order is random: random eviction
		if len(c.programs) < maxEntries && c.bytes+p.size <= maxCacheBytes {
			break
		}
		delete(c.programs, k)
		c.bytes -= q.size
	}
	c.programs[src] = p
	c.bytes += p.size
	return p, nil
}

// ExprPrefix marks a source as expr-lang.
const ExprPrefix = "expr:"

// Compile compiles src without caching. A FEEL error is a *CompileError (wrapped) naming the
// construct and its line:column in src.
func Compile(src string) (p *Program, err error) {
	defer func() {
		// Compile never panics, whatever the input.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("compiling %q: internal error: %v", short(src), r)
		}
	}()
	if len(src) > MaxSourceBytes {
		return nil, fmt.Errorf("compiling %q: %w", short(src), &BudgetError{Limit: LimitSource, Max: MaxSourceBytes, Got: int64(len(src))})
	}
	body := strings.TrimSpace(src)
	if strings.HasPrefix(body, "=") {
		if strings.TrimSpace(body[1:]) == "" {
			return nil, fmt.Errorf("empty expression")
		}
		prog, plain, findings, err := compileFEEL(src)
		if err != nil {
			return nil, fmt.Errorf("compiling FEEL %q: %w%s", short(src), err, exprHint(body))
		}
		return &Program{src: src, prog: prog, feel: true, plain: plain, size: programSize(src, prog), findings: findings}, nil
	}
	body = strings.TrimPrefix(body, ExprPrefix)
	if strings.TrimSpace(body) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	if err := checkNesting(body); err != nil {
		return nil, fmt.Errorf("compiling %q: %w", short(src), err)
	}
	opts := append(append(make([]expr.Option, 0, len(options)+len(exprlangFuncs)+1), options...), exprlangFuncs...)
	patch := &budgetPatch{}
	prog, err := expr.Compile(body, append(opts, expr.Patch(patch))...)
	if err != nil {
		return nil, fmt.Errorf("compiling %q: %w", short(src), err)
	}
	return &Program{src: src, prog: prog, size: programSize(src, prog), keepsEnv: patch.env}, nil
}

// checkNesting bounds the bracket nesting of an expr-lang source before expr-lang parses it:
// its parser recurses once per bracket and creates no node for one (so its node limit does
// not apply), and a million nested parentheses overflow the stack, a fatal error.
func checkNesting(body string) error {
	toks, err := exprlexer.Lex(file.NewSource(body))
	if err != nil {
		return nil // expr-lang's parser reports it
	}
	depth := 0
	for _, t := range toks {
		if t.Kind != exprlexer.Bracket {
			continue
		}
		switch t.Value {
		case "(", "[", "{":
			if depth++; depth > MaxDepth {
				return &BudgetError{Limit: LimitDepth, Max: MaxDepth}
			}
		default:
			depth--
		}
	}
	return nil
}

// programSize estimates the bytes a compiled program holds: its source (kept twice), per
// instruction about 160 bytes (an opcode, an argument, a source location, and the syntax tree
// the program keeps, measured by TestCacheIsBoundedByBytes), its string constants, and the
// programs of FEEL function literals.
func programSize(src string, prog *vm.Program) int64 {
	n := int64(1024 + 2*len(src))
	var walk func(p *vm.Program)
	walk = func(p *vm.Program) {
		n += int64(len(p.Bytecode)) * 160
		for _, c := range p.Constants {
			n += 16
			switch v := c.(type) {
			case string:
				n += int64(len(v))
			case *funcTemplate:
				n += 256
				walk(v.prog)
			default:
				n += 32
			}
		}
	}
	walk(prog)
	return n
}

// exprHint points at the expr: prefix when a FEEL source that failed looks like expr-lang.
func exprHint(body string) string {
	for _, op := range []string{"==", "&&", "||", "?.", "??"} {
		if strings.Contains(body, op) {
			return " (this looks like expr-lang: write it as \"" + ExprPrefix + "...\" without the \"=\")"
		}
	}
	return ""
}

var options = []expr.Option{
	expr.Env(map[string]any{}),
	expr.Patch(nilSafe{}),
	expr.AllowUndefinedVariables(),
	expr.Function("bpmnError", bpmnError),
	expr.Function("jobError", jobError),
	expr.Function("ignoreError", ignoreError),
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// nilSafe makes every member access nil-safe (a.b.c is nil when a or a.b is nil), the way
// FEEL's paths and Camunda's expressions behave, instead of failing the job.
type nilSafe struct{}

func (nilSafe) Visit(node *ast.Node) {
	if m, ok := (*node).(*ast.MemberNode); ok && !m.Optional {
		m.Optional = true
		ast.Patch(node, &ast.ChainNode{Node: m})
	}
}
