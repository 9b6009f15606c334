package expr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// The FEEL syntax tree. Every node records the byte offset where it starts, for error positions.

type fnode interface{ at() int }

type (
	fNum struct {
		off int
		val any
	} // int64 or *apd.Decimal
	fStr struct {
		off int
		val string
	}
	fBool struct {
		off int
		val bool
	}
	fNull     struct{ off int }
	fTemporal struct {
		off int
		val string
	}
	fName struct {
		off  int
		name string
	}
	fPath struct {
		off int
		x   fnode
		key string
	}
	fFilter struct {
		off       int
		x, filter fnode
	}
	fCall struct {
		off   int
		name  string // a built-in name, or a local name holding a function
		args  []fnode
		named []string // parameter names for a call with named arguments, else nil
	}
	fBinary struct {
		off  int
		op   string
		l, r fnode
	} // + - * / ** = != < <= > >= and or
	fNeg struct {
		off int
		x   fnode
	}
	fBetween struct {
		off       int
		x, lo, hi fnode
	}
	fIn struct {
		off   int
		x     fnode
		tests []fnode
	} // tests: fUnaryCmp, fRange or any expression
	fUnaryCmp struct {
		off int
		op  string
		x   fnode
	} // "< 5" in a unary test
	fRange struct {
		off                int
		start, end         fnode // nil for an open end
		startIncl, endIncl bool
	}
	fList struct {
		off   int
		items []fnode
	}
	fContext struct {
		off  int
		keys []string
		vals []fnode
	}
	fIf struct {
		off             int
		cond, then, els fnode
	}
	fFor struct {
		off  int
		vars []string
		ins  []fnode
		body fnode
	}
	fQuant struct {
		off   int
		every bool
		vars  []string
		ins   []fnode
		body  fnode
	}
	fInstanceOf struct {
		off int
		x   fnode
		typ string
	}
	fFunc struct {
		off    int
		params []string
		body   fnode
	}
)

func (n *fNum) at() int        { return n.off }
func (n *fStr) at() int        { return n.off }
func (n *fBool) at() int       { return n.off }
func (n *fNull) at() int       { return n.off }
func (n *fTemporal) at() int   { return n.off }
func (n *fName) at() int       { return n.off }
func (n *fPath) at() int       { return n.off }
func (n *fFilter) at() int     { return n.off }
func (n *fCall) at() int       { return n.off }
func (n *fBinary) at() int     { return n.off }
func (n *fNeg) at() int        { return n.off }
func (n *fBetween) at() int    { return n.off }
func (n *fIn) at() int         { return n.off }
func (n *fUnaryCmp) at() int   { return n.off }
func (n *fRange) at() int      { return n.off }
func (n *fList) at() int       { return n.off }
func (n *fContext) at() int    { return n.off }
func (n *fIf) at() int         { return n.off }
func (n *fFor) at() int        { return n.off }
func (n *fQuant) at() int      { return n.off }
func (n *fFunc) at() int       { return n.off }
func (n *fInstanceOf) at() int { return n.off }

// typeNames are the types "instance of" knows.
var typeNames = map[string]bool{
	"number": true, "string": true, "boolean": true, "date": true, "time": true, "date and time": true,
	"days and time duration": true, "years and months duration": true, "list": true, "context": true,
	"function": true, "range": true, "Any": true, "Null": true,
}

// typeName reads the longest known type name of up to four words.
func (p *parser) typeName() string {
	best, n := "", 0
	var words []string
	for k := 0; k < 4 && p.peekAt(k).kind == tName; k++ {
		words = append(words, p.peekAt(k).val)
		if typeNames[strings.Join(words, " ")] {
			best, n = strings.Join(words, " "), k+1
		}
	}
	if n == 0 && p.peek().kind == tName { // a type no value has: false, as in feel-scala (lint reports it)
		best, n = p.peek().val, 1
	}
	if n == 0 {
		p.fail(p.peek(), "unsupported construct: instance of %s", describe(p.peek()))
	}
	p.i += n
	if p.isOp("<") {
		p.fail(p.peek(), "unsupported construct: instance of %s<...>", best)
	}
	return best
}

// keywords cannot be used as plain names.
var keywords = map[string]bool{
	"if": true, "then": true, "else": true, "for": true, "in": true, "return": true,
	"some": true, "every": true, "satisfies": true, "and": true, "or": true,
	"between": true, "instance": true, "of": true, "function": true,
	"null": true, "true": true, "false": true,
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// parseFEEL parses src[start:] as one FEEL expression.
func parseFEEL(src string, start int) (fnode, *CompileError) {
	toks, err := lex(src, start)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	var n fnode
	perr := p.catch(func() {
		n = p.expression()
		if p.peek().kind != tEOF {
			p.fail(p.peek(), "unexpected %s after the end of the expression", describe(p.peek()))
		}
	})
	return n, perr
}

type parseFailure struct{ err *CompileError }

func (p *parser) catch(f func()) (err *CompileError) {
	defer func() {
		if r := recover(); r != nil {
			pf, ok := r.(parseFailure)
			if !ok {
				panic(r)
			}
			err = pf.err
		}
	}()
	f()
	return nil
}

func (p *parser) fail(t token, format string, args ...any) {
	line, col := position(p.src, t.off)
	panic(parseFailure{&CompileError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}})
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tStr:
		return "string " + strconv.Quote(t.val)
	case tBacktick:
		return "`" + t.val + "`"
	}
	return strconv.Quote(t.val)
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(v string) bool   { t := p.peek(); return t.kind == tOp && t.val == v }
func (p *parser) isWord(v string) bool { t := p.peek(); return t.kind == tName && t.val == v }

func (p *parser) expectOp(v string) token {
	if !p.isOp(v) {
		p.fail(p.peek(), "expected %q but found %s", v, describe(p.peek()))
	}
	return p.advance()
}

func (p *parser) expectWord(v string) token {
	if !p.isWord(v) {
		p.fail(p.peek(), "expected %q but found %s", v, describe(p.peek()))
	}
	return p.advance()
}

// enter counts a level of nesting: a bracket, a construct, or an operator of a chain (a + b +
// c nests as (a + b) + c, and the translated tree is as deep as the chain is long), so that
// hostile input cannot exhaust the stack of the parser or of the stages after it.
func (p *parser) enter() {
	p.depth++
	if p.depth > MaxDepth {
		err := &BudgetError{Limit: LimitDepth, Max: MaxDepth}
		line, col := position(p.src, p.peek().off)
		panic(parseFailure{&CompileError{Line: line, Column: col, Msg: err.Error(), Err: err}})
	}
}
func (p *parser) leave() { p.depth-- }

// restore ends the levels a chain of operators entered.
func (p *parser) restore(depth int) { p.depth = depth }

// expression: if, for, some/every, function literals, or a disjunction.
func (p *parser) expression() fnode {
	p.enter()
	defer p.leave()
	t := p.peek()
	if t.kind == tName {
		switch t.val {
		case "if":
			p.advance()
			c := p.expression()
			p.expectWord("then")
			a := p.expression()
			p.expectWord("else")
			b := p.expression()
			return &fIf{t.off, c, a, b}
		case "for":
			p.advance()
			vars, ins := p.iterations()
			p.expectWord("return")
			return &fFor{t.off, vars, ins, p.expression()}
		case "some", "every":
			p.advance()
			vars, ins := p.iterations()
			p.expectWord("satisfies")
			return &fQuant{t.off, t.val == "every", vars, ins, p.expression()}
		case "function":
			if p.peekAt(1).kind == tOp && p.peekAt(1).val == "(" {
				p.advance()
				p.advance()
				var params []string
				for !p.isOp(")") {
					if len(params) > 0 {
						p.expectOp(",")
					}
					params = append(params, p.plainName("parameter name"))
					if p.isOp(":") { // a type annotation
						p.fail(p.peek(), "unsupported construct: typed function parameters")
					}
				}
				p.advance()
				if p.isWord("external") {
					p.fail(p.peek(), "unsupported construct: external functions")
				}
				return &fFunc{t.off, params, p.expression()}
			}
		}
	}
	return p.disjunction()
}

// iterations parses "x in e, y in f" of for/some/every.
func (p *parser) iterations() ([]string, []fnode) {
	var vars []string
	var ins []fnode
	for {
		vars = append(vars, p.plainName("iteration variable"))
		p.expectWord("in")
		in := p.disjunction()
		if p.isOp("..") { // for i in 1..3
			t := p.advance()
			in = &fRange{off: t.off, start: in, end: p.disjunction(), startIncl: true, endIncl: true}
		}
		ins = append(ins, in)
		if !p.isOp(",") {
			return vars, ins
		}
		p.advance()
	}
}

func (p *parser) plainName(what string) string {
	t := p.peek()
	switch {
	case t.kind == tBacktick:
		p.advance()
		return t.val
	case t.kind == tName && !keywords[t.val]:
		p.advance()
		return t.val
	}
	p.fail(t, "expected %s but found %s", what, describe(t))
	return ""
}

func (p *parser) disjunction() fnode {
	l := p.conjunction()
	defer p.restore(p.depth)
	for p.isWord("or") {
		p.enter()
		t := p.advance()
		l = &fBinary{t.off, "or", l, p.conjunction()}
	}
	return l
}

func (p *parser) conjunction() fnode {
	l := p.comparison()
	defer p.restore(p.depth)
	for p.isWord("and") {
		p.enter()
		t := p.advance()
		l = &fBinary{t.off, "and", l, p.comparison()}
	}
	return l
}

func (p *parser) comparison() fnode {
	l := p.additive()
	defer p.restore(p.depth)
	for {
		t := p.peek()
		switch {
		case t.kind == tOp && (t.val == "=" || t.val == "!=" || t.val == "<" || t.val == "<=" || t.val == ">" || t.val == ">="):
			p.enter()
			p.advance()
			l = &fBinary{t.off, t.val, l, p.additive()}
		case t.kind == tName && t.val == "between":
			p.enter()
			p.advance()
			lo := p.additive()
			p.expectWord("and")
			l = &fBetween{t.off, l, lo, p.additive()}
		case t.kind == tName && t.val == "in":
			p.enter()
			p.advance()
			l = &fIn{t.off, l, p.positiveUnaryTests()}
		case t.kind == tName && t.val == "instance":
			p.enter()
			p.advance()
			p.expectWord("of")
			l = &fInstanceOf{t.off, l, p.typeName()}
		default:
			return l
		}
	}
}

// positiveUnaryTests parses the right side of "in": one test, or a parenthesized list of tests.
func (p *parser) positiveUnaryTests() []fnode {
	if p.isOp("(") {
		// "(a, b, > 3)" is a list of tests; "(1..5]" a range; "(a)" a parenthesized test.
		save := p.i
		p.advance()
		first := p.unaryTest()
		switch {
		case p.isOp(")"):
			p.advance()
			if p.isOp(".") || p.isOp("[") || p.isOp("+") || p.isOp("-") || p.isOp("*") || p.isOp("/") || p.isOp("**") {
				p.i = save // "(a).b": an expression after all
				return []fnode{p.unaryTest()}
			}
			return []fnode{first}
		case p.isOp(","):
			tests := []fnode{first}
			for p.isOp(",") {
				p.advance()
				tests = append(tests, p.unaryTest())
			}
			p.expectOp(")")
			return tests
		}
		p.i = save
	}
	return []fnode{p.unaryTest()}
}

// unaryTest: "< e", "<= e", "> e", ">= e", "= e", "!= e", a range, or an expression.
func (p *parser) unaryTest() fnode {
	t := p.peek()
	if t.kind == tOp {
		switch t.val {
		case "<", "<=", ">", ">=", "=", "!=":
			p.advance()
			return &fUnaryCmp{t.off, t.val, p.additive()}
		}
	}
	if t.kind == tName && t.val == "not" && p.peekAt(1).kind == tOp && p.peekAt(1).val == "(" {
		p.fail(t, "unsupported construct: not(...) as a unary test after 'in'")
	}
	return p.additive()
}

func (p *parser) additive() fnode {
	l := p.multiplicative()
	defer p.restore(p.depth)
	for p.isOp("+") || p.isOp("-") {
		p.enter()
		t := p.advance()
		l = &fBinary{t.off, t.val, l, p.multiplicative()}
	}
	return l
}

func (p *parser) multiplicative() fnode {
	l := p.exponent()
	defer p.restore(p.depth)
	for p.isOp("*") || p.isOp("/") {
		p.enter()
		t := p.advance()
		l = &fBinary{t.off, t.val, l, p.exponent()}
	}
	return l
}

func (p *parser) exponent() fnode {
	l := p.unary()
	defer p.restore(p.depth)
	for p.isOp("**") {
		p.enter()
		t := p.advance()
		l = &fBinary{t.off, "**", l, p.unary()}
	}
	return l
}

func (p *parser) unary() fnode {
	if p.isOp("-") {
		t := p.advance()
		p.enter()
		defer p.leave()
		x := p.unary()
		if n, ok := x.(*fNum); ok { // fold negative literals
			switch v := n.val.(type) {
			case int64:
				return &fNum{t.off, -v}
			case *apd.Decimal:
				return &fNum{t.off, numNeg(v)}
			}
		}
		return &fNeg{t.off, x}
	}
	return p.postfix()
}

func (p *parser) postfix() fnode {
	x := p.primary()
	defer p.restore(p.depth)
	for {
		if p.isOp(".") || p.isOp("[") {
			p.enter() // a.b.c... and xs[1][1]... nest too
		}
		switch {
		case p.isOp("."):
			t := p.advance()
			k := p.peek()
			if k.kind != tName && k.kind != tBacktick {
				p.fail(k, "expected a name after '.' but found %s", describe(k))
			}
			p.advance()
			key := k.val
			if n := p.peek(); key == "time" && n.kind == tName && n.val == "offset" { // the one property of two words
				p.advance()
				key = "time offset"
			}
			x = &fPath{t.off, x, key}
		case p.isOp("["):
			t := p.advance()
			f := p.expression()
			p.expectOp("]")
			x = &fFilter{t.off, x, f}
		case p.isOp("("):
			p.fail(p.peek(), "unsupported construct: calling the result of an expression")
		default:
			return x
		}
	}
}

func (p *parser) primary() fnode {
	p.enter()
	defer p.leave()
	t := p.peek()
	switch t.kind {
	case tNum:
		p.advance()
		return &fNum{t.off, parseNumber(t.val)}
	case tStr:
		p.advance()
		return &fStr{t.off, t.val}
	case tTemporal:
		p.advance()
		return &fTemporal{t.off, t.val}
	case tBacktick:
		p.advance()
		if p.isOp("(") {
			return p.call(t, t.val)
		}
		return &fName{t.off, t.val}
	case tName:
		switch t.val {
		case "null":
			p.advance()
			return &fNull{t.off}
		case "true", "false":
			p.advance()
			return &fBool{t.off, t.val == "true"}
		case "if", "for", "some", "every", "function":
			return p.expression()
		}
		if name, n := p.builtinName(); n > 0 {
			p.i += n
			return p.call(t, name)
		}
		if keywords[t.val] {
			p.fail(t, "unexpected keyword %q", t.val)
		}
		// "string format(x)": words followed by "(" that name no built-in are a call of an
		// unknown function, as in feel-scala (null, and a warning naming it)
		var words []string
		for k := 0; p.peekAt(k).kind == tName && !keywords[p.peekAt(k).val]; k++ {
			words = append(words, p.peekAt(k).val)
			if k > 0 && p.peekAt(k+1).kind == tOp && p.peekAt(k+1).val == "(" {
				p.i += k + 1
				return p.call(t, strings.Join(words, " "))
			}
		}
		p.advance()
		if p.isOp("(") {
			return p.call(t, t.val)
		}
		return &fName{t.off, t.val}
	case tOp:
		switch t.val {
		case "(":
			p.advance()
			e := p.expression()
			if p.isOp("..") {
				p.advance()
				return p.rangeEnd(t, e, false)
			}
			p.expectOp(")")
			return e
		case "[":
			p.advance()
			if p.isOp("]") {
				p.advance()
				return &fList{t.off, nil}
			}
			first := p.expression()
			if p.isOp("..") {
				p.advance()
				return p.rangeEnd(t, first, true)
			}
			items := []fnode{first}
			for p.isOp(",") {
				p.advance()
				items = append(items, p.expression())
			}
			p.expectOp("]")
			return &fList{t.off, items}
		case "]":
			p.advance()
			e := p.expression()
			p.expectOp("..")
			return p.rangeEnd(t, e, false)
		case "{":
			return p.context()
		case "<", "<=", ">", ">=":
			p.fail(t, "unsupported construct: a unary test (%s) outside 'in'", t.val)
		}
	}
	p.fail(t, "unexpected %s", describe(t))
	return nil
}

func (p *parser) rangeEnd(open token, start fnode, startIncl bool) fnode {
	end := p.expression()
	c := p.peek()
	if c.kind != tOp || (c.val != "]" && c.val != ")" && c.val != "[") {
		p.fail(c, "expected ']' or ')' to close the range but found %s", describe(c))
	}
	p.advance()
	return &fRange{off: open.off, start: start, end: end, startIncl: startIncl, endIncl: c.val == "]"}
}

// builtinName matches the longest built-in function name made of the next words, followed by
// "(": "string length(", "date and time(", "is defined(". It returns the name and the number of
// tokens it spans.
func (p *parser) builtinName() (string, int) {
	best, bestN := "", 0
	var words []string
	for k := 0; k < 4; k++ {
		t := p.peekAt(k)
		if t.kind != tName {
			break
		}
		// the words of a name are separated by white space only
		if k > 0 && strings.TrimSpace(p.src[p.peekAt(k-1).off+len(p.peekAt(k-1).val):t.off]) != "" {
			break
		}
		words = append(words, t.val)
		name := strings.Join(words, " ")
		if _, ok := builtins[name]; ok {
			if n := p.peekAt(k + 1); n.kind == tOp && n.val == "(" {
				best, bestN = name, k+1
			}
		}
	}
	return best, bestN
}

// call parses the arguments of a call to name; the current token is "(".
func (p *parser) call(t token, name string) fnode {
	p.expectOp("(")
	c := &fCall{off: t.off, name: name}
	for !p.isOp(")") {
		if len(c.args) > 0 {
			p.expectOp(",")
		}
		// a named argument: words followed by ":"
		if k := p.namedArg(); k > 0 {
			var words []string
			for j := 0; j < k; j++ {
				words = append(words, p.advance().val)
			}
			p.expectOp(":")
			if len(c.args) > 0 && c.named == nil {
				p.fail(t, "cannot mix positional and named arguments in %s()", name)
			}
			c.named = append(c.named, strings.Join(words, " "))
		} else if c.named != nil {
			p.fail(p.peek(), "cannot mix positional and named arguments in %s()", name)
		}
		c.args = append(c.args, p.expression())
	}
	p.advance()
	return c
}

// namedArg returns how many name tokens precede a ":" at the current position, or 0.
func (p *parser) namedArg() int {
	for k := 0; k < 4; k++ {
		t := p.peekAt(k)
		if t.kind == tOp && t.val == ":" {
			return k
		}
		if t.kind != tName && t.kind != tBacktick {
			return 0
		}
	}
	return 0
}

// context parses "{key: value, ...}"; keys are names (possibly several words) or strings.
func (p *parser) context() fnode {
	open := p.expectOp("{")
	c := &fContext{off: open.off}
	for !p.isOp("}") {
		if len(c.keys) > 0 {
			p.expectOp(",")
			if p.isOp("}") { // trailing comma
				break
			}
		}
		t := p.peek()
		var key string
		switch t.kind {
		case tStr, tBacktick:
			p.advance()
			key = t.val
		case tName:
			var words []string
			for p.peek().kind == tName {
				words = append(words, p.advance().val)
			}
			key = strings.Join(words, " ")
		default:
			p.fail(t, "expected a context key but found %s", describe(t))
		}
		p.expectOp(":")
		c.keys = append(c.keys, key)
		c.vals = append(c.vals, p.expression())
	}
	p.advance()
	return c
}

func parseNumber(s string) any {
	if !strings.Contains(s, ".") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	d, ok := parseDec(s)
	if !ok {
		return nil // beyond DECIMAL128's exponents: null, as feel-scala has it
	}
	return numVal(d, nil)
}
