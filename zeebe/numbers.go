package zeebe

import (
	"encoding/json"
	"strconv"
	"strings"
)

// zeebeNumbers turns each whole json.Number outside int64 in v into the float64 nearest to
// it, what Zeebe holds anyway: Zeebe stores a number as a MessagePack int64 or double, and its
// JSON conversion refuses an integer beyond 64 bits, so CompleteJob would fail on every retry
// (issue 14). Fractions stay exact digits (Zeebe reads them as doubles). v is not changed.
func zeebeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			return x
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return x
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = zeebeNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = zeebeNumbers(e)
		}
		return out
	}
	return v
}
