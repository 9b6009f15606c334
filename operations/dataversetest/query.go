package dataversetest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Paging defaults of Dataverse.
const (
	DefaultPageSize = 5000
	MaxPageSize     = 5000
)

// query holds the parsed query options of a row request.
type query struct {
	sel      []*Column // nil = every column
	selNames []string
	expand   []expandItem
	filter   filterExpr
	orderBy  []orderItem
	top      int // -1 = none
	count    bool
	page     int // 1-based, from $skiptoken
	raw      url.Values
}

type expandItem struct {
	nav      string
	np       navProp
	sel      []*Column
	selNames []string
}

type orderItem struct {
	col  *Column
	desc bool
}

// splitOutside splits s at sep outside quotes and parentheses.
func splitOutside(s string, sep byte) []string {
	var parts []string
	depth, inQuote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote != 0:
			if c == inQuote {
				inQuote = 0
			}
		case c == '\'' || c == '"':
			inQuote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unsupportedOption(name string) *odataError {
	return newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("The query parameter '%s' is not supported by the emulator.", name))
}

// parseQuery reads the query options of a retrieve (list=false) or a list.
func (e *Emulator) parseQuery(t *table, q url.Values, list bool) (query, *odataError) {
	out := query{top: -1, page: 1, raw: q}
	for k := range q {
		switch k {
		case "$select", "$expand":
		case "$filter", "$orderby", "$top", "$count", "$skiptoken":
			if !list {
				return out, unsupportedOption(k)
			}
		case "$skip":
			return out, newError(http.StatusBadRequest, CodeQuerySyntax, "The query parameter $skip is not supported")
		default:
			if strings.HasPrefix(k, "$") {
				return out, unsupportedOption(k)
			}
		}
	}
	var err *odataError
	if sel, ok := q["$select"]; ok {
		if out.sel, out.selNames, err = parseSelectColumns(t, strings.Join(sel, ",")); err != nil {
			return out, err
		}
	}
	if ex := q.Get("$expand"); ex != "" {
		for _, item := range splitOutside(ex, ',') {
			it, err := parseExpandItem(e, t, strings.TrimSpace(item))
			if err != nil {
				return out, err
			}
			out.expand = append(out.expand, it)
		}
	}
	if f, ok := q["$filter"]; ok {
		if out.filter, err = parseFilter(strings.Join(f, " ")); err != nil {
			return out, err
		}
		if err = checkFilter(t, out.filter); err != nil {
			return out, err
		}
	}
	if ob := q.Get("$orderby"); ob != "" {
		for _, item := range strings.Split(ob, ",") {
			f := strings.Fields(item)
			if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "asc" && f[1] != "desc") {
				return out, syntaxError(0, ob)
			}
			c, ok := t.property(f[0])
			if !ok {
				return out, unknownProperty(t, f[0])
			}
			out.orderBy = append(out.orderBy, orderItem{col: c, desc: len(f) == 2 && f[1] == "desc"})
		}
	}
	if top, ok := q["$top"]; ok {
		n, perr := strconv.Atoi(strings.Join(top, ""))
		if perr != nil || n < 0 {
			return out, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", strings.Join(top, "")))
		}
		out.top = n
	}
	if c, ok := q["$count"]; ok {
		switch strings.Join(c, "") {
		case "true":
			out.count = true
		case "false":
		default:
			return out, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("'%s' is not a valid count option.", strings.Join(c, "")))
		}
	}
	if st, ok := q["$skiptoken"]; ok {
		m := pageNumberRE.FindStringSubmatch(strings.Join(st, ""))
		n := 0
		if m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		if n < 1 {
			return out, newError(http.StatusBadRequest, CodeQuerySyntax, "The $skiptoken is not a valid paging cookie.")
		}
		out.page = n
	}
	return out, nil
}

var pageNumberRE = regexp.MustCompile(`pagenumber="([0-9]{1,9})"`)

// parseSelectColumns reads a $select list against t.
func parseSelectColumns(t *table, sel string) ([]*Column, []string, *odataError) {
	var cols []*Column
	var names []string
	for _, c := range strings.Split(sel, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, nil, newError(http.StatusBadRequest, CodeQuerySyntax, "Bad Request - Error in query syntax.")
		}
		col, ok := t.property(c)
		if !ok {
			return nil, nil, unknownProperty(t, c)
		}
		if !containsString(names, c) {
			cols, names = append(cols, col), append(names, c)
		}
	}
	return cols, names, nil
}

// parseExpandItem reads "nav" or "nav($select=a,b)" for a single-valued
// navigation property of t.
func parseExpandItem(e *Emulator, t *table, item string) (expandItem, *odataError) {
	name, opts := item, ""
	if i := strings.IndexByte(item, '('); i >= 0 {
		if !strings.HasSuffix(item, ")") {
			return expandItem{}, syntaxError(i, item)
		}
		name, opts = item[:i], item[i+1:len(item)-1]
	}
	np, ok := t.navs[name]
	if !ok {
		return expandItem{}, unknownProperty(t, name)
	}
	it := expandItem{nav: name, np: np}
	target := e.tables[np.targets[0]] // $select is checked against the first target
	for _, o := range splitOutside(opts, ';') {
		if strings.TrimSpace(o) == "" {
			continue
		}
		k, v, _ := strings.Cut(o, "=")
		if k != "$select" {
			return it, unsupportedOption(k + " inside $expand")
		}
		var err *odataError
		if it.sel, it.selNames, err = parseSelectColumns(target, v); err != nil {
			return it, err
		}
	}
	return it, nil
}

// contextCols is the column list of an @odata.context URL.
func (q query) contextCols() string {
	parts := append([]string(nil), q.selNames...)
	for _, x := range q.expand {
		parts = append(parts, x.nav+"("+strings.Join(x.selNames, ",")+")")
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// orderRows sorts rows by q's $orderby (nulls first ascending, as SQL
// Server sorts), keeping creation order among equals.
func orderRows(rows []*row, items []orderItem) {
	sort.SliceStable(rows, func(i, j int) bool {
		for _, it := range items {
			c := compareStored(rows[i].vals[it.col.LogicalName], rows[j].vals[it.col.LogicalName])
			if c == 0 {
				continue
			}
			if it.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
}

// compareStored orders two stored values of one column; null is lowest.
func compareStored(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch av := a.(type) {
	case string:
		bv, _ := b.(string)
		return strings.Compare(strings.ToLower(av), strings.ToLower(bv))
	case bool:
		bv, _ := b.(bool)
		switch {
		case av == bv:
			return 0
		case !av:
			return -1
		}
		return 1
	case lookupRef:
		bv, _ := b.(lookupRef)
		return strings.Compare(av.id, bv.id)
	}
	af, _ := toFloat(a)
	bf, _ := toFloat(b)
	return cmpFloat(af, bf)
}

// prefer is the parsed Prefer header.
type prefer struct {
	representation bool
	maxPageSize    int    // 0 = not asked
	annotations    string // the include-annotations value, "" = none
}

func parsePrefer(h http.Header) (prefer, *odataError) {
	var p prefer
	for _, part := range splitOutside(strings.Join(h.Values("Prefer"), ","), ',') {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.TrimSpace(k) {
		case "return":
			p.representation = strings.TrimSpace(v) == "representation"
		case "odata.maxpagesize":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return p, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("The value '%s' of the odata.maxpagesize preference is not a positive integer.", v))
			}
			if n <= MaxPageSize { // documented: larger requests are ignored
				p.maxPageSize = n
			}
		case "odata.include-annotations":
			p.annotations = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return p, nil
}

// wants reports whether the include-annotations preference asks for term
// (patterns: "*", "Namespace.*", a full term; "-term" excludes).
func (p prefer) wants(term string) bool {
	if p.annotations == "" {
		return false
	}
	want := false
	for _, pat := range strings.Split(p.annotations, ",") {
		pat = strings.TrimSpace(pat)
		neg := strings.HasPrefix(pat, "-")
		pat = strings.TrimPrefix(pat, "-")
		match := pat == "*" || pat == term || (strings.HasSuffix(pat, ".*") && strings.HasPrefix(term, strings.TrimSuffix(pat, "*")))
		if match {
			if neg {
				return false
			}
			want = true
		}
	}
	return want
}

// Annotation terms.
const (
	annFormatted   = "OData.Community.Display.V1.FormattedValue"
	annLookupTable = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annNavigation  = "Microsoft.Dynamics.CRM.associatednavigationproperty"
)

// renderRowLocked renders a row as Dataverse answers it: @odata.etag, the
// (selected) properties with their annotations, expanded lookups, and the
// primary key last.
func (e *Emulator) renderRowLocked(t *table, r *row, cols []*Column, expand []expandItem, p prefer, withETag bool) orderedObject {
	var obj orderedObject
	if withETag {
		obj = append(obj, kv{"@odata.etag", r.etag()})
	}
	if cols == nil {
		for _, n := range t.order {
			cols = append(cols, t.cols[n])
		}
	}
	for _, c := range cols {
		if c.LogicalName == t.PrimaryIDAttribute {
			continue
		}
		prop := propName(c)
		v := r.vals[c.LogicalName]
		if ref, ok := v.(lookupRef); ok {
			if p.wants(annFormatted) {
				obj = append(obj, kv{prop + "@" + annFormatted, e.primaryNameLocked(ref)})
			}
			if p.wants(annNavigation) {
				obj = append(obj, kv{prop + "@" + annNavigation, navFor(t, c, ref.table)})
			}
			if p.wants(annLookupTable) {
				obj = append(obj, kv{prop + "@" + annLookupTable, ref.table})
			}
			obj = append(obj, kv{prop, ref.id})
			continue
		}
		if v != nil && p.wants(annFormatted) {
			if f, ok := formatValue(c, v); ok {
				obj = append(obj, kv{prop + "@" + annFormatted, f})
			}
		}
		obj = append(obj, kv{prop, jsonValue(c, v)})
	}
	for _, x := range expand {
		var sub any
		if ref, ok := r.vals[x.np.column].(lookupRef); ok && x.np.binds(ref.table) {
			if tr, found := e.store.get(ref.table, ref.id); found {
				sub = e.renderRowLocked(e.tables[ref.table], tr, x.sel, nil, p, true)
			}
		}
		obj = append(obj, kv{x.nav, sub})
	}
	return append(obj, kv{t.PrimaryIDAttribute, r.id})
}

// navFor is the navigation property of column c that points at target.
func navFor(t *table, c *Column, target string) string {
	for nav, np := range t.navs {
		if np.column == c.LogicalName && np.binds(target) {
			return nav
		}
	}
	return c.LogicalName
}

// jsonValue is a stored value as JSON: decimals keep their fraction.
func jsonValue(c *Column, v any) any {
	if f, ok := v.(float64); ok && c.Type == TypeMoney {
		return jsonNumber(strconv.FormatFloat(f, 'f', 4, 64)) // Dataverse writes money with 4 decimals
	}
	return v
}

// jsonNumber is a number written as is.
type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }
