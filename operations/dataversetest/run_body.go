package dataversetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// runRequest is a deserialized RunDesktopFlow body. Nullable parameters that
// were absent or null are nil.
type runRequest struct {
	RunMode        string
	RunPriority    *string
	ConnectionName string
	ConnectionType *int32
	Timeout        *int32
	Inputs         *string
	CallbackURL    *string
}

type paramKind int

const (
	kindString paramKind = iota
	kindInt32
)

type paramSpec struct {
	name     string
	kind     paramKind
	nullable bool
}

// runParams are RunDesktopFlow's parameters as its $metadata declares them.
var runParams = []paramSpec{
	{"runMode", kindString, false},
	{"runPriority", kindString, true},
	{"connectionName", kindString, false},
	{"connectionType", kindInt32, true},
	{"timeout", kindInt32, true},
	{"inputs", kindString, true},
	{"callbackUrl", kindString, true},
}

// parseRunBody reads a RunDesktopFlow body the way OData does: a JSON object
// of declared parameters only, each of its declared type, no duplicates, the
// non-nullable ones present. It does not judge values (see validate).
func parseRunBody(body []byte) (runRequest, *odataError) {
	var req runRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return req, missingParams(runParams, nil)
	}
	if err != nil {
		return req, payloadError("Invalid JSON. " + jsonProblem(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return req, payloadError(fmt.Sprintf("An unexpected '%s' node was found when reading from the JSON reader. A 'StartObject' node was expected.", nodeName(tok)))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, payloadError("Invalid JSON. " + jsonProblem(err))
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return req, payloadError("Invalid JSON. " + jsonProblem(err))
		}
		if strings.HasPrefix(name, "@") || strings.Contains(name, "@odata.") {
			continue // instance annotations such as @odata.type are allowed and ignored
		}
		i := slices.IndexFunc(runParams, func(p paramSpec) bool { return p.name == name })
		if i < 0 {
			return req, payloadError(fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation 'RunDesktopFlow'.", name))
		}
		if seen[name] {
			return req, payloadError(fmt.Sprintf("Multiple parameters with the name '%s' were found in the request payload.", name))
		}
		seen[name] = true
		if e := assign(&req, runParams[i], raw); e != nil {
			return req, e
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return req, payloadError("Invalid JSON. " + jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, payloadError("Invalid JSON. More than one value was found at the root of the JSON content. JSON content can only have one value at the root level, which is an array, an object or a primitive value.")
	}
	return req, missingParams(runParams, seen)
}

func missingParams(specs []paramSpec, seen map[string]bool) *odataError {
	var missing []string
	for _, p := range specs {
		if !p.nullable && !seen[p.name] {
			missing = append(missing, p.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return payloadError(fmt.Sprintf("One or more parameters of the operation 'RunDesktopFlow' are missing from the request payload. The missing parameters are: %s.", strings.Join(missing, ", ")))
}

// assign type-checks one parameter value and stores it.
func assign(req *runRequest, p paramSpec, raw json.RawMessage) *odataError {
	raw = bytes.TrimSpace(raw)
	edm := "Edm.String"
	if p.kind == kindInt32 {
		edm = "Edm.Int32"
	}
	switch raw[0] {
	case 'n': // null
		if !p.nullable {
			return payloadError(fmt.Sprintf("A null value was found for the property named '%s', which has the expected type '%s[Nullable=False]'. The expected type '%s[Nullable=False]' does not allow null values.", p.name, edm, edm))
		}
		return nil
	case '{', '[':
		node := "StartObject"
		if raw[0] == '[' {
			node = "StartArray"
		}
		return payloadError(fmt.Sprintf("An unexpected '%s' node was found for property named '%s' when reading from the JSON reader. A 'PrimitiveValue' node was expected.", node, p.name))
	}
	cannot := payloadError(fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", literal(raw), edm))
	switch p.kind {
	case kindString:
		if raw[0] != '"' {
			return cannot
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return cannot
		}
		switch p.name {
		case "runMode":
			req.RunMode = s
		case "runPriority":
			req.RunPriority = &s
		case "connectionName":
			req.ConnectionName = s
		case "inputs":
			req.Inputs = &s
		case "callbackUrl":
			req.CallbackURL = &s
		}
	case kindInt32:
		// A JSON number without fraction or exponent; a string such as "1" is refused.
		if raw[0] == '"' || bytes.ContainsAny(raw, ".eE") {
			return cannot
		}
		n, err := strconv.ParseInt(string(raw), 10, 32)
		if err != nil {
			return cannot
		}
		v := int32(n)
		switch p.name {
		case "connectionType":
			req.ConnectionType = &v
		case "timeout":
			req.Timeout = &v
		}
	}
	return nil
}

// literal renders a JSON primitive the way OData quotes it in messages.
func literal(raw json.RawMessage) string {
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

func nodeName(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "StartArray"
		}
		return "EndObject"
	default:
		return "PrimitiveValue"
	}
}

func jsonProblem(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "An unexpected end of input was found in JSON content. Not all object and array scopes were closed."
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("Invalid JSON at position %d: %s.", se.Offset, se.Error())
	}
	return err.Error() + "."
}

// validate judges the values of a well-formed body the way the
// RunDesktopFlow action does, and returns the parsed inputs object.
func (req runRequest) validate(allowedHosts []string) (map[string]any, *odataError) {
	invalid := func(msg string) *odataError { return newError(400, CodeInvalidArgument, msg) }
	if req.RunMode != "attended" && req.RunMode != "unattended" {
		return nil, invalid(fmt.Sprintf("Invalid runMode '%s': expected 'attended' or 'unattended'.", req.RunMode))
	}
	if strings.TrimSpace(req.ConnectionName) == "" {
		return nil, invalid("The connectionName parameter must not be empty.")
	}
	if req.ConnectionType != nil && *req.ConnectionType != 1 && *req.ConnectionType != 2 {
		return nil, invalid(fmt.Sprintf("Invalid connectionType %d: expected 1 (connection) or 2 (connection reference).", *req.ConnectionType))
	}
	if req.Timeout != nil && (*req.Timeout < 1 || *req.Timeout > MaxRunTimeout) {
		return nil, invalid(fmt.Sprintf("Invalid timeout %d: it must be between 1 and %d seconds.", *req.Timeout, MaxRunTimeout))
	}
	inputs := map[string]any{}
	if req.Inputs != nil && *req.Inputs != "" {
		if len(*req.Inputs) > MaxInputsBytes {
			return nil, invalid(fmt.Sprintf("The inputs parameter is %d bytes long; at most %d bytes (2 MB) are allowed.", len(*req.Inputs), MaxInputsBytes))
		}
		dec := json.NewDecoder(strings.NewReader(*req.Inputs))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil || dec.More() {
			return nil, invalid("The inputs parameter must be a JSON-serialized object, e.g. \"{\\\"Input1\\\":\\\"value\\\"}\".")
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, invalid("The inputs parameter must be a JSON-serialized object, e.g. \"{\\\"Input1\\\":\\\"value\\\"}\".")
		}
		inputs = obj
	}
	if req.CallbackURL != nil && *req.CallbackURL != "" {
		if n := utf8.RuneCountInString(*req.CallbackURL); n > MaxCallbackURL {
			// Undocumented answer (docs/emulator.md): the column's limit as a value error.
			return nil, invalid(fmt.Sprintf("The callbackUrl parameter is %d characters long; at most %d are allowed (the length of the flowsession callbackurl column).", n, MaxCallbackURL))
		}
		if msg := checkCallbackURL(*req.CallbackURL, allowedHosts); msg != "" {
			return nil, invalid(msg)
		}
	}
	return inputs, nil
}

// checkCallbackURL returns why u is not an acceptable callbackUrl, or "".
// The URL itself is never echoed: it may carry a receiver's secret.
func checkCallbackURL(u string, allowedHosts []string) string {
	const want = "The callbackUrl parameter must be an absolute HTTPS URL whose host is a DNS name (not localhost or an IP address)."
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || p.Hostname() == "" || p.User != nil {
		return want
	}
	host := strings.ToLower(p.Hostname())
	allowed := slices.ContainsFunc(allowedHosts, func(h string) bool { return strings.EqualFold(h, host) })
	switch {
	case allowed:
		if p.Scheme != "https" && p.Scheme != "http" {
			return want
		}
	case p.Scheme != "https":
		return want
	case host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil || !strings.Contains(host, "."):
		return want
	}
	return ""
}
