package expr

import (
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/apd/v3"
)

// ErrorType is the key under which the connector functions mark their result, as Camunda's
// runtime does, so the caller can tell a BPMN error from a job error or an ignored error.
const ErrorType = "errorType"

// The values of ErrorType.
const (
	TypeBPMNError   = "bpmnError"
	TypeJobError    = "jobError"
	TypeIgnoreError = "ignoreError"
)

// bpmnError(code, message[, variables]) asks for a BPMN error to be thrown.
func bpmnError(args ...any) (any, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("bpmnError(code, message[, variables]) takes 2 or 3 arguments, got %d", len(args))
	}
	code, ok := args[0].(string)
	if !ok || code == "" {
		return nil, fmt.Errorf("bpmnError: code must be a non-empty string, got %s", typeName(args[0]))
	}
	msg, ok := args[1].(string)
	if !ok && args[1] != nil {
		return nil, fmt.Errorf("bpmnError: message must be a string, got %s", typeName(args[1]))
	}
	out := map[string]any{ErrorType: TypeBPMNError, "code": code, "message": msg}
	if len(args) == 3 {
		v, err := variables("bpmnError", args[2])
		if err != nil {
			return nil, err
		}
		if v != nil { // variables: null is no variables
			out["variables"] = v
		}
	}
	return out, nil
}

// jobError(message[, variables[, retries[, retryBackoff]]]) asks for the job to fail.
func jobError(args ...any) (any, error) {
	if len(args) < 1 || len(args) > 4 {
		return nil, fmt.Errorf("jobError(message[, variables[, retries[, retryBackoff]]]) takes 1 to 4 arguments, got %d", len(args))
	}
	msg, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("jobError: message must be a string, got %s", typeName(args[0]))
	}
	out := map[string]any{ErrorType: TypeJobError, "message": msg, "retries": 0, "retryBackoff": "PT0S"}
	if len(args) >= 2 {
		v, err := variables("jobError", args[1])
		if err != nil {
			return nil, err
		}
		if v != nil { // variables: null is no variables
			out["variables"] = v
		}
	}
	if len(args) >= 3 && args[2] != nil {
		n, ok := toInt(args[2])
		switch {
		case ok:
			out["retries"] = int(n)
		case isNum(args[2]):
			return nil, fmt.Errorf("jobError: retries must be a whole number, got %s", feelString(args[2]))
		default:
			return nil, fmt.Errorf("jobError: retries must be a number, got %s", typeName(args[2]))
		}
	}
	if len(args) == 4 {
		switch b := args[3].(type) {
		case string:
			out["retryBackoff"] = b
		case dayTimeDuration: // FEEL: @"PT30S" or duration("PT30S")
			out["retryBackoff"] = b.String()
		case nil:
		default:
			return nil, fmt.Errorf("jobError: retryBackoff must be a duration such as @\"PT30S\" or an ISO-8601 string, got %s", typeName(args[3]))
		}
	}
	return out, nil
}

// ignoreError([variables]) completes the job despite the error.
func ignoreError(args ...any) (any, error) {
	if len(args) > 1 {
		return nil, fmt.Errorf("ignoreError([variables]) takes at most 1 argument, got %d", len(args))
	}
	out := map[string]any{ErrorType: TypeIgnoreError}
	if len(args) == 1 {
		v, err := variables("ignoreError", args[0])
		if err != nil {
			return nil, err
		}
		if v != nil { // variables: null is no variables
			out["variables"] = v
		}
	}
	return out, nil
}

func variables(fn string, v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: variables must be a context (map), got %s", fn, typeName(v))
	}
	return m, nil
}

// typeName names a value's type as FEEL does, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int64, float64, *apd.Decimal, json.Number:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "context"
	case feelDate:
		return "date"
	case feelDateTime:
		return "date and time"
	case feelTime:
		return "time"
	case dayTimeDuration:
		return "days and time duration"
	case yearMonthDuration:
		return "years and months duration"
	case *feelFunc:
		return "function"
	case *feelRange:
		return "range"
	}
	return fmt.Sprintf("%T", v)
}
