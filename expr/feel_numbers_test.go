package expr

import (
	"encoding/json"
	"testing"
)

// FEEL numbers are feel-scala's 34-digit decimals. Each case compares the JSON a result
// becomes, digit for digit: float64 arithmetic fails every one of them.
func TestFEELDecimalNumbers(t *testing.T) {
	t.Parallel()
	env := jsonEnv(t, `{"price": 0.1, "qty": 3, "big": 123456789012345678901234567890, "exact": 0.1000000000000000000000000001}`)
	tests := []struct{ name, src, want string }{
		{"0.1 + 0.2 is 0.3", `=0.1 + 0.2`, `0.3`},
		{"0.1 + 0.2 = 0.3", `=0.1 + 0.2 = 0.3`, `true`},
		{"1 / 3 to 34 digits", `=1 / 3`, `0.3333333333333333333333333333333333`},
		{"2 / 3 rounds half even at 34 digits", `=2 / 3`, `0.6666666666666666666666666666666667`},
		{"10 ** 30 + 1 exact", `=10 ** 30 + 1`, `1000000000000000000000000000001`},
		{"beyond int64", `=9223372036854775807 + 1`, `9223372036854775808`},
		{"below int64", `=-9223372036854775807 - 2`, `-9223372036854775809`},
		{"product beyond int64", `=4294967296 * 4294967296`, `18446744073709551616`},
		{"2 ** 64", `=2 ** 64`, `18446744073709551616`},
		{"negative power", `=10 ** -2`, `0.01`},
		{"fractional power is feel-scala's double", `=2 ** 0.5`, `1.4142135623730951`},
		{"a long literal is exact", `=123456789012345678901234567890 - 1`, `123456789012345678901234567889`},
		{"a long JSON number is exact", `=big + 1`, `123456789012345678901234567891`},
		{"a JSON decimal is its digits", `=price * qty`, `0.3`},
		{"a long JSON decimal keeps its digits", `=exact * 10`, `1.000000000000000000000000001`},
		{"a whole decimal is an integer", `=1.5 * 2`, `3`},
		{"1.0 equals 1", `=1.0 = 1`, `true`},
		{"decimals compare exactly", `=0.30000000000000001 > 0.3`, `true`},
		{"sum", `=sum([0.1, 0.2, 0.3])`, `0.6`},
		{"mean", `=mean([1, 2])`, `1.5`},
		{"product", `=product([0.1, 0.1])`, `0.01`},
		{"median of two", `=median([1, 2])`, `1.5`},
		{"modulo of decimals", `=modulo(10.5, 3)`, `1.5`},
		{"modulo with a negative divisor", `=modulo(10.5, -3)`, `-1.5`},
		{"modulo with a negative dividend", `=modulo(-12, 5)`, `3`},
		{"modulo by zero", `=modulo(1, 0)`, `null`},
		{"division by zero", `=1 / 0`, `null`},
		{"decimal rounds half even", `=decimal(2.675, 2)`, `2.68`},
		{"decimal of a third", `=decimal(1 / 3, 2)`, `0.33`},
		{"round half up", `=round half up(-2.5, 0)`, `-3`},
		{"round half down", `=round half down(2.5, 0)`, `2`},
		{"round up", `=round up(1.121, 2)`, `1.13`},
		{"round down", `=round down(-1.129, 2)`, `-1.12`},
		{"floor", `=floor(-1.5)`, `-2`},
		{"ceiling with a scale", `=ceiling(1.121, 2)`, `1.13`},
		{"negative scale", `=decimal(12345, -2)`, `12300`},
		{"abs of a decimal", `=abs(-0.5)`, `0.5`},
		{"abs beyond int64", `=abs(-9223372036854775808)`, `9223372036854775808`},
		{"sqrt is feel-scala's double", `=sqrt(2)`, `1.4142135623730951`},
		{"string of a third", `=string(1 / 3)`, `"0.3333333333333333333333333333333333"`},
		{"string of a large integer", `=string(10 ** 30)`, `"1000000000000000000000000000000"`},
		{"number() of a long string", `=number("12345678901234567890.5")`, `12345678901234567890.5`},
		{"number() of a decimal string", `=number("0.1") + number("0.2")`, `0.3`},
		{"a list index computed as a decimal", `=[1, 2, 3][1.5 * 2]`, `3`},
		{"a range with decimal ends", `=2.5 in [2..3]`, `true`},
		{"a duration times a decimal cuts it first", `=string(duration("PT1H") * 2.5)`, `"PT2H"`},
		{"a duration over a duration: the whole quotient, as feel-scala", `=duration("PT1H") / duration("PT40M")`, `1`},
		{"beyond DECIMAL128", `=10 ** 6145`, `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(evalFEEL(t, tc.src, env))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("%s = %s, want %s", tc.src, got, tc.want)
			}
		})
	}
}

// A decimal leaves an evaluation as an exact json.Number, also inside lists and contexts,
// and comes back in through DecodeJSON unchanged.
func TestFEELDecimalsRoundTripThroughJSON(t *testing.T) {
	t.Parallel()
	out := evalFEEL(t, `={third: 1 / 3, big: [10 ** 30 + 1]}`, nil)
	data, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"big":[1000000000000000000000000000001],"third":0.3333333333333333333333333333333333}`
	if string(data) != want {
		t.Fatalf("result %s, want %s", data, want)
	}
	back, err := DecodeJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(evalFEEL(t, `=[x.third * 3, x.big[1] - 1]`, map[string]any{"x": back}))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `[0.9999999999999999999999999999999999,1000000000000000000000000000000]` {
		t.Fatalf("after a round trip: %s", got)
	}
}

// DecodeJSON keeps every number exact: float64 only where it holds the number's digits.
func TestDecodeJSONKeepsNumbersExact(t *testing.T) {
	t.Parallel()
	v, err := DecodeJSON([]byte(`[1, 0.1, 1e30, 123456789.0123456789, 9223372036854775808]`))
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	if l[0] != int64(1) || l[1] != 0.1 {
		t.Errorf("small numbers: %#v %#v, want int64 1 and float64 0.1", l[0], l[1])
	}
	for i, want := range []string{"1e30", "123456789.0123456789", "9223372036854775808"} {
		if l[i+2] != json.Number(want) {
			t.Errorf("item %d: %#v, want json.Number(%q)", i+3, l[i+2], want)
		}
	}
}
