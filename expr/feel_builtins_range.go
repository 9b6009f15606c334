package expr

// FEEL's range functions (DMN 1.3, 10.3.4.9; Camunda's "Range functions" page): relations
// between points (numbers, dates, times, date-times, durations) and ranges of them. Each
// takes two arguments, a point or a range, in the combinations its page lists; any other
// combination, or points that cannot be compared (a number and a date, a local and a zoned
// date-time), gives null.

// rangeCmp compares points for one evaluation; a pair that cannot be compared marks it bad,
// and the function's answer is then null.
type rangeCmp struct{ bad bool }

func (r *rangeCmp) cmp(a, b any) int {
	if a == nil || b == nil {
		r.bad = true // an open end ("< 5" as a range) is not a point
		return 0
	}
	c, ok := feelCompare(a, b)
	if !ok || !isPoint(a) || !isPoint(b) {
		r.bad = true
	}
	return c
}

// isPoint: the points of range functions are numbers and temporal values, not texts or
// booleans (feel-scala: illegal arguments).
func isPoint(x any) bool {
	switch x.(type) {
	case string, bool:
		return false
	}
	return true
}

func (r *rangeCmp) lt(a, b any) bool { return r.cmp(a, b) < 0 }
func (r *rangeCmp) gt(a, b any) bool { return r.cmp(a, b) > 0 }
func (r *rangeCmp) eq(a, b any) bool { return r.cmp(a, b) == 0 }

// rangeRelation is a range function given by its four forms; a nil form is a combination the
// function does not take.
type rangeRelation struct {
	pp func(r *rangeCmp, a, b any) bool
	pr func(r *rangeCmp, a any, b *feelRange) bool
	rp func(r *rangeCmp, a *feelRange, b any) bool
	rr func(r *rangeCmp, a, b *feelRange) bool
}

func (rel rangeRelation) apply(a, b any) any {
	ra, aRange := a.(*feelRange)
	rb, bRange := b.(*feelRange)
	if a == nil || b == nil {
		return nil
	}
	var r rangeCmp
	var out bool
	switch {
	case aRange && bRange && rel.rr != nil:
		out = rel.rr(&r, ra, rb)
	case aRange && !bRange && rel.rp != nil:
		out = rel.rp(&r, ra, b)
	case !aRange && bRange && rel.pr != nil:
		out = rel.pr(&r, a, rb)
	case !aRange && !bRange && rel.pp != nil:
		out = rel.pp(&r, a, b)
	default:
		return nil
	}
	if r.bad {
		return nil
	}
	return out
}

var rangeRelations = map[string]rangeRelation{
	"before": {
		pp: func(r *rangeCmp, a, b any) bool { return r.lt(a, b) },
		pr: func(r *rangeCmp, p any, x *feelRange) bool {
			return r.lt(p, x.start) || r.eq(p, x.start) && !x.startIncl
		},
		rp: func(r *rangeCmp, x *feelRange, p any) bool {
			return r.lt(x.end, p) || r.eq(x.end, p) && !x.endIncl
		},
		rr: func(r *rangeCmp, x, y *feelRange) bool {
			return r.lt(x.end, y.start) || (!x.endIncl || !y.startIncl) && r.eq(x.end, y.start)
		},
	},
	"after": {
		pp: func(r *rangeCmp, a, b any) bool { return r.gt(a, b) },
		pr: func(r *rangeCmp, p any, x *feelRange) bool {
			return r.gt(p, x.end) || r.eq(p, x.end) && !x.endIncl
		},
		rp: func(r *rangeCmp, x *feelRange, p any) bool {
			return r.gt(x.start, p) || r.eq(x.start, p) && !x.startIncl
		},
		rr: func(r *rangeCmp, x, y *feelRange) bool {
			return r.gt(x.start, y.end) || (!x.startIncl || !y.endIncl) && r.eq(x.start, y.end)
		},
	},
	"meets": {rr: func(r *rangeCmp, x, y *feelRange) bool {
		return r.eq(x.end, y.start) && x.endIncl && y.startIncl
	}},
	"met by": {rr: func(r *rangeCmp, x, y *feelRange) bool {
		return r.eq(x.start, y.end) && x.startIncl && y.endIncl
	}},
	"overlaps": {rr: func(r *rangeCmp, x, y *feelRange) bool {
		return (r.gt(x.end, y.start) || r.eq(x.end, y.start) && x.endIncl && y.startIncl) &&
			(r.lt(x.start, y.end) || r.eq(x.start, y.end) && x.startIncl && y.endIncl)
	}},
	"overlaps before": {rr: overlapsBefore},
	"overlaps after":  {rr: func(r *rangeCmp, x, y *feelRange) bool { return overlapsBefore(r, y, x) }},
	"finishes": {
		pr: func(r *rangeCmp, p any, x *feelRange) bool { return r.eq(x.end, p) && x.endIncl },
		rr: func(r *rangeCmp, x, y *feelRange) bool {
			return x.endIncl == y.endIncl && r.eq(x.end, y.end) &&
				(r.gt(x.start, y.start) || r.eq(x.start, y.start) && (!x.startIncl || y.startIncl))
		},
	},
	"finished by": {
		rp: func(r *rangeCmp, x *feelRange, p any) bool { return r.eq(x.end, p) && x.endIncl },
		rr: func(r *rangeCmp, x, y *feelRange) bool {
			return x.endIncl == y.endIncl && r.eq(x.end, y.end) &&
				(r.lt(x.start, y.start) || r.eq(x.start, y.start) && (x.startIncl || !y.startIncl))
		},
	},
	"includes": {
		rp: func(r *rangeCmp, x *feelRange, p any) bool { return includesPoint(r, x, p) },
		rr: includesRange,
	},
	"during": {
		pr: func(r *rangeCmp, p any, x *feelRange) bool { return includesPoint(r, x, p) },
		rr: func(r *rangeCmp, x, y *feelRange) bool { return includesRange(r, y, x) },
	},
	"starts": {
		pr: func(r *rangeCmp, p any, x *feelRange) bool { return r.eq(x.start, p) && x.startIncl },
		rr: func(r *rangeCmp, x, y *feelRange) bool { return startsRange(r, x, y) },
	},
	"started by": {
		rp: func(r *rangeCmp, x *feelRange, p any) bool { return r.eq(x.start, p) && x.startIncl },
		rr: func(r *rangeCmp, x, y *feelRange) bool { return startsRange(r, y, x) },
	},
	"coincides": {
		pp: func(r *rangeCmp, a, b any) bool { return r.eq(a, b) },
		rr: func(r *rangeCmp, x, y *feelRange) bool {
			return r.eq(x.start, y.start) && x.startIncl == y.startIncl && r.eq(x.end, y.end) && x.endIncl == y.endIncl
		},
	},
}

func overlapsBefore(r *rangeCmp, x, y *feelRange) bool {
	return (r.lt(x.start, y.start) || r.eq(x.start, y.start) && x.startIncl && !y.startIncl) &&
		(r.gt(x.end, y.start) || r.eq(x.end, y.start) && x.endIncl && y.startIncl) &&
		(r.lt(x.end, y.end) || r.eq(x.end, y.end) && (!x.endIncl || y.endIncl))
}

func includesPoint(r *rangeCmp, x *feelRange, p any) bool {
	return r.lt(x.start, p) && r.gt(x.end, p) || r.eq(x.start, p) && x.startIncl || r.eq(x.end, p) && x.endIncl
}

// includesRange: x includes y.
func includesRange(r *rangeCmp, x, y *feelRange) bool {
	return (r.lt(x.start, y.start) || r.eq(x.start, y.start) && (x.startIncl || !y.startIncl)) &&
		(r.gt(x.end, y.end) || r.eq(x.end, y.end) && (x.endIncl || !y.endIncl))
}

// startsRange: x starts y.
func startsRange(r *rangeCmp, x, y *feelRange) bool {
	return r.eq(x.start, y.start) && x.startIncl == y.startIncl &&
		(r.lt(x.end, y.end) || r.eq(x.end, y.end) && (!x.endIncl || y.endIncl))
}

// rangeParams are the parameter names of each function's forms, for named arguments; the
// first form having the names given is taken, as feel-scala does: before(range: [1..5],
// point: 10) is before(point, range), false.
var rangeParams = map[string][][]string{
	"before":          {p("point1", "point2"), p("point", "range"), p("range", "point"), p("range1", "range2")},
	"after":           {p("point1", "point2"), p("point", "range"), p("range", "point"), p("range1", "range2")},
	"meets":           {p("range1", "range2")},
	"met by":          {p("range1", "range2")},
	"overlaps":        {p("range1", "range2")},
	"overlaps before": {p("range1", "range2")},
	"overlaps after":  {p("range1", "range2")},
	"finishes":        {p("point", "range"), p("range1", "range2")},
	"finished by":     {p("range", "point"), p("range1", "range2")},
	"includes":        {p("range", "point"), p("range1", "range2")},
	"during":          {p("point", "range"), p("range1", "range2")},
	"starts":          {p("point", "range"), p("range1", "range2")},
	"started by":      {p("range", "point"), p("range1", "range2")},
	"coincides":       {p("point1", "point2"), p("range1", "range2")},
}

var _ = addBuiltins(rangeBuiltins())

func rangeBuiltins() map[string]*builtin {
	out := map[string]*builtin{}
	for name, rel := range rangeRelations {
		b := boolean(pure(2, 2, nil, func(a []any) any { return rel.apply(a[0], a[1]) }))
		b.forms = rangeParams[name]
		b.cheap, b.keeps = true, true
		out[name] = b
	}
	return out
}
