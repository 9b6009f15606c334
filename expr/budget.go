package expr

import (
	"context"
	"errors"
	"fmt"
)

// An expression runs under a budget so that no job's content can exhaust the process: its
// source size and nesting are bounded when it is compiled; the steps it takes, the bytes of
// the values it builds and the depth of its FEEL function calls when it runs, and it stops
// when the job's context ends. A real template stays orders of magnitude below each limit; a
// hostile one reaches one of them within a fraction of a second (docs/feel.md, "Limits").
const (
	// MaxSourceBytes bounds an expression's source text.
	MaxSourceBytes = 64 << 10
	// MaxDepth bounds nesting: brackets, chains of binary operators (FEEL), FEEL function
	// calls in progress, and key paths of "context put".
	MaxDepth = 200
	// MaxSteps bounds the work of one evaluation: each call of a runtime function or
	// built-in, each iteration of for/some/every/filters/map, each item a built-in visits and
	// each 64 bytes of string it scans count one step. 10 million steps take about a second.
	MaxSteps = 10_000_000
	// MaxBytes bounds the bytes of the values one evaluation builds (strings, lists,
	// contexts, ranges), counted as they are built (approximately: 16 bytes a list item, 64
	// a context entry) and never given back. The output of a job is at most 1.5 MB.
	MaxBytes = 16 << 20
	// MaxRangeItems bounds the items of a range that is iterated (FEEL for/some/every/filters
	// over 1..n, expr-lang's 1..n).
	MaxRangeItems = 1 << 20
	// maxTranslatedNodes bounds the expr-lang syntax tree a FEEL source is translated to.
	maxTranslatedNodes = 200_000
)

// The limits a BudgetError names.
const (
	LimitSource = "source size"
	LimitDepth  = "nesting depth"
	LimitSteps  = "steps"
	LimitBytes  = "bytes"
	LimitRange  = "range size"
)

// BudgetError is an expression that went over one of its limits: what it is (Limit), the
// limit (Max) and, when known, the amount asked for (Got, 0 when unknown).
type BudgetError struct {
	Limit string
	Max   int64
	Got   int64
}

func (e *BudgetError) Error() string {
	var what string
	switch e.Limit {
	case LimitSource:
		what = fmt.Sprintf("the source is %d bytes, more than the %d allowed", e.Got, e.Max)
	case LimitDepth:
		what = fmt.Sprintf("it nests more than %d levels deep", e.Max)
	case LimitSteps:
		what = fmt.Sprintf("it takes more than %d steps", e.Max)
	case LimitBytes:
		what = fmt.Sprintf("the values it builds take more than %d bytes", e.Max)
	case LimitRange:
		what = fmt.Sprintf("a range has %d items, more than the %d that can be iterated", e.Got, e.Max)
	default:
		what = fmt.Sprintf("%s over %d", e.Limit, e.Max)
	}
	return "expression budget exceeded (" + e.Limit + " limit): " + what
}

// limits are the numbers a meter enforces; tests use smaller ones.
type limits struct {
	steps, bytes int64
	depth        int
}

var defaultLimits = limits{steps: MaxSteps, bytes: MaxBytes, depth: MaxDepth}

// checkEvery is how many steps pass between two looks at the context.
const checkEvery = 1024

// meter is the budget of one evaluation. Its methods return the first error again once the
// budget is exhausted, so a caller that drops an error (FEEL's null on failure) cannot run
// on. A nil meter has no limits. An evaluation runs on one goroutine: no locking.
type meter struct {
	steps, bytes int64 // left
	depth        int   // FEEL function calls in progress
	lim          limits
	untilCheck   int
	ctx          context.Context
	err          error
	warnings     []Warning           // why parts of the evaluation gave null (feel_warnings.go)
	scrub        func(string) string // what a warning shows of a text goes through it (Scrub)
}

// newMeter is a fresh meter for one evaluation under lim and ctx.
func newMeter(ctx context.Context, lim limits) meter {
	return meter{steps: lim.steps, bytes: lim.bytes, lim: lim, untilCheck: checkEvery, ctx: ctx}
}

// step counts n steps, and looks at the context every checkEvery steps.
func (m *meter) step(n int64) error {
	if m == nil {
		return nil
	}
	if m.err != nil {
		return m.err
	}
	m.steps -= n
	if m.steps < 0 {
		return m.fail(&BudgetError{Limit: LimitSteps, Max: m.lim.steps})
	}
	m.untilCheck -= int(min(n, checkEvery))
	if m.untilCheck <= 0 {
		m.untilCheck = checkEvery
		if m.ctx.Err() != nil {
			return m.fail(stopped(m.ctx))
		}
	}
	return nil
}

// alloc counts n bytes of values about to be built.
func (m *meter) alloc(n int64) error {
	if m == nil {
		return nil
	}
	if m.err != nil {
		return m.err
	}
	m.bytes -= n
	if m.bytes < 0 || n < 0 {
		return m.fail(&BudgetError{Limit: LimitBytes, Max: m.lim.bytes})
	}
	return nil
}

// canAlloc reports whether n more bytes fit, without counting them.
func (m *meter) canAlloc(n int64) bool { return m == nil || n >= 0 && n <= m.bytes }

func (m *meter) fail(err error) error {
	m.err = err
	return err
}

// enter counts a FEEL function call in progress; leave ends it.
func (m *meter) enter() error {
	if m == nil {
		return nil
	}
	m.depth++
	if m.depth > m.lim.depth {
		return m.fail(&BudgetError{Limit: LimitDepth, Max: int64(m.lim.depth)})
	}
	return m.step(1)
}

func (m *meter) leave() {
	if m != nil {
		m.depth--
	}
}

// stopped is the error of an evaluation stopped because its context ended: it matches
// context.Canceled or context.DeadlineExceeded, and the context's cause.
func stopped(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || errors.Is(cause, err) {
		return fmt.Errorf("stopped: %w", err)
	}
	return fmt.Errorf("stopped: %w: %w", err, cause)
}

// Approximate sizes of values, for the bytes budget.
const (
	itemBytes  = 16 // an interface in a list
	entryBytes = 64 // a context (map) entry
	listBytes  = 24
	mapBytes   = 48
)

// shallowSize is the size of the value x itself, not of the values it holds: what building
// it allocated when its items already existed.
func shallowSize(x any) int64 {
	switch v := x.(type) {
	case string:
		return int64(len(v))
	case []any:
		return listBytes + itemBytes*int64(len(v))
	case map[string]any:
		return mapBytes + entryBytes*int64(len(v))
	}
	return 0
}

// scanSteps is the work of visiting x once: its items, or its bytes by 64.
func scanSteps(x any) int64 {
	switch v := x.(type) {
	case string:
		return int64(len(v)) / 64
	case []any:
		return int64(len(v))
	case map[string]any:
		return int64(len(v))
	}
	return 0
}
