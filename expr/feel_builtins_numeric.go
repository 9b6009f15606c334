package expr

import (
	"math"
	"sort"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Numeric built-ins beyond the first set: decimal with a rounding mode, and the statistics
// of the "List functions" page.

// roundingModes are java.math.RoundingMode's names, which decimal() takes in any case.
var roundingModes = map[string]roundMode{
	"UP":        apd.RoundUp,
	"DOWN":      apd.RoundDown,
	"CEILING":   apd.RoundCeiling,
	"FLOOR":     apd.RoundFloor,
	"HALF_UP":   apd.RoundHalfUp,
	"HALF_DOWN": apd.RoundHalfDown,
	"HALF_EVEN": apd.RoundHalfEven,
}

var _ = addBuiltins(map[string]*builtin{
	"decimal": pure(2, 3, p("n", "scale", "mode"), func(a []any) any {
		if len(a) < 3 || a[2] == nil {
			return roundTo(a[0], a[1], apd.RoundHalfEven)
		}
		name, ok := a[2].(string)
		if !ok {
			return nil
		}
		name = strings.ToUpper(name)
		if name == "UNNECESSARY" { // the number as it is, or null when it needs rounding
			r := roundTo(a[0], a[1], apd.RoundDown)
			if feelEqual(r, a[0]) != true {
				return nil
			}
			return r
		}
		mode, ok := roundingModes[name]
		if !ok {
			return nil
		}
		return roundTo(a[0], a[1], mode)
	}),
	// stddev is the sample standard deviation; fewer than two numbers have none (null).
	"stddev": listFn(func(l []any) any {
		if len(l) < 2 {
			return nil
		}
		// in decimals, as feel-scala: the mean, the sum of squared deviations, then the square
		// root of their quotient in double precision
		var sum any = int64(0)
		for _, e := range l {
			if !isNum(e) {
				return nil
			}
			sum = numAdd(sum, e)
		}
		mean := numDiv(sum, int64(len(l)))
		var sq any = int64(0)
		for _, e := range l {
			d := numSub(e, mean)
			sq = numAdd(sq, numMul(d, d))
		}
		return floatFunc(math.Sqrt, numDiv(sq, int64(len(l)-1)))
	}),
	// mode lists the numbers that occur most often, in ascending order (sorted first: n log n).
	"mode": listFn(func(l []any) any {
		s := append([]any(nil), l...)
		for _, e := range s {
			if !isNum(e) {
				return nil
			}
		}
		sort.SliceStable(s, func(i, j int) bool { c, _ := feelCompare(s[i], s[j]); return c < 0 })
		out, most := []any{}, 0
		for i := 0; i < len(s); {
			j := i + 1
			for j < len(s) && feelEqual(s[i], s[j]) == true {
				j++
			}
			switch n := j - i; {
			case n > most:
				out, most = []any{s[i]}, n
			case n == most:
				out = append(out, s[i])
			}
			i = j
		}
		return out
	}),
})
