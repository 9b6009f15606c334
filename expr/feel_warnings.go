package expr

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
)

// Warning says why a FEEL evaluation gave null where feel-scala gives null instead of failing
// (an unknown function, values that cannot be compared, a failed conversion), as feel-scala's
// evaluation result reports it: a type and a message. The evaluation itself succeeds.
type Warning struct {
	Type    string // NO_FUNCTION_FOUND, NOT_COMPARABLE, FUNCTION_INVOCATION_FAILURE, ...
	Message string
}

// The warning types, feel-scala's EvaluationFailureType names.
const (
	WarnNoFunction    = "NO_FUNCTION_FOUND"
	WarnNotComparable = "NOT_COMPARABLE"
	WarnInvocation    = "FUNCTION_INVOCATION_FAILURE"
	WarnInvalidType   = "INVALID_TYPE"
)

func (w Warning) String() string { return "[" + w.Type + "] " + w.Message }

// maxWarnings bounds the warnings one evaluation keeps (a loop can raise one per item).
const maxWarnings = 20

// WithWarnings appends warnings to an incident message the way Zeebe words it: "<message>
// The evaluation reported the following warnings:\n[TYPE] message\n...". No warnings: msg.
func WithWarnings(msg string, ws []Warning) string {
	if len(ws) == 0 {
		return msg
	}
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString(" The evaluation reported the following warnings:")
	for _, w := range ws {
		b.WriteString("\n")
		b.WriteString(w.String())
	}
	return b.String()
}

// warns reports whether the evaluation still keeps warnings: a warning costly to word is
// worded only then.
func (m *meter) warns() bool { return m != nil && len(m.warnings) < maxWarnings }

// warn records a warning of the evaluation (a nil meter: none is kept).
func (m *meter) warn(typ, format string, args ...any) {
	if m == nil || len(m.warnings) >= maxWarnings {
		return
	}
	m.warnings = append(m.warnings, Warning{Type: typ, Message: fmt.Sprintf(format, args...)})
}

// comparand shows a value in a warning as feel-scala does (strings quoted, contexts as
// {a:1, b:"x"}), cut after about 100 bytes: the value may be large, and a warning is a line.
func (m *meter) comparand(x any) string {
	if !m.warns() { // no warning will show it: a loop past the cap must not pay for its text
		return ""
	}
	w := m.newShown()
	w.show(x)
	return w.String()
}

// shown shows the items of l between open and close, cut as comparand cuts.
func (m *meter) shown(l []any, open, close string) string {
	w := m.newShown()
	w.write(open)
	for i, e := range l {
		if w.cut {
			break
		}
		if i > 0 {
			w.write(", ")
		}
		w.show(e)
	}
	w.write(close)
	return w.String()
}

func (m *meter) newShown() *shown {
	w := &shown{}
	if m != nil {
		w.scrub = m.scrub
	}
	return w
}

func (w *shown) String() string {
	if w.cut {
		return w.b.String() + "…"
	}
	return w.b.String()
}

const shownBytes = 100

type shown struct {
	b     strings.Builder
	cut   bool
	scrub func(string) string // applied to each text before it is quoted and cut
}

func (w *shown) write(s string) {
	if w.cut {
		return
	}
	if left := shownBytes - w.b.Len(); len(s) > left {
		for left > 0 && !utf8.RuneStart(s[left]) {
			left--
		}
		s, w.cut = s[:left], true
	}
	w.b.WriteString(s)
}

func (w *shown) show(x any) {
	if w.cut {
		return
	}
	switch v := x.(type) {
	case string:
		v = w.scrubbed(v)
		if len(v) > shownBytes {
			v = v[:shownBytes+1] // enough to be cut; Quote shows a split rune as \x..
		}
		w.write(strconv.Quote(v))
	case []any:
		w.write("[")
		for i, e := range v {
			if i > 0 {
				w.write(", ")
			}
			if w.show(e); w.cut {
				return
			}
		}
		w.write("]")
	case map[string]any:
		w.write("{")
		for i, k := range smallestKeys(v, keysShown) {
			if i > 0 {
				w.write(", ")
			}
			w.write(w.scrubbed(k) + ":")
			if w.show(v[k]); w.cut {
				return
			}
		}
		if len(v) > keysShown {
			w.write(", ...")
		}
		w.write("}")
	case *feelRange: // as its String, the ends scrubbed and cut like any value
		w.write(map[bool]string{true: "[", false: "("}[v.startIncl])
		w.end(v.start)
		w.write("..")
		w.end(v.end)
		w.write(map[bool]string{true: "]", false: ")"}[v.endIncl])
	default:
		w.write(feelString(x))
	}
}

// end shows a range's end: a text unquoted, as feelRange.String shows it.
func (w *shown) end(x any) {
	if s, ok := x.(string); ok {
		w.write(w.scrubbed(s))
		return
	}
	w.show(x)
}

func (w *shown) scrubbed(s string) string {
	if w.scrub != nil {
		return w.scrub(s)
	}
	return s
}

// smallestKeys are the n first keys of m in sorted order, found in one pass over m.
func smallestKeys(m map[string]any, n int) []string {
	if len(m) <= n {
		return sortedKeys(m)
	}
	keys := make([]string, 0, n+1)
	for k := range m {
		if len(keys) == n && k >= keys[n-1] {
			continue
		}
		i, _ := slices.BinarySearch(keys, k)
		keys = slices.Insert(keys, i, k)
		if len(keys) > n {
			keys = keys[:n]
		}
	}
	return keys
}

// notComparable records that a and b, both non-null, cannot be compared.
func notComparable(m *meter, a, b any) {
	m.warn(WarnNotComparable, "Can't compare '%s' with '%s'", m.comparand(a), m.comparand(b))
}

// The warning types beyond NOT_COMPARABLE and NO_FUNCTION_FOUND, as feel-scala names them.
const (
	WarnNoVariable     = "NO_VARIABLE_FOUND"
	WarnNoContextEntry = "NO_CONTEXT_ENTRY_FOUND"
	WarnNoProperty     = "NO_PROPERTY_FOUND"
)

// variable reads name from the context's variables vars: missing, it is null and a warning.
func variable(m *meter, vars any, name string) any {
	v, ok := vars.(map[string]any)[name]
	if !ok {
		m.warn(WarnNoVariable, "No variable found with name '%s'", name)
	}
	return v
}

// pathVar is the path a.b.c of a variable a: a missing a is one NO_VARIABLE_FOUND warning,
// as in feel-scala (its failure carries through the path); otherwise each key that is not
// there warns (getWarn).
func pathVar(m *meter, a []any) (any, error) {
	x, ok := a[0].(map[string]any)[a[1].(string)]
	if !ok {
		m.warn(WarnNoVariable, "No variable found with name '%s'", a[1].(string))
		return nil, nil
	}
	for _, k := range a[2:] {
		if err := chargeGet(m, x); err != nil {
			return nil, err
		}
		x = getWarn(m, x, k.(string))
	}
	return x, nil
}

// getWarn is FEEL's path "x.key": a context's entry, a temporal value's property, and over a
// list the projection of every item; null otherwise, with a warning as feel-scala gives one
// (a context without the entry, null, a value without the property).
func getWarn(m *meter, x any, key string) any {
	switch v := x.(type) {
	case map[string]any:
		out, ok := v[key]
		if !ok && m.warns() {
			m.warn(WarnNoContextEntry, "No context entry found with key '%s'. Available keys: %s", m.text(key), m.quotedList(smallestKeys(v, keysShown+1)))
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = getWarn(m, e, key)
		}
		return out
	case nil:
		m.warn(WarnNoContextEntry, "No context entry found with key '%s'. The context is null", m.text(key))
		return nil
	}
	out := temporalProperty(x, key)
	if out == nil {
		props := properties(x)
		if !slices.Contains(props, key) {
			m.warn(WarnNoProperty, "No property found with name '%s' of value '%s'. Available properties: %s", m.text(key), m.comparand(x), m.quotedList(props))
		}
	}
	return out
}

// properties are the names feel-scala lists for a value's properties, in its order.
func properties(x any) []string {
	switch x.(type) {
	case feelDate:
		return []string{"year", "month", "day", "weekday"}
	case feelDateTime:
		return []string{"timezone", "year", "second", "month", "day", "time offset", "weekday", "minute", "hour"}
	case feelTime:
		return []string{"timezone", "second", "time offset", "minute", "hour"}
	case dayTimeDuration:
		return []string{"days", "hours", "minutes", "seconds"}
	case yearMonthDuration:
		return []string{"years", "months"}
	case *feelRange:
		return []string{"start", "start included", "end", "end included"}
	}
	return nil
}

// keysShown is how many of a context's keys a warning lists.
const keysShown = 20

// quotedList shows names as feel-scala does: 'a', 'b' (at most keysShown, then "...").
func (m *meter) quotedList(names []string) string {
	const most = keysShown
	var b strings.Builder
	for i, n := range names {
		if i == most {
			b.WriteString(", ...")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'")
		b.WriteString(m.text(n))
		b.WriteString("'")
	}
	return b.String()
}

// text is a text a warning shows: scrubbed (Scrub), then cut after 100 bytes.
func (m *meter) text(s string) string {
	w := m.newShown()
	w.write(w.scrubbed(s))
	return w.String()
}

// condition is an if's condition: true takes the then branch; anything but a boolean warns.
func condition(m *meter, x any) bool {
	b, ok := x.(bool)
	if !ok {
		expectedBoolean(m, x)
	}
	return b
}

func expectedBoolean(m *meter, x any) {
	m.warn(WarnInvalidType, "Expected boolean but found '%s'", m.comparand(x))
}

func expectedList(m *meter, x any) {
	m.warn(WarnInvalidType, "Expected list but found '%s'", m.comparand(x))
}

// leftOperand is the left operand of and/or: anything but a boolean warns.
func leftOperand(m *meter, l any) any {
	if !isBool(l) {
		expectedBoolean(m, l)
	}
	return l
}

// junction is "l and r" (with and = feelAnd) or "l or r" once r is evaluated: r warns when
// it is not a boolean and l was one (feel_compile.go's junction).
func junction(m *meter, l, r any, and func(...any) (any, error)) any {
	if isBool(l) && !isBool(r) {
		expectedBoolean(m, r)
	}
	out, _ := and(l, r)
	return out
}

func isBool(x any) bool { _, ok := x.(bool); return ok }

// negate is "-x" of a number; anything else is null and a warning. A decimal's negation
// builds a decimal.
func negate(m *meter, x any) (any, error) {
	out := feelNeg(x)
	switch out.(type) {
	case nil:
		m.warn(WarnInvalidType, "Expected number but found '%s'", m.comparand(x))
	case *apd.Decimal:
		if err := m.step(decSteps); err != nil {
			return nil, err
		}
		return out, m.alloc(decBytes)
	}
	return out, nil
}

// index is "x[n]" for a number n: feel-scala gives null and a warning for x not a list.
func index(m *meter, x, n any) any {
	list, ok := x.([]any)
	if !ok {
		expectedList(m, x)
		return nil
	}
	if _, whole := toInt(n); !whole && isNum(n) {
		n = roundTo(n, int64(0), apd.RoundFloor) // feel-scala: [1, 2, 3][1.5] is the first item
	}
	return feelIndex(list, n)
}

// arithmetic is a binary operator's result: null warns as feel-scala words it for op.
func arithmetic(m *meter, op string, a, b, out any) any {
	if out != nil || m == nil {
		return out
	}
	switch op {
	case "+":
		m.warn(WarnInvalidType, "Can't add '%s' to '%s'", m.comparand(b), m.comparand(a))
	case "-":
		m.warn(WarnInvalidType, "Can't subtract '%s' from '%s'", m.comparand(b), m.comparand(a))
	case "*":
		m.warn(WarnInvalidType, "Can't multiply '%s' by '%s'", m.comparand(a), m.comparand(b))
	case "/":
		m.warn(WarnInvalidType, "Can't divide '%s' by '%s'", m.comparand(a), m.comparand(b))
	case "**":
		x := a
		if isNum(a) {
			x = b
		}
		m.warn(WarnInvalidType, "Expected number but found '%s'", m.comparand(x))
	}
	return out
}

func (m *meter) warningsSoFar() []Warning {
	if m == nil {
		return nil
	}
	return m.warnings
}

// invocationFailure warns that a call of b gave null, in feel-scala's words: "Failed to invoke
// function 'name': " and why (b.why, by default "Illegal arguments: ..."). A why of "" means
// null is an answer of b for those arguments (min([]), date("not a date"), ...): no warning.
func (b *builtin) invocationFailure(m *meter, a []any) {
	why := illegalArguments
	if b.why != nil {
		why = b.why
	}
	if msg := why(m, b, a); msg != "" {
		m.warn(WarnInvocation, "Failed to invoke function '%s': %s", b.name, msg)
	}
}

// illegalArguments lists the arguments as feel-scala does: 'a', 'b'.
func illegalArguments(m *meter, _ *builtin, a []any) string {
	var sb strings.Builder
	sb.WriteString("Illegal arguments: ")
	for i, x := range a {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("'" + m.comparand(x) + "'")
	}
	return sb.String()
}

// silent: null is an answer of the function whatever its arguments.
func silent(*meter, *builtin, []any) string { return "" }

// unlessText: null is the answer of a conversion from a text it cannot parse; any other
// arguments are illegal.
func unlessText(m *meter, b *builtin, a []any) string {
	if len(a) == 1 && isString(a[0]) {
		return ""
	}
	return illegalArguments(m, b, a)
}

// listArg is the list a list function works on: its list argument, or its arguments.
func listArg(a []any) []any {
	if len(a) == 1 {
		if l, ok := a[0].([]any); ok {
			return l
		}
	}
	return a
}

// numbers: a numeric aggregate of an empty list is null; of a list holding anything but
// numbers fails on the first such item.
func numbers(m *meter, _ *builtin, a []any) string {
	for _, x := range listArg(a) {
		if !isNum(x) {
			return fmt.Sprintf("expected number but found '%s'", m.comparand(x))
		}
	}
	return ""
}

// comparableItems: min and max of an empty list are null; of values that cannot be ordered fail.
func comparableItems(m *meter, _ *builtin, a []any) string {
	l := listArg(a)
	if len(l) == 0 {
		return ""
	}
	return m.comparand(l) + " is not comparable"
}

func init() {
	whys := map[string]func(*meter, *builtin, []any) string{
		"number": func(m *meter, b *builtin, a []any) string {
			if s, ok := a[0].(string); ok {
				return fmt.Sprintf("Can't parse '%s' as a number", m.text(s))
			}
			return illegalArguments(m, b, a)
		},
		"string join": func(m *meter, b *builtin, a []any) string {
			if l, ok := a[0].([]any); ok { // as Scala shows the list: List("a", 1)
				return fmt.Sprintf("expected a list of strings but found '%s'", m.shown(l, "List(", ")"))
			}
			return illegalArguments(m, b, a)
		},
		"matches": invalidPattern("Invalid pattern '%s'"),
		"replace": invalidPattern("Invalid pattern '%s'"),
		"split":   invalidPattern("Invalid pattern for delimiter '%s'"),
		"date": func(m *meter, b *builtin, a []any) string {
			if len(a) == 3 && isNum(a[0]) && isNum(a[1]) && isNum(a[2]) {
				return fmt.Sprintf("Failed to parse date from: year=%s, month=%s, day=%s", feelString(a[0]), feelString(a[1]), feelString(a[2]))
			}
			return unlessText(m, b, a)
		},
		"time": func(m *meter, b *builtin, a []any) string {
			if len(a) >= 3 && isNum(a[0]) && isNum(a[1]) && isNum(a[2]) {
				return fmt.Sprintf("Failed to parse local-time from: hour=%s, minute=%s, second=%s", feelString(a[0]), feelString(a[1]), feelString(a[2]))
			}
			return unlessText(m, b, a)
		},
		"decimal": func(m *meter, b *builtin, a []any) string {
			if mode, ok := a[len(a)-1].(string); ok && len(a) == 3 && isNum(a[0]) && isNum(a[1]) {
				if strings.EqualFold(mode, "unnecessary") {
					return "Failed to apply rounding mode 'UNNECESSARY': Rounding necessary"
				}
			}
			return illegalArguments(m, b, a)
		},
		"append": func(m *meter, b *builtin, a []any) string { // append(list, items...): the items as one list
			return illegalArguments(m, b, []any{a[0], a[1:]})
		},
		"get value": func(m *meter, b *builtin, a []any) string {
			if _, ok := a[0].(map[string]any); ok {
				return "" // no such entry
			}
			return illegalArguments(m, b, a)
		},
		"min": comparableItems, "max": comparableItems,
		"sum": numbers, "mean": numbers, "median": numbers, "mode": numbers, "product": numbers, "stddev": numbers,
		"date and time": unlessText, "duration": unlessText,
	}
	for _, name := range []string{"all", "and", "any", "or", "context", "context merge", "put all",
		"get or else", "not", "string", "is defined", "assert", "bpmnError", "jobError", "ignoreError"} {
		whys[name] = silent
	}
	for name, why := range whys {
		builtins[name].why = why
	}
}

// invalidPattern words the failure of a call whose pattern (its second argument) does not
// compile; other failures are illegal arguments.
func invalidPattern(format string) func(*meter, *builtin, []any) string {
	return func(m *meter, b *builtin, a []any) string {
		if pat, ok := a[1].(string); ok && isString(a[0]) {
			if _, err := regexp.Compile(pat); err != nil {
				return fmt.Sprintf(format, m.text(pat))
			}
		}
		return illegalArguments(m, b, a)
	}
}

func isString(x any) bool { _, ok := x.(string); return ok }

// quantState follows the items of one some/every evaluation for their warning.
type quantState struct{ done bool }

// item is an item's answer: while no item has decided (false for every, true for some), the
// first that is not a boolean warns.
func (q *quantState) item(m *meter, every bool, v any) {
	if q.done {
		return
	}
	switch {
	case v == !every: // false decides every, true decides some
		q.done = true
	case !isBool(v):
		q.done = true
		expectedBoolean(m, v)
	}
}

// quantify is some (or every) over the items' answers: decided by one true (false), else
// null when one is not a boolean.
func quantify(x any, some bool) any {
	if x == nil {
		return nil
	}
	var unknown bool
	for _, e := range x.([]any) {
		switch {
		case e == some:
			return some
		case !isBool(e):
			unknown = true
		}
	}
	if unknown {
		return nil
	}
	return !some
}

// inTest is "x in test" for one positive unary test value, as feel-scala evaluates it: a
// range holds x (null and a warning when x cannot be compared with its ends, or an end is
// null); a list holds x as an item, or is x; a boolean is the test's own answer; any other
// value is x's equal (across types: null and a warning).
func inTest(m *meter, x, test any) any {
	switch t := test.(type) {
	case nil:
		return x == nil
	case *feelRange:
		var out any
		if t.start != nil && t.end != nil {
			out = t.contains(x)
		}
		if out == nil {
			m.warn(WarnNotComparable, "Can't compare '%s' with '%s' and '%s'", m.comparand(x), m.comparand(t.start), m.comparand(t.end))
		}
		return out
	case []any:
		for _, e := range t {
			if feelEqual(x, e) == true {
				return true
			}
		}
		eq := feelEqual(x, t)
		if eq == nil && x != nil {
			notComparable(m, x, t)
		}
		return eq == true
	case bool:
		// a boolean test is satisfied when it is true (e.g. "x in (x > 3)"), or by equality
		if b, ok := x.(bool); ok {
			return b == t
		}
		return t
	}
	return equal(m, x, test)
}
