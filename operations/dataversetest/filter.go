package dataversetest

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The $filter subset the emulator evaluates: comparisons (eq ne gt ge lt
// le) of a property with a literal, and/or/not, parentheses, contains,
// startswith and endswith, null, and lookups through _x_value. Literals are
// 'strings' ('' escapes a quote), numbers, true/false, null, GUIDs and
// dates or date-times.

// filterExpr is a parsed $filter expression.
type filterExpr interface{ print(b *strings.Builder) }

type logicalExpr struct {
	op   string // "and" or "or"
	l, r filterExpr
}

type notExpr struct{ x filterExpr }

type cmpExpr struct {
	op   string // eq ne gt ge lt le
	prop string
	lit  lit
}

type funcExpr struct {
	name string // contains startswith endswith
	prop string
	lit  lit
}

// lit is a literal; raw is its text as written (numbers, GUIDs, dates) or
// the unquoted string.
type lit struct {
	kind litKind
	raw  string
}

type litKind int

const (
	litNull litKind = iota
	litString
	litInt
	litDecimal
	litBool
	litGUID
	litDateTime
)

func (l lit) edm() string {
	switch l.kind {
	case litString:
		return "Edm.String"
	case litInt:
		return "Edm.Int32"
	case litDecimal:
		return "Edm.Decimal"
	case litBool:
		return "Edm.Boolean"
	case litGUID:
		return "Edm.Guid"
	case litDateTime:
		return "Edm.DateTimeOffset"
	}
	return "null"
}

func (l lit) print(b *strings.Builder) {
	switch l.kind {
	case litNull:
		b.WriteString("null")
	case litString:
		b.WriteString("'" + strings.ReplaceAll(l.raw, "'", "''") + "'")
	default:
		b.WriteString(l.raw)
	}
}

func (x logicalExpr) print(b *strings.Builder) {
	b.WriteByte('(')
	x.l.print(b)
	b.WriteString(" " + x.op + " ")
	x.r.print(b)
	b.WriteByte(')')
}

func (x notExpr) print(b *strings.Builder) {
	b.WriteString("not (")
	x.x.print(b)
	b.WriteByte(')')
}

func (x cmpExpr) print(b *strings.Builder) {
	b.WriteString(x.prop + " " + x.op + " ")
	x.lit.print(b)
}

func (x funcExpr) print(b *strings.Builder) {
	b.WriteString(x.name + "(" + x.prop + ",")
	x.lit.print(b)
	b.WriteByte(')')
}

// printFilter renders an expression in the canonical form parseFilter reads
// back to the same expression.
func printFilter(x filterExpr) string {
	var b strings.Builder
	x.print(&b)
	return b.String()
}

// token kinds of the $filter lexer.
type token struct {
	kind string // "ident", "lit", "(", ")", ",", "eof"
	text string
	lit  lit
	pos  int
}

var (
	guidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	dateTimeRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?`)
	numberRE   = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`)
	identRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
)

// lexFilter splits s into tokens.
func lexFilter(s string) ([]token, *odataError) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		rest := s[i:]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{kind: string(c), text: string(c), pos: i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, syntaxError(i, s)
			}
			out = append(out, token{kind: "lit", lit: lit{kind: litString, raw: b.String()}, pos: i})
			i = j
		case guidRE.MatchString(rest) && !isIdentByte(rest, 36):
			m := rest[:36]
			out = append(out, token{kind: "lit", lit: lit{kind: litGUID, raw: strings.ToLower(m)}, pos: i})
			i += 36
		case dateTimeRE.MatchString(rest) && !isIdentByte(rest, len(dateTimeRE.FindString(rest))):
			m := dateTimeRE.FindString(rest)
			if _, ok := parseDateTime(m); !ok {
				return nil, syntaxError(i, s)
			}
			out = append(out, token{kind: "lit", lit: lit{kind: litDateTime, raw: m}, pos: i})
			i += len(m)
		case numberRE.MatchString(rest) && !isIdentByte(rest, len(numberRE.FindString(rest))):
			m := numberRE.FindString(rest)
			k := litInt
			if strings.ContainsAny(m, ".eE") {
				k = litDecimal
			} else if _, err := strconv.ParseInt(m, 10, 64); err != nil {
				return nil, syntaxError(i, s)
			}
			out = append(out, token{kind: "lit", lit: lit{kind: k, raw: m}, pos: i})
			i += len(m)
		case identRE.MatchString(rest):
			m := identRE.FindString(rest)
			switch m {
			case "null":
				out = append(out, token{kind: "lit", lit: lit{kind: litNull, raw: m}, pos: i})
			case "true", "false":
				out = append(out, token{kind: "lit", lit: lit{kind: litBool, raw: m}, pos: i})
			default:
				out = append(out, token{kind: "ident", text: m, pos: i})
			}
			i += len(m)
		default:
			return nil, syntaxError(i, s)
		}
	}
	return append(out, token{kind: "eof", pos: len(s)}), nil
}

// isIdentByte reports whether s[n] continues an identifier (so a literal
// that seems to end at n does not).
func isIdentByte(s string, n int) bool {
	if n >= len(s) {
		return false
	}
	c := s[n]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func syntaxError(pos int, s string) *odataError {
	return newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("Syntax error at position %d in '%s'.", pos, s))
}

// maxFilterDepth bounds nesting, so a hostile filter cannot exhaust the stack.
const maxFilterDepth = 100

type filterParser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// parseFilter parses a $filter expression (without checking properties).
func parseFilter(s string) (filterExpr, *odataError) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: s, toks: toks}
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != "eof" {
		return nil, syntaxError(p.peek().pos, s)
	}
	return x, nil
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token { t := p.toks[p.i]; p.i++; return t }
func (p *filterParser) fail() *odataError {
	return syntaxError(p.peek().pos, p.src)
}

func (p *filterParser) keyword(w string) bool {
	if t := p.peek(); t.kind == "ident" && t.text == w {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) or() (filterExpr, *odataError) {
	l, err := p.and()
	for err == nil && p.keyword("or") {
		var r filterExpr
		if r, err = p.and(); err == nil {
			l = logicalExpr{op: "or", l: l, r: r}
		}
	}
	return l, err
}

func (p *filterParser) and() (filterExpr, *odataError) {
	l, err := p.unary()
	for err == nil && p.keyword("and") {
		var r filterExpr
		if r, err = p.unary(); err == nil {
			l = logicalExpr{op: "and", l: l, r: r}
		}
	}
	return l, err
}

func (p *filterParser) unary() (filterExpr, *odataError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("The query exceeds the maximum nesting depth of %d.", maxFilterDepth))
	}
	if p.keyword("not") {
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{x: x}, nil
	}
	t := p.next()
	switch {
	case t.kind == "(":
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next().kind != ")" {
			p.i--
			return nil, p.fail()
		}
		return x, nil
	case t.kind == "ident" && (t.text == "contains" || t.text == "startswith" || t.text == "endswith") && p.peek().kind == "(":
		p.next()
		prop := p.next()
		if prop.kind != "ident" || p.next().kind != "," {
			p.i--
			return nil, p.fail()
		}
		l := p.next()
		if l.kind != "lit" || p.next().kind != ")" {
			p.i--
			return nil, p.fail()
		}
		return funcExpr{name: t.text, prop: prop.text, lit: l.lit}, nil
	case t.kind == "ident":
		op := p.next()
		if op.kind != "ident" || !containsString([]string{"eq", "ne", "gt", "ge", "lt", "le"}, op.text) {
			p.i--
			return nil, p.fail()
		}
		l := p.next()
		if l.kind != "lit" {
			p.i--
			return nil, p.fail()
		}
		return cmpExpr{op: op.text, prop: t.text, lit: l.lit}, nil
	}
	p.i--
	return nil, p.fail()
}

var opKinds = map[string]string{"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual"}

// checkFilter checks every property against t and every literal against
// its property's type, as Dataverse does before running the query.
func checkFilter(t *table, x filterExpr) *odataError {
	switch x := x.(type) {
	case logicalExpr:
		if err := checkFilter(t, x.l); err != nil {
			return err
		}
		return checkFilter(t, x.r)
	case notExpr:
		return checkFilter(t, x.x)
	case cmpExpr:
		c, ok := t.property(x.prop)
		if !ok {
			return unknownProperty(t, x.prop)
		}
		if x.lit.kind != litNull && !compatible(c, x.lit) {
			return newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", edmType(c.Type), x.lit.edm(), opKinds[x.op]))
		}
	case funcExpr:
		c, ok := t.property(x.prop)
		if !ok {
			return unknownProperty(t, x.prop)
		}
		if edmType(c.Type) != "Edm.String" || x.lit.kind != litString {
			return newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", x.name, x.name))
		}
	}
	return nil
}

func unknownProperty(t *table, name string) *odataError {
	return newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, t.typeName()))
}

func compatible(c *Column, l lit) bool {
	switch edmType(c.Type) {
	case "Edm.String":
		return l.kind == litString
	case "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double":
		return l.kind == litInt || l.kind == litDecimal
	case "Edm.Boolean":
		return l.kind == litBool
	case "Edm.DateTimeOffset":
		return l.kind == litDateTime
	case "Edm.Guid":
		return l.kind == litGUID
	}
	return false
}

// evalFilter reports whether a row's values satisfy x. Comparisons with a
// null column are false (except eq null), strings compare case-insensitively.
func evalFilter(t *table, x filterExpr, vals map[string]any) bool {
	switch x := x.(type) {
	case logicalExpr:
		if x.op == "and" {
			return evalFilter(t, x.l, vals) && evalFilter(t, x.r, vals)
		}
		return evalFilter(t, x.l, vals) || evalFilter(t, x.r, vals)
	case notExpr:
		return !evalFilter(t, x.x, vals)
	case funcExpr:
		c, _ := t.property(x.prop)
		s, ok := vals[c.LogicalName].(string)
		if !ok {
			return false
		}
		s, want := strings.ToLower(s), strings.ToLower(x.lit.raw)
		switch x.name {
		case "contains":
			return strings.Contains(s, want)
		case "startswith":
			return strings.HasPrefix(s, want)
		}
		return strings.HasSuffix(s, want)
	case cmpExpr:
		c, _ := t.property(x.prop)
		v, present := vals[c.LogicalName]
		if x.lit.kind == litNull {
			switch x.op {
			case "eq":
				return !present
			case "ne":
				return present
			}
			return false
		}
		if !present {
			return false
		}
		cmp, ok := compareValue(v, x.lit)
		if !ok {
			return false
		}
		switch x.op {
		case "eq":
			return cmp == 0
		case "ne":
			return cmp != 0
		case "gt":
			return cmp > 0
		case "ge":
			return cmp >= 0
		case "lt":
			return cmp < 0
		}
		return cmp <= 0
	}
	return false
}

// compareValue orders a stored value against a literal of a compatible type.
func compareValue(v any, l lit) (int, bool) {
	switch l.kind {
	case litString:
		s, ok := v.(string)
		return strings.Compare(strings.ToLower(s), strings.ToLower(l.raw)), ok
	case litInt, litDecimal:
		f, ok := toFloat(v)
		want, err := strconv.ParseFloat(l.raw, 64)
		if !ok || err != nil {
			return 0, false
		}
		return cmpFloat(f, want), true
	case litBool:
		b, ok := v.(bool)
		want := l.raw == "true"
		switch {
		case !ok:
			return 0, false
		case b == want:
			return 0, true
		case !b:
			return -1, true
		}
		return 1, true
	case litGUID:
		switch g := v.(type) {
		case lookupRef:
			return strings.Compare(g.id, l.raw), true
		case string:
			return strings.Compare(g, l.raw), true
		}
	case litDateTime:
		s, ok := v.(string)
		a, err1 := time.Parse(time.RFC3339, s)
		bs, _ := parseDateTime(l.raw)
		b, err2 := time.Parse(time.RFC3339, bs)
		if !ok || err1 != nil || err2 != nil {
			return 0, false
		}
		return a.Compare(b), true
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
