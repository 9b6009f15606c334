package expr

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"

	"github.com/cockroachdb/apd/v3"
)

// FEEL numbers are decimals of 34 significant digits rounded half even, feel-scala's
// MathContext.DECIMAL128: 0.1 + 0.2 is 0.3, 1 / 3 has 34 digits, 10 ** 30 + 1 is exact.
//
// At run time a number is an int64 when it is an integer within int64's range (the common
// case and the fast path: no allocation) and a *apd.Decimal otherwise. A *apd.Decimal value
// is finite, has no trailing zeros, is never an integer within int64's range (so 1.0 and 1
// are one value) and is never changed once made. Numbers that come from outside (float64,
// json.Number, int, ...) are read by toDec; a result leaves as an int64 or, through plain,
// as an exact json.Number.

// decCtx is DECIMAL128's arithmetic; a result beyond its exponents, or a division by zero,
// is an error, which FEEL evaluates to null.
var decCtx = &apd.Context{
	Precision:   34,
	MaxExponent: 6144,
	MinExponent: -6143,
	Rounding:    apd.RoundHalfEven,
	Traps:       apd.DefaultTraps,
}

// isNum reports whether x is a number of any Go representation.
func isNum(x any) bool {
	switch v := x.(type) {
	case int64, *apd.Decimal, int, int32, uint64:
		return true
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case float32:
		return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
	case json.Number:
		_, ok := toDec(v)
		return ok
	}
	return false
}

// toInt reads x as an int64 when it is an integral number within int64's range.
func toInt(x any) (int64, bool) {
	switch v := x.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case *apd.Decimal:
		return 0, false // not integral within int64, by the invariant
	}
	d, ok := toDec(x)
	if !ok {
		return 0, false
	}
	i, err := d.Int64()
	return i, err == nil
}

// toDec reads any number as a decimal; ok is false for anything else. The result may be x
// itself: it must not be changed.
func toDec(x any) (*apd.Decimal, bool) {
	switch v := x.(type) {
	case int64:
		return apd.New(v, 0), true
	case *apd.Decimal:
		return v, true
	case int:
		return apd.New(int64(v), 0), true
	case int32:
		return apd.New(int64(v), 0), true
	case uint64:
		d := new(apd.Decimal)
		d.Coeff.SetUint64(v)
		return d, true
	case float64:
		return floatDec(v)
	case float32:
		return floatDec(float64(v))
	case json.Number:
		return parseDec(string(v))
	}
	return nil, false
}

// parseDec reads a decimal number ("12", "-0.5", "1e30"), rounded to 34 digits as Scala's
// BigDecimal(string) does; ok is false for anything else and beyond DECIMAL128's exponents.
func parseDec(s string) (*apd.Decimal, bool) {
	d, _, err := apd.NewFromString(s)
	if err != nil || d.Form != apd.Finite {
		return nil, false
	}
	if _, err := decCtx.Round(d, d); err != nil {
		return nil, false
	}
	return d, true
}

// floatDec reads a float64 as the shortest decimal that round-trips to it (0.1 is 0.1, not
// the binary fraction nearest to it), as JSON and the user wrote it.
func floatDec(f float64) (*apd.Decimal, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	return parseDec(strconv.FormatFloat(f, 'g', -1, 64))
}

// numVal is the run-time value of a decimal just computed (d is reduced in place): null
// when it is not finite or its computation failed, an int64 when it is an integer within
// int64's range.
func numVal(d *apd.Decimal, err error) any {
	if err != nil || d.Form != apd.Finite {
		return nil
	}
	if i, err := d.Int64(); err == nil {
		return i
	}
	d.Reduce(d)
	return d
}

// decString is a decimal as FEEL writes it and as JSON carries it: plain digits, no
// exponent (1/3 is 0.3333333333333333333333333333333333, 10 ** 30 is 1 and 30 zeros).
func decString(d *apd.Decimal) string { return d.Text('f') }

// numCompare orders two numbers; ok is false unless both are numbers.
func numCompare(a, b any) (int, bool) {
	if ai, ok := a.(int64); ok {
		if bi, ok := b.(int64); ok {
			return cmp3(ai, bi), true
		}
	}
	ad, ok1 := toDec(a)
	bd, ok2 := toDec(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return ad.Cmp(bd), true
}

// decOp applies a decimal operation of DECIMAL128 to two numbers.
func decOp(op func(d, x, y *apd.Decimal) (apd.Condition, error), a, b any) any {
	ad, ok1 := toDec(a)
	bd, ok2 := toDec(b)
	if !ok1 || !ok2 {
		return nil
	}
	d := new(apd.Decimal)
	_, err := op(d, ad, bd)
	return numVal(d, err)
}

// decFunc applies a one-argument decimal function of DECIMAL128 to a number.
func decFunc(op func(d, x *apd.Decimal) (apd.Condition, error), a any) any {
	ad, ok := toDec(a)
	if !ok {
		return nil
	}
	d := new(apd.Decimal)
	_, err := op(d, ad)
	return numVal(d, err)
}

func cmp3(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func numAdd(a, b any) any {
	if ai, ok := a.(int64); ok {
		if bi, ok := b.(int64); ok {
			if s := ai + bi; (s > ai) == (bi > 0) {
				return s
			}
		}
	}
	return decOp(decCtx.Add, a, b)
}

func numSub(a, b any) any {
	if ai, ok := a.(int64); ok {
		if bi, ok := b.(int64); ok {
			if s := ai - bi; (s < ai) == (bi > 0) {
				return s
			}
		}
	}
	return decOp(decCtx.Sub, a, b)
}

func numMul(a, b any) any {
	if ai, ok := a.(int64); ok {
		if bi, ok := b.(int64); ok {
			if ai == 0 || bi == 0 {
				return int64(0)
			}
			if p := ai * bi; p/bi == ai && !(ai == -1 && bi == math.MinInt64) && !(bi == -1 && ai == math.MinInt64) {
				return p
			}
		}
	}
	return decOp(decCtx.Mul, a, b)
}

func numDiv(a, b any) any {
	if ai, ok := a.(int64); ok {
		if bi, ok := b.(int64); ok && bi != 0 && ai%bi == 0 && !(ai == math.MinInt64 && bi == -1) {
			return ai / bi
		}
	}
	return decOp(decCtx.Quo, a, b)
}

// floatFunc applies a float64 function to a number, as feel-scala computes sqrt, log and exp
// (Math.sqrt(n.toDouble)); a result that is not finite is null.
func floatFunc(f func(float64) float64, a any) any {
	x, ok := toDec(a)
	if !ok {
		return nil
	}
	xf, _ := x.Float64()
	d, ok := floatDec(f(xf))
	if !ok {
		return nil
	}
	return numVal(d, nil)
}

// numPow is x ** y as feel-scala computes it: a decimal power for a whole exponent, the
// float64 power otherwise (2 ** 0.5 is 1.4142135623730951).
func numPow(a, b any) any {
	if y, ok := toInt(b); ok {
		if y == 0 && isNum(a) {
			return int64(1) // 0 ** 0 too, as in feel-scala (apd: undefined)
		}
		return decOp(decCtx.Pow, a, b)
	}
	x, ok1 := toDec(a)
	y, ok2 := toDec(b)
	if !ok1 || !ok2 {
		return nil
	}
	yf, _ := y.Float64()
	return floatFunc(func(x float64) float64 { return math.Pow(x, yf) }, x)
}

func numNeg(a any) any {
	if ai, ok := a.(int64); ok && ai != math.MinInt64 {
		return -ai
	}
	return decFunc(decCtx.Neg, a)
}

// roundInt rounds a number to the nearest int64 (halves away from zero); ok is false for a
// non-number or one beyond int64's range.
func roundInt(x any) (int64, bool) { return intOf(x, apd.RoundHalfUp) }

// intOf rounds a number to an int64 with mode (apd.RoundDown: cut to its integer part); ok
// is false for a non-number or one beyond int64's range.
func intOf(x any, mode apd.Rounder) (int64, bool) {
	if i, ok := x.(int64); ok {
		return i, true
	}
	d, ok := toDec(x)
	if !ok {
		return 0, false
	}
	ctx := *decCtx
	ctx.Rounding = mode
	r := new(apd.Decimal)
	if _, err := ctx.RoundToIntegralValue(r, d); err != nil {
		return 0, false
	}
	i, err := r.Int64()
	return i, err == nil
}

// javaInt is a number as Java's BigDecimal.intValue takes it, which feel-scala's list
// functions use for positions: the fraction dropped, then the low 32 bits.
func javaInt(x any) (int32, bool) {
	switch v := x.(type) {
	case int64:
		return int32(v), true
	case int:
		return int32(v), true
	}
	d, ok := toDec(x)
	if !ok {
		return 0, false
	}
	c := d.Coeff.MathBigInt()
	mod := new(big.Int).Lsh(big.NewInt(1), 32)
	switch {
	case d.Exponent > 0:
		c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Exponent)), mod))
	case d.Exponent < 0 && int64(-d.Exponent) > d.NumDigits():
		c.SetInt64(0)
	case d.Exponent < 0:
		c.Quo(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Exponent)), nil))
	}
	v := int32(uint32(c.Mod(c, mod).Uint64()))
	if d.Negative {
		v = -v
	}
	return v, true
}
