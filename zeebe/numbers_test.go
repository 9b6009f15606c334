package zeebe

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pa-connector/pa-connector/expr"
)

// A result expression 10 ** 30 + 1 completes with a number Zeebe can hold: a double, not
// 31 exact digits its JSON conversion refuses (issue 14 fix 3).
func TestZeebeNumbersFitADouble(t *testing.T) {
	p, err := expr.Compile(`={big: 10 ** 30 + 1, list: [10 ** 30 + 1], small: 7, third: 1 / 3}`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Eval(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(zeebeNumbers(v))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "1000000000000000000000000000001") {
		t.Fatalf("exact digits beyond int64 reach Zeebe: %s", b)
	}
	var back struct {
		Big   float64
		List  []float64
		Small int64
		Third string `json:"-"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Big != 1e30 || len(back.List) != 1 || back.List[0] != 1e30 || back.Small != 7 {
		t.Fatalf("%s: %+v, %v", b, back, err)
	}
	if !strings.Contains(string(b), `"third":0.3333333333333333333333333333333333`) {
		t.Errorf("a fraction should stay exact digits: %s", b)
	}
}
