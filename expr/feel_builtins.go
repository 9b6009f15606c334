package expr

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
)

// builtin is a FEEL built-in function: its Go implementation, its arity (max -1: variadic),
// its parameter names (for named arguments), whether it can only return a boolean, and
// whether it may return a temporal value.
type builtin struct {
	fn       func(args ...any) (any, error)
	min, max int
	params   []string
	forms    [][]string // the parameter names of each form, when they differ by form (named arguments pick one)
	boolean  bool
	temporal bool
	budget   // what a call costs (feel_builtins_budget.go)
	name     string
	why      func(m *meter, b *builtin, a []any) string // why a call gave null (feel_warnings.go); "": it may
}

func (b *builtin) arity() string {
	switch {
	case b.max < 0:
		return fmt.Sprintf("at least %d arguments", b.min)
	case b.min == b.max:
		return fmt.Sprintf("%d arguments", b.min)
	}
	return fmt.Sprintf("%d to %d arguments", b.min, b.max)
}

// takes reports whether a form of b takes k positional arguments (b's arity holds them): a
// form's trailing offset may be left out (time(hour, minute, second[, offset])).
func (b *builtin) takes(k int) bool {
	if b.forms == nil {
		return true
	}
	for _, f := range b.forms {
		if len(f) == k || len(f) == k+1 && f[k] == "offset" {
			return true
		}
	}
	return false
}

func pure(min, max int, params []string, f func(args []any) any) *builtin {
	return &builtin{fn: func(args ...any) (any, error) { return f(args), nil }, min: min, max: max, params: params}
}

func boolean(b *builtin) *builtin  { b.boolean = true; return b }
func temporal(b *builtin) *builtin { b.temporal = true; return b }

func p(names ...string) []string { return names }

// builtins are the FEEL functions the connector supports, by FEEL name.
var builtins = map[string]*builtin{
	// conversion
	"string": withBudget(pure(1, 1, p("from"), nil), func(m *meter, a []any) (any, error) {
		switch a[0].(type) {
		case nil:
			return nil, nil
		case []any, map[string]any: // the same long string a million times: sized first
			n, err := textSize(m, a[0])
			if err != nil {
				return nil, err
			}
			if err := m.alloc(n); err != nil {
				return nil, err
			}
			return feelString(a[0]), nil
		}
		out := feelString(a[0])
		return out, m.alloc(int64(len(out)))
	}),
	"number": pure(1, 3, p("from", "grouping separator", "decimal separator"), func(a []any) any {
		switch v := a[0].(type) {
		case string:
			if len(a) > 1 {
				if g, ok := a[1].(string); ok {
					v = strings.ReplaceAll(v, g, "")
				}
			}
			if len(a) > 2 {
				if d, ok := a[2].(string); ok {
					v = strings.ReplaceAll(v, d, ".")
				}
			}
			return parseNumberString(v)
		}
		return nil // feel-scala converts texts only
	}),
	"date": temporal(pure(1, 3, p("from"), func(a []any) any {
		if len(a) == 3 {
			y, ok1 := intArg(a[0])
			m, ok2 := intArg(a[1])
			d, ok3 := intArg(a[2])
			if !ok1 || !ok2 || !ok3 {
				return nil
			}
			if v, ok := makeDate(int(y), int(m), int(d)); ok {
				return v
			}
			return nil
		}
		switch v := a[0].(type) {
		case string:
			if d, ok := parseDate(v); ok {
				return d
			}
		case feelDate:
			return v
		case feelDateTime:
			y, m, d := v.t.Date()
			return feelDate{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
		}
		return nil
	})),
	"date and time": temporal(pure(1, 2, p("from"), func(a []any) any {
		if len(a) == 2 {
			if zone, ok := a[1].(string); ok { // date and time(date and time, timezone)
				if dt, ok := a[0].(feelDateTime); ok {
					return dateTimeAtZone(dt, zone)
				}
				return nil
			}
			d, ok1 := a[0].(feelDate)
			if dt, ok := a[0].(feelDateTime); ok {
				d, ok1 = feelDate{dt.t}, true
			}
			t, ok2 := a[1].(feelTime)
			if !ok1 || !ok2 {
				return nil
			}
			y, m, day := d.t.Date()
			return feelDateTime{t: time.Date(y, m, day, t.t.Hour(), t.t.Minute(), t.t.Second(), t.t.Nanosecond(), t.t.Location()), local: t.local, zone: t.zone}
		}
		switch v := a[0].(type) {
		case string:
			if dt, ok := parseDateTime(v); ok {
				return dt
			}
		case feelDateTime:
			return v
		case feelDate:
			return feelDateTime{t: v.t, local: true}
		}
		return nil
	})),
	"time": temporal(pure(1, 4, p("from"), func(a []any) any {
		if len(a) >= 3 {
			h, ok1 := intArg(a[0])
			m, ok2 := intArg(a[1])
			s, ok3 := intArg(a[2])
			if !ok1 || !ok2 || !ok3 || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59 {
				return nil
			}
			loc, local := time.UTC, true
			if len(a) == 4 && a[3] != nil {
				off, ok := a[3].(dayTimeDuration)
				if !ok {
					return nil
				}
				loc, local = time.FixedZone("", int(off.d/time.Second)), false
			}
			return feelTime{t: time.Date(1970, 1, 1, int(h), int(m), int(s), 0, loc), local: local}
		}
		switch v := a[0].(type) {
		case string:
			if t, ok := parseTime(v); ok {
				return t
			}
		case feelTime:
			return v
		case feelDateTime:
			t := v.t
			return feelTime{t: time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location()), local: v.local, zone: v.zone}
		}
		return nil
	})),
	"duration": temporal(pure(1, 1, p("from"), func(a []any) any {
		if s, ok := a[0].(string); ok {
			if d, ok := parseDuration(s); ok {
				return d
			}
		}
		return nil
	})),
	"years and months duration": temporal(pure(2, 2, p("from", "to"), func(a []any) any {
		from, ok1 := dateOf(a[0])
		to, ok2 := dateOf(a[1])
		if !ok1 || !ok2 {
			return nil
		}
		months := int64(to.Year()-from.Year())*12 + int64(to.Month()-from.Month())
		if months > 0 && to.Day() < from.Day() {
			months--
		} else if months < 0 && to.Day() > from.Day() {
			months++
		}
		return yearMonthDuration{months}
	})),
	"now": temporal(pure(0, 0, nil, func([]any) any {
		return feelDateTime{t: time.Now().UTC().Truncate(time.Millisecond)}
	})),
	"today": temporal(pure(0, 0, nil, func([]any) any {
		y, m, d := time.Now().UTC().Date()
		return feelDate{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
	})),

	// boolean
	"not":        pure(1, 1, p("negand"), func(a []any) any { return feelNot(a[0]) }),
	"is defined": boolean(pure(1, 1, p("value"), func(a []any) any { return a[0] != nil })),
	"get or else": pure(2, 2, p("value", "default"), func(a []any) any {
		if a[0] == nil {
			return a[1]
		}
		return a[0]
	}),

	// string
	"substring": pure(2, 3, p("string", "start position", "length"), func(a []any) any {
		s, ok := a[0].(string)
		start, ok2 := intArg(a[1])
		if !ok || !ok2 {
			return nil
		}
		if !utf8.ValidString(s) {
			s = string([]rune(s)) // each invalid byte becomes U+FFFD, as a rune-wise substring did
		}
		if start == 0 { // feel-scala: position 0 is before the text, and nothing follows it
			return ""
		}
		// by byte offsets of runes: no copy of the whole string as runes
		n := int64(utf8.RuneCountInString(s))
		if start < 0 {
			start = n + start + 1
		}
		if start < 1 {
			start = 1
		}
		if start > n+1 {
			return ""
		}
		end := n
		if len(a) == 3 && a[2] != nil {
			l, ok := intArg(a[2])
			if !ok || l < 0 {
				return nil
			}
			end = min(n, start-1+l)
		}
		return s[runeOffset(s, start-1):runeOffset(s, end)]
	}),
	"string length": pure(1, 1, p("string"), func(a []any) any {
		if s, ok := a[0].(string); ok {
			return int64(utf8.RuneCountInString(s))
		}
		return nil
	}),
	"upper case": strFn(strings.ToUpper),
	"lower case": strFn(strings.ToLower),
	"trim":       strFn(strings.TrimSpace),
	"substring before": pure(2, 2, p("string", "match"), func(a []any) any {
		s, m, ok := twoStrings(a)
		if !ok {
			return nil
		}
		if i := strings.Index(s, m); i >= 0 {
			return s[:i]
		}
		return ""
	}),
	"substring after": pure(2, 2, p("string", "match"), func(a []any) any {
		s, m, ok := twoStrings(a)
		if !ok {
			return nil
		}
		if i := strings.Index(s, m); i >= 0 {
			return s[i+len(m):]
		}
		return ""
	}),
	"contains": boolean(pure(2, 2, p("string", "match"), func(a []any) any {
		if s, m, ok := twoStrings(a); ok {
			return strings.Contains(s, m)
		}
		return nil
	})),
	"starts with": boolean(pure(2, 2, p("string", "match"), func(a []any) any {
		if s, m, ok := twoStrings(a); ok {
			return strings.HasPrefix(s, m)
		}
		return nil
	})),
	"ends with": boolean(pure(2, 2, p("string", "match"), func(a []any) any {
		if s, m, ok := twoStrings(a); ok {
			return strings.HasSuffix(s, m)
		}
		return nil
	})),
	"matches": boolean(withBudget(pure(2, 3, p("input", "pattern", "flags"), nil), func(m *meter, a []any) (any, error) {
		s, ok := a[0].(string)
		re, err := regex(m, a[1:])
		if !ok || re == nil {
			return nil, err
		}
		return re.MatchString(s), nil
	})),
	"replace": withBudget(pure(3, 4, p("input", "pattern", "replacement", "flags"), nil), func(m *meter, a []any) (any, error) {
		s, ok := a[0].(string)
		repl, ok2 := a[2].(string)
		args := []any{a[1]}
		if len(a) == 4 {
			args = append(args, a[3])
		}
		re, err := regex(m, args)
		if !ok || !ok2 || re == nil {
			return nil, err
		}
		tmpl := javaReplacement(repl)
		// The largest result: every position matches (an empty match fits between any two
		// runes), each group reference copies at most the whole input once over all matches.
		refs := int64(strings.Count(tmpl, "$") - 2*strings.Count(tmpl, "$$"))
		bound := int64(len(s))*(1+max(refs, 0)) + int64(utf8.RuneCountInString(s)+1)*int64(len(tmpl))
		if err := m.alloc(bound); err != nil {
			return nil, err
		}
		out := re.ReplaceAllString(s, tmpl)
		m.bytes += bound - int64(len(out)) // what was reserved and not built
		return out, nil
	}),
	"split": withBudget(pure(2, 2, p("string", "delimiter"), nil), func(m *meter, a []any) (any, error) {
		s, ok := a[0].(string)
		re, err := regex(m, a[1:2])
		if !ok || re == nil {
			return nil, err
		}
		// at most as many parts as the budget holds: one more means it would go over
		limit := int(min((m.left()-listBytes)/(2*itemBytes), int64(len(s))+2))
		if limit < 1 {
			return nil, m.alloc(listBytes + 2*itemBytes)
		}
		parts := re.Split(s, limit)
		if err := m.alloc(listBytes + 2*itemBytes*int64(len(parts))); err != nil {
			return nil, err
		}
		if len(parts) == limit && limit <= len(s) {
			return nil, m.alloc(m.left() + 1)
		}
		out := make([]any, len(parts))
		for i, x := range parts {
			out[i] = x
		}
		return out, nil
	}),
	"string join": withBudget(pure(1, 4, p("list", "delimiter", "prefix", "suffix"), nil), func(m *meter, a []any) (any, error) {
		n := int64(0)
		list, _ := listOf(a[0])
		for i, x := range a {
			if s, ok := x.(string); ok && i > 0 {
				n += int64(len(s))
				if i == 1 {
					n += int64(len(s)) * int64(len(list))
				}
			}
		}
		for _, e := range list {
			if s, ok := e.(string); ok {
				n += int64(len(s))
			}
		}
		if err := m.alloc(n); err != nil {
			return nil, err
		}
		return stringJoin(a), nil
	}),

	// numeric
	"floor": pure(1, 2, p("n", "scale"), func(a []any) any {
		return roundTo(a[0], scaleArg(a), apd.RoundFloor)
	}),
	"ceiling": pure(1, 2, p("n", "scale"), func(a []any) any {
		return roundTo(a[0], scaleArg(a), apd.RoundCeiling)
	}),
	"round up":        pure(1, 2, p("n", "scale"), func(a []any) any { return roundTo(a[0], scaleArg(a), apd.RoundUp) }),
	"round down":      pure(1, 2, p("n", "scale"), func(a []any) any { return roundTo(a[0], scaleArg(a), apd.RoundDown) }),
	"round half up":   pure(1, 2, p("n", "scale"), func(a []any) any { return roundTo(a[0], scaleArg(a), apd.RoundHalfUp) }),
	"round half down": pure(1, 2, p("n", "scale"), func(a []any) any { return roundTo(a[0], scaleArg(a), apd.RoundHalfDown) }),
	"abs": pure(1, 1, p("n"), func(a []any) any {
		if i, ok := a[0].(int64); ok && i != math.MinInt64 {
			if i < 0 {
				return -i
			}
			return i
		}
		if isNum(a[0]) {
			return decFunc(decCtx.Abs, a[0])
		}
		if d, ok := a[0].(dayTimeDuration); ok && d.d < 0 {
			return dayTimeDuration{-d.d}
		}
		if d, ok := a[0].(yearMonthDuration); ok && d.months < 0 {
			return yearMonthDuration{-d.months}
		}
		if sameTemporalKind(a[0], dayTimeDuration{}) || sameTemporalKind(a[0], yearMonthDuration{}) {
			return a[0]
		}
		return nil
	}),
	"modulo": pure(2, 2, p("dividend", "divisor"), func(a []any) any {
		ai, ok1 := a[0].(int64)
		bi, ok2 := a[1].(int64)
		if ok1 && ok2 && bi != 0 && bi != -1 {
			m := ai % bi
			if m != 0 && (m < 0) != (bi < 0) {
				m += bi
			}
			return m
		}
		// dividend - divisor * floor(dividend / divisor), with the sign of the divisor
		return decOp(func(d, x, y *apd.Decimal) (apd.Condition, error) {
			if _, err := decCtx.Rem(d, x, y); err != nil {
				return 0, err
			}
			if !d.IsZero() && d.Negative != y.Negative {
				return decCtx.Add(d, d, y)
			}
			return 0, nil
		}, a[0], a[1])
	}),
	"sqrt": pure(1, 1, p("number"), func(a []any) any {
		return floatFunc(math.Sqrt, a[0])
	}),
	"log": pure(1, 1, p("number"), func(a []any) any {
		return floatFunc(math.Log, a[0])
	}),
	"exp": pure(1, 1, p("number"), func(a []any) any {
		return floatFunc(math.Exp, a[0])
	}),
	"odd": boolean(pure(1, 1, p("number"), func(a []any) any {
		if i, ok := intArg(a[0]); ok {
			return i%2 != 0
		}
		return oddOrEvenOfFraction(a[0])
	})),
	"even": boolean(pure(1, 1, p("number"), func(a []any) any {
		if i, ok := intArg(a[0]); ok {
			return i%2 == 0
		}
		return oddOrEvenOfFraction(a[0])
	})),

	// list
	"list contains": boolean(pure(2, 2, p("list", "element"), func(a []any) any {
		list, ok := listOf(a[0])
		if !ok {
			return nil
		}
		for _, e := range list {
			if feelEqual(e, a[1]) == true {
				return true
			}
		}
		return false
	})),
	"count": pure(1, 1, p("list"), func(a []any) any {
		if list, ok := listOf(a[0]); ok {
			return int64(len(list))
		}
		return nil
	}),
	"min": listFn(func(l []any) any { return extreme(l, -1) }),
	"max": listFn(func(l []any) any { return extreme(l, 1) }),
	"sum": listFn(sum),
	"mean": listFn(func(l []any) any {
		if len(l) == 0 {
			return nil
		}
		return feelDiv(sum(l), int64(len(l)))
	}),
	"product": listFn(func(l []any) any {
		if len(l) == 0 {
			return nil
		}
		var out any = int64(1)
		for _, e := range l {
			if out = feelMul(out, e); out == nil {
				return nil
			}
		}
		return out
	}),
	"median": listFn(func(l []any) any {
		if len(l) == 0 {
			return nil
		}
		s := append([]any(nil), l...)
		for _, e := range s {
			if !isNum(e) {
				return nil
			}
		}
		sort.SliceStable(s, func(i, j int) bool { c, _ := feelCompare(s[i], s[j]); return c < 0 })
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return feelDiv(feelAdd(s[len(s)/2-1], s[len(s)/2]), int64(2))
	}),
	"all": boolean(listFn(func(l []any) any { v, _ := feelAnd(l...); return v })),
	"any": boolean(listFn(func(l []any) any { v, _ := feelOr(l...); return v })),
	// sublist is feel-scala's list.slice(from, from+length): positions past either end are
	// clamped, and numbers are taken as Java's intValue takes them (the low 32 bits).
	"sublist": pure(2, 3, p("list", "start position", "length"), func(a []any) any {
		list, ok := listOf(a[0])
		start, ok2 := javaInt(a[1])
		if !ok || !ok2 {
			return nil
		}
		n := int32(len(list))
		from := n + start // a negative start counts from the end
		if start > 0 {
			from = start - 1
		}
		until := n
		if len(a) == 3 {
			l, ok := javaInt(a[2])
			if !ok {
				return nil
			}
			until = from + l // int32 arithmetic, as in Java
		}
		from, until = max(from, 0), min(until, n)
		if until <= from {
			return []any{}
		}
		return append([]any{}, list[from:until]...)
	}),
	"append": pure(2, -1, nil, func(a []any) any { // feel-scala: at least one item
		list, ok := listOf(a[0])
		if !ok {
			return nil
		}
		return append(append([]any{}, list...), a[1:]...)
	}),
	"concatenate": pure(0, -1, nil, func(a []any) any {
		out := []any{}
		for _, x := range a {
			if list, ok := x.([]any); ok {
				out = append(out, list...)
			} else {
				out = append(out, x)
			}
		}
		return out
	}),
	// insert before and remove are feel-scala's list.patch at the position (Java's intValue of
	// it, from the end when negative): past either end, insert before clamps and remove changes
	// nothing.
	"insert before": pure(3, 3, p("list", "position", "newItem"), func(a []any) any {
		list, ok := listOf(a[0])
		pos, ok2 := javaInt(a[1])
		if !ok || !ok2 {
			return nil
		}
		i := min(max(patchIndex(pos, len(list)), 0), len(list))
		out := append([]any{}, list[:i]...)
		out = append(out, a[2])
		return append(out, list[i:]...)
	}),
	"remove": pure(2, 2, p("list", "position"), func(a []any) any {
		list, ok := listOf(a[0])
		pos, ok2 := javaInt(a[1])
		if !ok || !ok2 {
			return nil
		}
		i := patchIndex(pos, len(list))
		if i < 0 || i >= len(list) {
			return append([]any{}, list...)
		}
		return append(append([]any{}, list[:i]...), list[i+1:]...)
	}),
	"reverse": pure(1, 1, p("list"), func(a []any) any {
		list, ok := listOf(a[0])
		if !ok {
			return nil
		}
		out := make([]any, len(list))
		for i, e := range list {
			out[len(list)-1-i] = e
		}
		return out
	}),
	"index of": pure(2, 2, p("list", "match"), func(a []any) any {
		list, ok := listOf(a[0])
		if !ok {
			return nil
		}
		out := []any{}
		for i, e := range list {
			if feelEqual(e, a[1]) == true {
				out = append(out, int64(i+1))
			}
		}
		return out
	}),
	"union": withBudget(pure(0, -1, nil, nil), func(m *meter, a []any) (any, error) {
		var all []any
		for _, x := range a {
			list, ok := x.([]any)
			if !ok { // feel-scala: any other value is a list of itself
				list = []any{x}
			}
			if err := m.alloc(itemBytes * int64(len(list))); err != nil {
				return nil, err
			}
			all = append(all, list...)
		}
		return distinct(m, all)
	}),
	"distinct values": withBudget(pure(1, 1, p("list"), nil), func(m *meter, a []any) (any, error) {
		if list, ok := listOf(a[0]); ok {
			return distinct(m, list)
		}
		return nil, nil
	}),
	"flatten": withBudget(pure(1, 1, p("list"), nil), func(m *meter, a []any) (any, error) {
		list, ok := listOf(a[0])
		if !ok {
			return nil, nil
		}
		n, err := leaves(m, list)
		if err != nil {
			return nil, err
		}
		if err := m.alloc(listBytes + itemBytes*n); err != nil {
			return nil, err
		}
		return flatten(list), nil
	}),
	"sort": withBudget(pure(2, 2, p("list", "precedes"), nil), func(m *meter, a []any) (any, error) {
		list, ok := listOf(a[0])
		if !ok {
			return nil, nil
		}
		if err := m.alloc(listBytes + itemBytes*int64(len(list))); err != nil {
			return nil, err
		}
		out := append([]any{}, list...)
		if len(a) == 1 || a[1] == nil {
			valid := true
			sort.SliceStable(out, func(i, j int) bool {
				c, ok := feelCompare(out[i], out[j])
				valid = valid && ok
				return c < 0
			})
			if !valid && len(out) > 1 {
				return nil, nil
			}
			return out, nil
		}
		f, ok := a[1].(*feelFunc)
		if !ok {
			return nil, nil
		}
		var err error // the first budget error: the remaining comparisons are skipped
		sort.SliceStable(out, func(i, j int) bool {
			if err != nil {
				return false
			}
			var v any
			v, err = f.call(m, out[i], out[j])
			return v == true
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}),

	// context
	"get value": pure(2, 2, p("context", "key"), func(a []any) any {
		switch k := a[1].(type) {
		case string:
			if m, ok := a[0].(map[string]any); ok {
				return m[k]
			}
		case []any:
			x := a[0]
			for _, e := range k {
				m, ok := x.(map[string]any)
				s, ok2 := e.(string)
				if !ok || !ok2 {
					return nil
				}
				x = m[s]
			}
			return x
		}
		return nil
	}),
	"get entries": withBudget(pure(1, 1, p("context"), nil), func(mt *meter, a []any) (any, error) {
		m, ok := a[0].(map[string]any)
		if !ok {
			return nil, nil
		}
		if err := mt.alloc(listBytes + int64(len(m))*(itemBytes+mapBytes+2*entryBytes)); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(m))
		for _, k := range sortedKeys(m) {
			out = append(out, map[string]any{"key": k, "value": m[k]})
		}
		return out, nil
	}),
	"context put": withBudget(pure(3, 3, p("context", "key", "value"), nil), func(m *meter, a []any) (any, error) {
		levels := int64(1)
		if path, ok := a[1].([]any); ok { // each level is a context copied: nesting and bytes
			if len(path) > MaxDepth {
				return nil, m.fail(&BudgetError{Limit: LimitDepth, Max: MaxDepth})
			}
			levels = int64(max(len(path), 1))
		}
		if err := m.alloc(levels * (mapBytes + entryBytes*(1+int64(len(asMap(a[0])))))); err != nil {
			return nil, err
		}
		return contextPut(a[0], a[1], a[2]), nil
	}),
	"context merge": pure(1, -1, p("contexts"), func(a []any) any { return contextMerge(a) }),
	"put all":       pure(1, -1, p("contexts"), func(a []any) any { return contextMerge(a) }),
	"context": pure(1, 1, p("entries"), func(a []any) any {
		list, ok := listOf(a[0])
		if !ok {
			return nil
		}
		out := make(map[string]any, len(list))
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return nil
			}
			k, ok := m["key"].(string)
			if !ok {
				return nil
			}
			out[k] = m["value"]
		}
		return out
	}),

	// the connector's error functions (Camunda's connector runtime provides the same)
	"bpmnError":   {fn: bpmnError, min: 2, max: 3, params: p("code", "message", "variables")},
	"jobError":    {fn: jobError, min: 1, max: 4, params: p("message", "variables", "retries", "retryBackoff")},
	"ignoreError": {fn: ignoreError, min: 0, max: 1, params: p("variables")},
}

// listOf is a list argument: a list as it is, any other non-null value as a list of itself
// (FEEL's singleton-list conversion).
// listOf is the list argument of a list function: feel-scala takes a list only (null and a
// FUNCTION_INVOCATION_FAILURE warning for anything else).
func listOf(x any) ([]any, bool) {
	v, ok := x.([]any)
	return v, ok
}

func strFn(f func(string) string) *builtin {
	return pure(1, 1, p("string"), func(a []any) any {
		if s, ok := a[0].(string); ok {
			return f(s)
		}
		return nil
	})
}

// listFn takes one list argument or the items as separate arguments: min([1, 2]) = min(1, 2).
func listFn(f func([]any) any) *builtin {
	return &builtin{min: 1, max: -1, params: p("list"), fn: func(args ...any) (any, error) {
		if len(args) == 1 {
			list, ok := args[0].([]any)
			if !ok {
				if args[0] == nil {
					return nil, nil
				}
				list = args
			}
			return f(list), nil
		}
		return f(args), nil
	}}
}

func twoStrings(a []any) (string, string, bool) {
	s, ok1 := a[0].(string)
	m, ok2 := a[1].(string)
	return s, m, ok1 && ok2
}

func intArg(x any) (int64, bool) { return toInt(x) }

func dateOf(x any) (time.Time, bool) {
	switch v := x.(type) {
	case feelDate:
		return v.t, true
	case feelDateTime:
		return v.t, true
	}
	return time.Time{}, false
}

func parseNumberString(s string) any {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	d, ok := parseDec(s)
	if !ok {
		return nil
	}
	return numVal(d, nil)
}

func extreme(l []any, sign int) any {
	if len(l) == 0 {
		return nil
	}
	best := l[0]
	for _, e := range l[1:] {
		c, ok := feelCompare(e, best)
		if !ok {
			return nil
		}
		if c*sign > 0 {
			best = e
		}
	}
	if _, ok := feelCompare(best, best); !ok {
		return nil
	}
	return best
}

func sum(l []any) any {
	if len(l) == 0 {
		return nil
	}
	var out any = int64(0)
	for _, e := range l {
		if !isNum(e) {
			return nil
		}
		out = feelAdd(out, e)
	}
	return out
}

// distinct compares each item with those kept so far: it counts that many steps.
func distinct(m *meter, list []any) (any, error) {
	out := []any{}
	for _, e := range list {
		if err := m.step(1 + int64(len(out))); err != nil {
			return nil, err
		}
		dup := false
		for _, o := range out {
			if feelEqual(e, o) == true {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out, nil
}

func contextPut(ctx, key, value any) any {
	m, ok := ctx.(map[string]any)
	if !ok {
		return nil
	}
	switch k := key.(type) {
	case string:
		out := make(map[string]any, len(m)+1)
		for kk, v := range m {
			out[kk] = v
		}
		out[k] = value
		return out
	case []any:
		if len(k) == 0 {
			return nil
		}
		first, ok := k[0].(string)
		if !ok {
			return nil
		}
		if len(k) == 1 {
			return contextPut(m, first, value)
		}
		inner, ok := m[first].(map[string]any)
		if !ok {
			inner = map[string]any{}
		}
		v := contextPut(inner, k[1:], value)
		if v == nil {
			return nil
		}
		return contextPut(m, first, v)
	}
	return nil
}

// contextMerge merges contexts given as a list or as separate arguments; later keys win.
func contextMerge(a []any) any {
	items := a
	if len(a) == 1 {
		if list, ok := listOf(a[0]); ok {
			items = list
		}
	}
	out := map[string]any{}
	for _, x := range items {
		m, ok := x.(map[string]any)
		if !ok {
			return nil
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func scaleArg(a []any) any {
	if len(a) > 1 {
		return a[1]
	}
	return int64(0)
}

// rounding with a scale, on the decimal value of the number, as FEEL's decimal numbers do.

type roundMode = apd.Rounder

// roundTo rounds n to scale digits after the point (a negative scale: before it).
func roundTo(n, scale any, mode roundMode) any {
	d, ok := toDec(n)
	sc, ok2 := intArg(scale)
	if !ok || !ok2 || sc < -50 || sc > 50 {
		return nil
	}
	if int64(d.Exponent) >= -sc {
		return n // no digits beyond the scale
	}
	if !d.IsZero() && int64(d.Exponent)+d.NumDigits() <= -sc {
		return roundAway(d, int32(-sc), mode) // apd drops every digit to 0 there: round up(100, -7) was 0
	}
	ctx := *decCtx
	ctx.Rounding = mode
	out := new(apd.Decimal)
	_, err := ctx.Quantize(out, d, int32(-sc))
	return numVal(out, err)
}

// regular expressions: FEEL uses XPath regexes with flags s, m, i, x; compiled once each.

var regexCache sync.Map // pattern+flags -> *regexp.Regexp (nil when invalid)

const (
	maxRegexCache    = 1000
	maxCachedPattern = 256 // bytes: the cache holds at most about 1000 × 16 KiB of compiled patterns
)

var regexCount int64
var regexMu sync.Mutex

// regex compiles a pattern and its flags (a[0], a[1]); nil when invalid. A pattern compiled
// anew counts 64 bytes per byte of pattern on m (a nil m counts nothing): its compiled form
// is that much larger. Patterns up to maxCachedPattern bytes are cached, at most
// maxRegexCache of them.
func regex(m *meter, a []any) (*regexp.Regexp, error) {
	pat, ok := a[0].(string)
	if !ok {
		return nil, nil
	}
	flags := ""
	if len(a) > 1 && a[1] != nil {
		if flags, ok = a[1].(string); !ok {
			return nil, nil
		}
	}
	key := flags + "/" + pat
	if v, ok := regexCache.Load(key); ok {
		re, _ := v.(*regexp.Regexp)
		return re, nil
	}
	if err := m.alloc(64 * int64(len(pat))); err != nil {
		return nil, err
	}
	goFlags := ""
	for _, f := range flags {
		switch f {
		case 'i', 's', 'm':
			goFlags += string(f)
		case 'x':
			pat = stripRegexSpace(pat)
		} // any other flag is ignored, as feel-scala ignores it
	}
	src := pat
	if goFlags != "" {
		src = "(?" + goFlags + ")" + pat
	}
	re, err := regexp.Compile(src)
	if err != nil {
		re = nil
	}
	regexMu.Lock()
	if regexCount < maxRegexCache && len(key) <= maxCachedPattern {
		regexCount++
		regexCache.Store(key, re)
	}
	regexMu.Unlock()
	return re, nil
}

func stripRegexSpace(p string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, p)
}

// javaReplacement turns "$1" references (XPath/Java style) into Go's "${1}".
func javaReplacement(s string) string {
	if !strings.ContainsAny(s, `$\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				b.WriteString("$$")
			} else {
				b.WriteString("${" + s[i+1:j] + "}")
				i = j - 1
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stringJoin is FEEL's string join(list[, delimiter[, prefix, suffix]]).
func stringJoin(a []any) any {
	list, ok := listOf(a[0])
	if !ok {
		return nil
	}
	sep, pre, suf := "", "", ""
	for i, dst := range []*string{&sep, &pre, &suf} {
		if len(a) > i+1 && a[i+1] != nil {
			s, ok := a[i+1].(string)
			if !ok {
				return nil
			}
			*dst = s
		}
	}
	var parts []string
	for _, e := range list {
		switch v := e.(type) {
		case nil:
		case string:
			parts = append(parts, v)
		default:
			return nil
		}
	}
	return pre + strings.Join(parts, sep) + suf
}

// flatten lists the items of list and of the lists it holds, at any depth.
func flatten(list []any) []any {
	out := []any{}
	var walk func(l []any)
	walk = func(l []any) {
		for _, e := range l {
			if sub, ok := e.([]any); ok {
				walk(sub)
			} else {
				out = append(out, e)
			}
		}
	}
	walk(list)
	return out
}

// oddOrEvenOfFraction: a number with a fraction is neither odd nor even (false, as in
// feel-scala); anything else is an illegal argument (null).
func oddOrEvenOfFraction(x any) any {
	if isNum(x) {
		return false
	}
	return nil
}

// patchIndex is feel-scala's index of a 1-based position in a list of n: from the end when
// the position is not positive.
func patchIndex(pos int32, n int) int {
	if pos > 0 {
		return int(pos) - 1
	}
	return n + int(pos)
}

// roundAway rounds d, whose magnitude is below one unit u = 10^k, to 0 or ±u by mode.
func roundAway(d *apd.Decimal, k int32, mode roundMode) any {
	unit := apd.New(1, k)
	if d.Negative {
		unit.Neg(unit)
	}
	c := new(apd.Decimal).Abs(d).Cmp(apd.New(5, k-1)) // against half a unit
	away := false
	switch mode {
	case apd.RoundUp:
		away = true
	case apd.RoundCeiling:
		away = !d.Negative
	case apd.RoundFloor:
		away = d.Negative
	case apd.RoundHalfUp:
		away = c >= 0
	case apd.RoundHalfDown, apd.RoundHalfEven: // 0 is the even neighbour
		away = c > 0
	}
	if !away {
		return int64(0)
	}
	return numVal(unit, nil)
}
