package operations

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Operations on desktop flows themselves (not their runs), named as the template's operationType.
const (
	OpListDesktopFlows     Op = "listDesktopFlows"
	OpGetDesktopFlowSchema Op = "getDesktopFlowSchema"
)

// CategoryDesktopFlow is the workflow table's category of desktop flows.
const CategoryDesktopFlow = 6

// maxFlowPages bounds how many pages of the listing are read (5,000 flows each).
const maxFlowPages = 20

// workflowStates names the workflow table's statecode values.
var workflowStates = map[int64]string{0: "Draft", 1: "Activated", 2: "Suspended"}

// ListDesktopFlowsRequest lists an organization's desktop flows.
type ListDesktopFlowsRequest struct {
	// Filter keeps the flows whose name contains it (any case); "" keeps all.
	Filter string
	// IncludeDrafts sends MSCRM.IncludeUnpublished: true, so unpublished (Draft) flows come too.
	IncludeDrafts bool
}

// ListDesktopFlows reads the workflow rows of category 6, ordered by name, and returns
// {flows: [{name, workflowId, description, state}]} (state: Draft, Activated or Suspended).
func ListDesktopFlows(ctx context.Context, c Caller, org string, req ListDesktopFlowsRequest) (map[string]any, error) {
	filter := fmt.Sprintf("category eq %d", CategoryDesktopFlow)
	if req.Filter != "" {
		filter += " and contains(name," + quoteString(req.Filter) + ")"
	}
	q := url.Values{"$filter": {filter}, "$select": {"name,workflowid,description,statecode"}, "$orderby": {"name"}}
	h := jsonHeader(false)
	if req.IncludeDrafts {
		h.Set("MSCRM.IncludeUnpublished", "true")
	}
	flows := []any{}
	next := base(org) + "/workflows?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	for page := 0; next != "" && page < maxFlowPages; page++ {
		res, err := c.Do(ctx, Call{Op: OpListDesktopFlows, Method: http.MethodGet, URL: next, Header: h})
		if err != nil {
			return nil, err
		}
		body, _ := res.Body.(map[string]any)
		rows, _ := body["value"].([]any)
		for _, r := range rows {
			m, _ := r.(map[string]any)
			state, _ := m["statecode"].(int64)
			flows = append(flows, map[string]any{"name": m["name"], "workflowId": m["workflowid"],
				"description": m["description"], "state": workflowStates[state]})
		}
		next, _ = body["@odata.nextLink"].(string)
	}
	return map[string]any{"flows": flows}, nil
}

// quoteString is an OData string literal: single quotes doubled.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// schemaCall builds the download of a desktop flow's input or output schema.
func schemaCall(org, workflowID, column string) Call {
	return Call{Op: OpGetDesktopFlowSchema, Method: http.MethodGet,
		URL: fmt.Sprintf("%s/workflows(%s)/%s/$value", base(org), workflowID, column), Header: jsonHeader(false)}
}

// GetDesktopFlowSchema reads a desktop flow's row and its input and output schemas and returns
// {name, workflowId, inputs, outputs}, each schema as a JSON Schema (JSONSchema); a flow
// without one has null. A workflow that is not a desktop flow is an *InputError on workflowId.
func GetDesktopFlowSchema(ctx context.Context, c Caller, org, workflowID string) (map[string]any, error) {
	res, err := c.Do(ctx, Call{Op: OpGetDesktopFlowSchema, Method: http.MethodGet,
		URL: fmt.Sprintf("%s/workflows(%s)?$select=name,category", base(org), workflowID), Header: jsonHeader(false)})
	if err != nil {
		return nil, err
	}
	row, _ := res.Body.(map[string]any)
	if cat, _ := row["category"].(int64); cat != CategoryDesktopFlow {
		return nil, &InputError{Field: "workflowId", Msg: fmt.Sprintf("workflow %s (%v) is not a desktop flow: its category is %d, not %d", workflowID, row["name"], cat, CategoryDesktopFlow)}
	}
	out := map[string]any{"name": row["name"], "workflowId": workflowID}
	for _, column := range []string{"inputs", "outputs"} {
		s, err := c.Do(ctx, schemaCall(org, workflowID, column))
		var he *HTTPError
		switch {
		case errors.As(err, &he) && he.Status == http.StatusNotFound:
			out[column] = nil // no schema: the flow declares no such variables
		case err != nil:
			return nil, fmt.Errorf("reading the %s schema of desktop flow %s: %w", column, workflowID, err)
		default:
			out[column] = JSONSchema(s.Body, column == "inputs")
		}
	}
	return out, nil
}

// JSONSchema turns Dataverse's schema document ({"schema": {"type": "object", "properties":
// {name: {type, title, description, default, format, value}}}}) into a JSON Schema: each
// property's type and title, its description and format when not empty, its default (the
// default, else the value, when not empty; a number's or boolean's text parsed), and the
// schema's required list. Inputs get additionalProperties: false, as a run takes no other.
func JSONSchema(doc any, inputs bool) map[string]any {
	vars := ParseSchema(doc)
	props := map[string]any{}
	var required []any
	for _, v := range vars {
		p := map[string]any{"type": v.Type, "title": v.Title}
		if v.Description != "" {
			p["description"] = v.Description
		}
		if v.Format != "" {
			p["format"] = v.Format
		}
		if v.Default != nil {
			p["default"] = v.Default
		}
		props[v.Name] = p
		if v.Required {
			required = append(required, v.Name)
		}
	}
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	if inputs {
		out["additionalProperties"] = false
	}
	return out
}

// Variable is one input or output of a desktop flow as its schema declares it.
type Variable struct {
	Name, Type, Title, Description, Format string
	Default                                any // nil when the schema gives none
	Required                               bool
}

// ParseSchema reads the variables of a schema document, in name order. A property without a
// type has type "" (any value).
func ParseSchema(doc any) []Variable {
	m, _ := doc.(map[string]any)
	s, ok := m["schema"].(map[string]any)
	if !ok {
		s = m // a bare JSON Schema
	}
	props, _ := s["properties"].(map[string]any)
	req := map[string]bool{}
	if l, ok := s["required"].([]any); ok {
		for _, n := range l {
			if name, ok := n.(string); ok {
				req[name] = true
			}
		}
	}
	var out []Variable
	for _, name := range sortedNames(props) {
		p, _ := props[name].(map[string]any)
		v := Variable{Name: name, Required: req[name]}
		v.Type, _ = p["type"].(string)
		v.Title, _ = p["title"].(string)
		if v.Title == "" {
			v.Title = name
		}
		v.Description, _ = p["description"].(string)
		v.Format, _ = p["format"].(string)
		for _, k := range []string{"default", "value"} {
			if d := typedDefault(p[k], v.Type); d != nil {
				v.Default = d
				break
			}
		}
		out = append(out, v)
	}
	return out
}

// typedDefault is a schema's default as a value of the variable's type: nil for none or "",
// a number's or boolean's text parsed (the documented sample writes "0" for a number).
func typedDefault(d any, typ string) any {
	s, isText := d.(string)
	switch {
	case d == nil, isText && s == "":
		return nil
	case !isText:
		return d
	}
	switch typ {
	case "number", "integer":
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			if n == float64(int64(n)) {
				return int64(n)
			}
			return n
		}
	case "boolean":
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

func sortedNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
