package operations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultSchemaTTL is how long a desktop flow's input schema is used before it is read again.
const DefaultSchemaTTL = 5 * time.Minute

// InputSchema is what a desktop flow declares of its inputs. A nil *InputSchema is a flow
// without a schema (Dataverse has no inputs file for it): any inputs pass.
type InputSchema struct {
	WorkflowID string
	Vars       []Variable // in name order
}

// checkedTypes are the schema types Check enforces; a variable of another type takes any value.
var checkedTypes = map[string]bool{"string": true, "number": true, "integer": true, "boolean": true, "object": true, "array": true}

// Check reports the first input that the schema refuses, as an *InputError on runInputs.<name>
// saying what is expected: a name the flow does not declare, a required input that is missing,
// a value of another JSON type. It names inputs and types, never a value: inputs may be secret.
func (s *InputSchema) Check(inputs map[string]any) error {
	if s == nil {
		return nil
	}
	byName := make(map[string]*Variable, len(s.Vars))
	for i := range s.Vars {
		byName[s.Vars[i].Name] = &s.Vars[i]
	}
	names := make([]string, 0, len(inputs))
	for k := range inputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v := byName[name]
		if v == nil {
			return &InputError{Field: "runInputs." + truncate(name, 80), Msg: fmt.Sprintf("desktop flow %s has no input of that name; its inputs are %s", s.WorkflowID, s.describe())}
		}
		if got := valueType(inputs[name], v.Type); checkedTypes[v.Type] && got != v.Type {
			return &InputError{Field: "runInputs." + name, Msg: fmt.Sprintf("must be %s (desktop flow %s's input schema), got %s", article(v.Type), s.WorkflowID, article(got))}
		}
	}
	for _, v := range s.Vars {
		if _, ok := inputs[v.Name]; v.Required && !ok {
			return &InputError{Field: "runInputs." + v.Name, Msg: fmt.Sprintf("is required by desktop flow %s: %s", s.WorkflowID, article(v.Type))}
		}
	}
	return nil
}

// describe lists the declared inputs with their types, at most 20.
func (s *InputSchema) describe() string {
	if len(s.Vars) == 0 {
		return "none"
	}
	var parts []string
	for i, v := range s.Vars {
		if i == 20 {
			parts = append(parts, fmt.Sprintf("and %d more", len(s.Vars)-20))
			break
		}
		d := v.Name + " (" + v.Type
		if v.Required {
			d += ", required"
		}
		parts = append(parts, d+")")
	}
	return strings.Join(parts, ", ")
}

func article(t string) string {
	switch t {
	case "":
		return "any value"
	case "null":
		return "null"
	case "integer", "object", "array":
		return "an " + t
	}
	return "a " + t
}

// valueType names the JSON type of a decoded value; a whole number is an integer when want is.
func valueType(x any, want string) string {
	var f float64
	switch n := x.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return "number"
		}
	case float64:
		f = n
	case int64:
		f = float64(n)
	case int:
		f = float64(n)
	default:
		return fmt.Sprintf("%T", x)
	}
	if want == "integer" && f == math.Trunc(f) {
		return "integer"
	}
	return "number"
}

// DecodeInputs reads RunDesktopFlow's inputs text as Check wants it (numbers kept exact); ""
// is no inputs.
func DecodeInputs(text string) (map[string]any, error) {
	if strings.TrimSpace(text) == "" {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, &InputError{Field: "runInputs", Msg: "is not a JSON object"}
	}
	return m, nil
}

// Schemas caches desktop flows' input schemas per organization and flow for all jobs: a
// burst of triggers of one flow reads its schema once per TTL (concurrent reads of a missing
// or expired entry share one request). The zero value is ready to use.
type Schemas struct {
	TTL time.Duration // default DefaultSchemaTTL
	// Refresh is how old a cached schema must be before inputs it refuses make it read again
	// (default 1 minute): a flow republished with a new input is seen at once, a wrong input
	// does not read the schema on every job.
	Refresh time.Duration
	Now     func() time.Time

	mu      sync.Mutex
	entries map[string]schemaEntry
	loads   map[string]*schemaLoad
	// waiting, when set (tests), is called as a read starts waiting for another's.
	waiting func()
}

type schemaEntry struct {
	schema *InputSchema
	loaded time.Time
}

type schemaLoad struct {
	done  chan struct{}
	entry schemaEntry
	err   error
}

func schemaKey(org, workflowID string) string {
	return strings.ToLower(strings.TrimRight(org, "/")) + "|" + strings.ToLower(workflowID)
}

// Check checks a run's inputs against desktop flow workflowID's input schema (see
// InputSchema.Check). The schema comes from the cache while it is younger than TTL; inputs it
// refuses read it again first when it is older than Refresh.
func (s *Schemas) Check(ctx context.Context, c Caller, org, workflowID string, inputs map[string]any) error {
	e, err := s.entry(ctx, c, org, workflowID, false)
	if err != nil {
		return err
	}
	cerr := e.schema.Check(inputs)
	if cerr == nil || s.now().Sub(e.loaded) < s.refresh() {
		return cerr
	}
	if e, err = s.entry(ctx, c, org, workflowID, true); err != nil {
		return err
	}
	return e.schema.Check(inputs)
}

// entry returns the cached schema of a flow, reading it when absent, expired or reload is set.
func (s *Schemas) entry(ctx context.Context, c Caller, org, workflowID string, reload bool) (schemaEntry, error) {
	key := schemaKey(org, workflowID)
	s.mu.Lock()
	if e, ok := s.entries[key]; ok && !reload && s.now().Sub(e.loaded) < s.ttl() {
		s.mu.Unlock()
		return e, nil
	}
	if l := s.loads[key]; l != nil {
		s.mu.Unlock()
		if s.waiting != nil {
			s.waiting()
		}
		select {
		case <-l.done:
		case <-ctx.Done():
			return schemaEntry{}, fmt.Errorf("reading the input schema of desktop flow %s: %w", workflowID, ctx.Err())
		}
		if l.err == nil {
			return l.entry, nil
		}
		// The read failed with another job's credentials or deadline: read with this one's.
		return s.read(ctx, c, org, workflowID, key, nil)
	}
	l := &schemaLoad{done: make(chan struct{})}
	if s.loads == nil {
		s.loads = map[string]*schemaLoad{}
	}
	s.loads[key] = l
	s.mu.Unlock()
	return s.read(ctx, c, org, workflowID, key, l)
}

func (s *Schemas) read(ctx context.Context, c Caller, org, workflowID, key string, l *schemaLoad) (e schemaEntry, err error) {
	if l != nil {
		defer func() {
			l.entry, l.err = e, err
			s.mu.Lock()
			delete(s.loads, key)
			s.mu.Unlock()
			close(l.done)
		}()
	}
	res, err := c.Do(ctx, schemaCall(org, workflowID, "inputs"))
	var he *HTTPError
	switch {
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		// No inputs file (a flow without inputs, or no such workflow: RunDesktopFlow says which).
		e.schema = nil
	case err != nil:
		return schemaEntry{}, fmt.Errorf("reading the input schema of desktop flow %s: %w", workflowID, err)
	default:
		e.schema = &InputSchema{WorkflowID: workflowID, Vars: ParseSchema(res.Body)}
	}
	e.loaded = s.now()
	s.mu.Lock()
	if s.entries == nil {
		s.entries = map[string]schemaEntry{}
	}
	s.entries[key] = e
	s.mu.Unlock()
	return e, nil
}

func (s *Schemas) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultSchemaTTL
}

func (s *Schemas) refresh() time.Duration {
	if s.Refresh > 0 {
		return s.Refresh
	}
	return time.Minute
}

func (s *Schemas) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
