package expr

import (
	"fmt"
	"strings"
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

// warn records a warning of the evaluation (a nil meter: none is kept).
func (m *meter) warn(typ, format string, args ...any) {
	if m == nil || len(m.warnings) >= maxWarnings {
		return
	}
	m.warnings = append(m.warnings, Warning{Type: typ, Message: fmt.Sprintf(format, args...)})
}

// comparand shows a value in a NOT_COMPARABLE warning as feel-scala does: strings quoted.
func comparand(x any) string {
	s := feelLiteral(x)
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// notComparable records that a and b, both non-null, cannot be compared.
func notComparable(m *meter, a, b any) {
	m.warn(WarnNotComparable, "Can't compare '%s' with '%s'", comparand(a), comparand(b))
}
