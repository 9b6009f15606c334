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
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Program is a compiled expression.
type Program struct {
	src   string
	prog  *vm.Program
	feel  bool
	plain bool // FEEL results may hold temporal values to turn into ISO strings
}

// IsFEEL reports whether the program was compiled from FEEL.
func (p *Program) IsFEEL() bool { return p.feel }

// Source returns the text the program was compiled from.
func (p *Program) Source() string { return p.src }

// Eval runs the program over env. Missing names evaluate to nil.
func (p *Program) Eval(env map[string]any) (any, error) {
	if env == nil {
		env = map[string]any{}
	}
	out, err := vm.Run(p.prog, env)
	if err != nil {
		return nil, fmt.Errorf("evaluating %q: %w", short(p.src), err)
	}
	if p.plain {
		out = plain(out)
	}
	return out, nil
}

// Cache compiles each distinct source once. The zero value is ready to use. It holds at most
// maxEntries programs, so a stream of generated sources cannot grow it without bound.
type Cache struct {
	mu       sync.RWMutex
	programs map[string]*Program
}

const maxEntries = 10000

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
	if c.programs == nil || len(c.programs) >= maxEntries {
		c.programs = make(map[string]*Program)
	}
	c.programs[src] = p
	c.mu.Unlock()
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
	body := strings.TrimSpace(src)
	if strings.HasPrefix(body, "=") {
		if strings.TrimSpace(body[1:]) == "" {
			return nil, fmt.Errorf("empty expression")
		}
		prog, plain, err := compileFEEL(src)
		if err != nil {
			return nil, fmt.Errorf("compiling FEEL %q: %w%s", short(src), err, exprHint(body))
		}
		return &Program{src: src, prog: prog, feel: true, plain: plain}, nil
	}
	body = strings.TrimPrefix(body, ExprPrefix)
	if strings.TrimSpace(body) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	prog, err := expr.Compile(body, options...)
	if err != nil {
		return nil, fmt.Errorf("compiling %q: %w", short(src), err)
	}
	return &Program{src: src, prog: prog}, nil
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
