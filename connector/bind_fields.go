package connector

import (
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pa-connector/pa-connector/connector/spec"
	"github.com/pa-connector/pa-connector/egress"
	"github.com/pa-connector/pa-connector/operations"
)

// values are a job's variables bound by their declarations (spec.Field), each as its kind
// binds it: Text, GUID, OrgURL, Enum and JSONObject a string, Int an int64, Duration a
// time.Duration, Context and RowRef's alternate key a map, List a []string, Bool a bool, Auth
// a boundAuth. A field left empty without a default is absent.
type values map[*spec.Field]any

func (v values) text(f *spec.Field) string            { s, _ := v[f].(string); return s }
func (v values) int(f *spec.Field) int64              { n, _ := v[f].(int64); return n }
func (v values) duration(f *spec.Field) time.Duration { d, _ := v[f].(time.Duration); return d }

// bindFields binds each field from vars, where name(f) is its key, in declaration order: the
// first field that cannot be used is the error, naming that key. The fields in optional are
// bound as optional although they are declared required (spec.Operation.Optional).
func bindFields(vars map[string]any, fields []*spec.Field, name func(*spec.Field) string, optional []*spec.Field) (values, error) {
	out := make(values, len(fields))
	for _, f := range fields {
		g := f
		if f.Required && slices.Contains(optional, f) {
			c := *f
			c.Required = false
			g = &c
		}
		x, err := bindField(g, name(f), vars[name(f)])
		if err != nil {
			return nil, err
		}
		if x != nil {
			out[f] = x
		}
	}
	return out, nil
}

// boxedDefaults holds each field's Default as an any, boxed once instead of on every job.
var boxedDefaults sync.Map // *spec.Field → any

func defaultOf(f *spec.Field) any {
	if v, ok := boxedDefaults.Load(f); ok {
		return v
	}
	v, _ := boxedDefaults.LoadOrStore(f, any(f.Default))
	return v
}

// patterns holds each Text field's Pattern compiled, anchored, once (keyed by the pattern:
// bindFields binds an optional field through a copy of its declaration).
var patterns sync.Map // Pattern → *regexp.Regexp

func patternOf(f *spec.Field) *regexp.Regexp {
	if re, ok := patterns.Load(f.Pattern); ok {
		return re.(*regexp.Regexp)
	}
	re, _ := patterns.LoadOrStore(f.Pattern, regexp.MustCompile(`^(?:`+f.Pattern+`)$`))
	return re.(*regexp.Regexp)
}

// bindField checks one value x of field f, read from the variable key. The messages name key.
func bindField(f *spec.Field, key string, x any) (any, error) {
	if x == nil && f.Default != "" && f.Kind != spec.Auth {
		x = defaultOf(f) // the declared default is bound like a given value: tests check it binds
	}
	switch f.Kind {
	case spec.Text:
		s, err := strOf(key, x, f.Required)
		if s == "" || err != nil {
			return nil, err
		}
		if f.Pattern != "" && !patternOf(f).MatchString(s) {
			return nil, inputErr(key, "must be %s, got %s", f.Shape, excerpt(s, 60))
		}
		return s, nil
	case spec.GUID:
		s, err := strOf(key, x, f.Required)
		if s == "" || err != nil {
			return nil, err
		}
		if g := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}"); operations.ValidID(g) {
			return strings.ToLower(g), nil
		}
		return nil, inputErr(key, "must be a GUID such as 00000000-0000-0000-0000-000000000000, got %s", excerpt(strings.TrimSpace(s), 60))
	case spec.OrgURL:
		return orgURL(key, x, f.Required)
	case spec.Int:
		return boundInt(f, key, x)
	case spec.Enum:
		s, err := strOf(key, x, f.Required)
		if err != nil {
			return nil, err
		}
		norm := strings.ToLower(strings.TrimSpace(s))
		for _, c := range f.Choices {
			if strings.ToLower(c.Value) == norm {
				if c.Value == "" {
					return nil, nil
				}
				return c.Value, nil
			}
		}
		if norm == "" && !f.Required {
			return nil, nil
		}
		return nil, inputErr(key, "must be %s, got %s", f.OneOf(), excerpt(s, 40))
	case spec.Duration:
		s, err := strOf(key, x, f.Required)
		if s == "" || err != nil {
			return nil, err
		}
		d, err := boundedDuration(s, f.Shortest, f.Longest)
		if err != nil {
			return nil, inputErr(key, "%v", err)
		}
		return d, nil
	case spec.JSONObject:
		return jsonObject(f, key, x)
	case spec.Context:
		m, err := contextValue(key, x)
		if m == nil || err != nil {
			if err == nil && f.Required {
				err = inputErr(key, "is required")
			}
			return nil, err
		}
		if f.MaxBytes > 0 {
			raw, err := json.Marshal(m)
			if err != nil {
				return nil, inputErr(key, "cannot be encoded as JSON: %v", err)
			}
			if len(raw) > f.MaxBytes {
				return nil, inputErr(key, "is %d bytes as JSON; the worker takes at most %s", len(raw), spec.Size(f.MaxBytes))
			}
		}
		return m, nil
	case spec.List:
		return list(f, key, x)
	case spec.Bool:
		switch b := x.(type) {
		case nil:
			if f.Required {
				return nil, inputErr(key, "is required")
			}
			return nil, nil
		case bool:
			return b, nil
		case string: // a static template value
			switch strings.ToLower(strings.TrimSpace(b)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			case "":
				if !f.Required {
					return nil, nil
				}
				return nil, inputErr(key, "is required")
			}
		}
		return nil, inputErr(key, "must be true or false, got %s", describe(x))
	case spec.RowRef:
		if m, ok := x.(map[string]any); ok {
			if len(m) == 0 {
				return nil, inputErr(key, "must be a GUID or an alternate key (a context of column values), got an empty context")
			}
			return m, nil
		}
		return bindField(&spec.Field{Kind: spec.GUID, Required: f.Required}, key, x)
	case spec.Auth:
		if x == nil && !f.Required {
			return nil, nil
		}
		// checked here, in the field's turn; the organization's default scope is added by the caller
		c, scrub, err := credentials(x, "")
		if err != nil {
			return nil, err
		}
		return boundAuth{c, scrub}, nil
	}
	return nil, inputErr(key, "has a kind the worker cannot bind (%d)", f.Kind)
}

// describe names a value in a message: quoted when a string, else its type.
func describe(x any) string {
	if s, ok := x.(string); ok {
		return excerpt(s, 40)
	}
	return typeName(x)
}

// boundInt binds a whole number within the field's bounds or choices.
func boundInt(f *spec.Field, key string, x any) (any, error) {
	n, err := integerOf(key, x, -1<<62)
	if err != nil {
		return nil, err
	}
	if n == -1<<62 { // absent, and no default
		if f.Required {
			return nil, inputErr(key, "is required")
		}
		return nil, nil
	}
	if len(f.Choices) > 0 {
		for _, c := range f.Choices {
			if c.Value == strconv.FormatInt(n, 10) {
				return n, nil
			}
		}
		return nil, inputErr(key, "must be %s, got %d", f.OneOf(), n)
	}
	if n < f.Min || n > f.Max {
		return nil, inputErr(key, "must be between %d and %d%s, got %d", f.Min, f.Max, unit(f), n)
	}
	if n == 0 && f.ZeroIsDefault {
		return declaredInt(f), nil
	}
	return n, nil
}

func unit(f *spec.Field) string {
	if f.Unit == "" {
		return ""
	}
	return " " + f.Unit
}

// declaredInt is an Int field's declared default; declarations are checked by tests, so a
// default that does not parse is a programming error.
func declaredInt(f *spec.Field) int64 {
	n, err := strconv.ParseInt(f.Default, 10, 64)
	if err != nil {
		panic("connector: " + f.Name + "'s default " + f.Default + " is not a whole number")
	}
	return n
}

// jsonObject binds a context or a JSON object given as text to JSON text (what Dataverse takes
// for a desktop flow's inputs).
func jsonObject(f *spec.Field, key string, x any) (any, error) {
	var text string
	switch in := x.(type) {
	case nil:
		if f.Required {
			return nil, inputErr(key, "is required")
		}
		return nil, nil
	case string:
		if strings.TrimSpace(in) == "" {
			if f.Required {
				return nil, inputErr(key, "is required")
			}
			return nil, nil
		}
		obj, err := decodeJSON(in, key)
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) && ie.Field == key {
				ie.Msg = "must be a JSON object (as a context or a JSON string): " + strings.TrimPrefix(ie.Msg, "is ")
			}
			return nil, err
		}
		if _, ok := obj.(map[string]any); !ok {
			// "null", a list or a number would reach the flow as its inputs: Dataverse takes an object.
			return nil, inputErr(key, "must be a JSON object (as a context or a JSON string), got %s", typeName(obj))
		}
		text = in
	case map[string]any:
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, inputErr(key, "cannot be encoded as JSON: %v", err)
		}
		text = string(raw)
	default:
		return nil, inputErr(key, "must be a context or a JSON object string, got %s", typeName(in))
	}
	if f.MaxBytes > 0 && len(text) > f.MaxBytes {
		return nil, inputErr(key, "is %d bytes; Dataverse takes at most %s", len(text), spec.Size(f.MaxBytes))
	}
	return text, nil
}

// contextValue binds a context, or a JSON object given as text, to a map; nil when empty.
func contextValue(key string, x any) (map[string]any, error) {
	switch in := x.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return in, nil
	case string:
		if strings.TrimSpace(in) == "" {
			return nil, nil
		}
		obj, err := decodeJSON(in, key)
		if err != nil {
			return nil, err
		}
		if m, ok := obj.(map[string]any); ok {
			return m, nil
		}
		return nil, inputErr(key, "must be a context or a JSON object, got %s", typeName(obj))
	}
	return nil, inputErr(key, "must be a context or a JSON object, got %s", typeName(x))
}

// list binds a list of strings, or one comma-separated string, to its non-empty items.
func list(f *spec.Field, key string, x any) (any, error) {
	var items []string
	switch in := x.(type) {
	case nil:
	case string:
		for _, s := range strings.Split(in, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	case []any:
		for i, e := range in {
			s, ok := e.(string)
			if !ok {
				return nil, inputErr(key+"["+strconv.Itoa(i)+"]", "must be a string, got %s", typeName(e))
			}
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		return nil, inputErr(key, "must be a list of strings or a comma-separated string, got %s", typeName(x))
	}
	if len(items) == 0 {
		if f.Required {
			return nil, inputErr(key, "is required")
		}
		return nil, nil
	}
	return items, nil
}

// orgURL binds a Dataverse organization's root URL, without a trailing slash.
func orgURL(key string, x any, required bool) (any, error) {
	s, err := strOf(key, x, required)
	if s == "" || err != nil {
		return nil, err
	}
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, inputErr(key, "must be an absolute URL such as https://org.crm.dynamics.com")
	}
	if u.RawQuery != "" || (u.Path != "" && u.Path != "/") {
		return nil, inputErr(key, "must be the organization's root URL, without path or query")
	}
	if egress.IsFlowHost(u) {
		// allowed for cloud flows' triggers, where anyone can host one: a Dataverse token
		// must never go there
		return nil, inputErr(key, "must be a Dataverse organization's URL, not a cloud flow's host (%s)", egress.FlowHosts)
	}
	return s, nil
}
