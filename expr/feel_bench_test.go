package expr

import "testing"

// The element template's result expression in FEEL and the same mapping in expr-lang: FEEL
// must cost no more (docs/feel.md records the numbers).
const (
	benchFEEL     = `={statusCode: response.body.statuscode, name: response.statusName}`
	benchExprLang = `expr:{statusCode: response.body.statuscode, name: response.statusName}`
)

func benchEnv() map[string]any {
	return map[string]any{"response": map[string]any{
		"status": int64(200), "statusName": "Succeeded",
		"body": map[string]any{"statuscode": int64(4), "flowsessionId": "9f2c-11", "outputs": map[string]any{"x": int64(1)}},
	}}
}

func benchmarkEval(b *testing.B, src string) {
	p, err := Compile(src)
	if err != nil {
		b.Fatal(err)
	}
	env := benchEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalResultFEEL(b *testing.B)     { benchmarkEval(b, benchFEEL) }
func BenchmarkEvalResultExprLang(b *testing.B) { benchmarkEval(b, benchExprLang) }

func BenchmarkCompileFEEL(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchFEEL); err != nil {
			b.Fatal(err)
		}
	}
}

// Arithmetic on integers (the int64 fast path) and on decimals (34-digit apd decimals since
// issue 14; float64 before): docs/benchmarks.md records the cost.
func BenchmarkEvalArithmeticIntFEEL(b *testing.B) {
	benchmarkEval(b, `={n: response.body.statuscode * 3 + response.status - 1}`)
}

func BenchmarkEvalArithmeticDecimalFEEL(b *testing.B) {
	benchmarkEval(b, `={n: response.body.statuscode * 1.5 + 0.1, third: response.status / 3}`)
}
