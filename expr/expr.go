// Package expr compiles and evaluates result and error expressions over a plain context (maps,
// slices, strings, numbers, booleans). It knows no HTTP and no jobs. Each distinct source is
// compiled once; programs are safe for concurrent use.
//
// Syntax today is expr-lang (https://expr-lang.org); a leading "=" (Camunda's marker for an
// expression) is accepted and dropped, so the element template's defaults such as
// `={flowSessionId: response.body.flowsessionId}` work unchanged.
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
	src  string
	prog *vm.Program
}

// Source returns the text the program was compiled from.
func (p *Program) Source() string { return p.src }

// Eval runs the program over env. Missing names evaluate to nil.
func (p *Program) Eval(env map[string]any) (any, error) {
	out, err := vm.Run(p.prog, env)
	if err != nil {
		return nil, fmt.Errorf("evaluating %q: %w", short(p.src), err)
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

// Compile compiles src without caching.
func Compile(src string) (*Program, error) {
	body := strings.TrimSpace(src)
	body = strings.TrimPrefix(body, "=")
	if strings.TrimSpace(body) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	prog, err := expr.Compile(body, options...)
	if err != nil {
		return nil, fmt.Errorf("compiling %q: %w", short(src), err)
	}
	return &Program{src: src, prog: prog}, nil
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
