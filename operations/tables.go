package operations

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// OpMetadata names the EntityDefinitions reads that table resolution makes.
const OpMetadata Op = "EntityDefinitions"

// Table is what the row operations need of a table's metadata.
type Table struct {
	LogicalName   string
	EntitySetName string
	PrimaryID     string
	// navs maps a lookup column and a target table to the navigation property that binds it
	// (regardingobjectid + lead → regardingobjectid_lead_task); nil until loaded.
	navs map[string]map[string]string
}

// Tables caches each organization's table list (EntityDefinitions), and each table's lookups,
// for all jobs. The zero value is ready to use.
type Tables struct {
	// Refresh is how old a cached list must be before a name not in it reloads it (default 1
	// minute): a table created since is found, a typo does not reload the list on every job.
	Refresh time.Duration
	Now     func() time.Time

	mu    sync.Mutex
	orgs  map[string]*catalog
	loads map[string]*load // table lists being read, by organization
	// waiting, when set (tests), is called as a resolution starts waiting for another's read.
	waiting func()
}

// load is one read of an organization's table list that concurrent resolutions share: a cold
// cache under a burst of jobs reads EntityDefinitions once, not once per job.
type load struct {
	done chan struct{}
	cat  *catalog
	err  error
}

type catalog struct {
	loaded time.Time
	byName map[string]*Table // logical and entity set names, lower-cased
	all    []*Table
}

// Caller sends one call; *Client is one.
type Caller interface {
	Do(context.Context, Call) (*Response, error)
}

// Resolve finds a table by its logical name (account) or entity set name (accounts), any case.
// A name that is no table is an *InputError on field "table" naming the closest tables.
func (ts *Tables) Resolve(ctx context.Context, c Caller, org, name string) (*Table, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, &InputError{Field: "table", Msg: "is required"}
	}
	cat, err := ts.catalog(ctx, c, org, false)
	if err != nil {
		return nil, err
	}
	if t := cat.byName[strings.ToLower(name)]; t != nil {
		return t, nil
	}
	if ts.now().Sub(cat.loaded) >= ts.refresh() {
		if cat, err = ts.catalog(ctx, c, org, true); err != nil {
			return nil, err
		}
		if t := cat.byName[strings.ToLower(name)]; t != nil {
			return t, nil
		}
	}
	return nil, &InputError{Field: "table", Msg: fmt.Sprintf("no table %q in this environment; closest: %s", truncate(name, 80), strings.Join(closest(name, cat.all, 5), ", "))}
}

func (ts *Tables) refresh() time.Duration {
	if ts.Refresh > 0 {
		return ts.Refresh
	}
	return time.Minute
}

func (ts *Tables) now() time.Time {
	if ts.Now != nil {
		return ts.Now()
	}
	return time.Now()
}

// catalog returns org's cached table list, loading it when absent or when reload is set.
func (ts *Tables) catalog(ctx context.Context, c Caller, org string, reload bool) (*catalog, error) {
	key := strings.ToLower(strings.TrimRight(org, "/"))
	ts.mu.Lock()
	if cat := ts.orgs[key]; cat != nil && !reload {
		ts.mu.Unlock()
		return cat, nil
	}
	if l := ts.loads[key]; l != nil {
		ts.mu.Unlock()
		if ts.waiting != nil {
			ts.waiting()
		}
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("reading the table list: %w", ctx.Err())
		}
		if l.err == nil {
			return l.cat, nil
		}
		// The read failed with another job's credentials or deadline: read with this one's.
		return ts.read(ctx, c, org, key, nil)
	}
	l := &load{done: make(chan struct{})}
	if ts.loads == nil {
		ts.loads = map[string]*load{}
	}
	ts.loads[key] = l
	ts.mu.Unlock()
	return ts.read(ctx, c, org, key, l)
}

// read reads org's table list and caches it; l, when not nil, is the shared read it completes.
func (ts *Tables) read(ctx context.Context, c Caller, org, key string, l *load) (cat *catalog, err error) {
	if l != nil {
		defer func() {
			l.cat, l.err = cat, err
			ts.mu.Lock()
			delete(ts.loads, key)
			ts.mu.Unlock()
			close(l.done)
		}()
	}
	q := url.Values{"$select": {"LogicalName,EntitySetName,PrimaryIdAttribute"}}
	res, err := c.Do(ctx, Call{Op: OpMetadata, Method: "GET", URL: base(org) + "/EntityDefinitions?" + q.Encode(), Header: jsonHeader(false)})
	if err != nil {
		return nil, fmt.Errorf("reading the table list: %w", err)
	}
	body, _ := res.Body.(map[string]any)
	defs, _ := body["value"].([]any)
	cat = &catalog{loaded: ts.now(), byName: map[string]*Table{}}
	for _, d := range defs {
		m, _ := d.(map[string]any)
		t := &Table{}
		t.LogicalName, _ = m["LogicalName"].(string)
		t.EntitySetName, _ = m["EntitySetName"].(string)
		t.PrimaryID, _ = m["PrimaryIdAttribute"].(string)
		if t.LogicalName == "" || t.EntitySetName == "" {
			continue // intersect and virtual tables without an entity set cannot hold rows here
		}
		cat.all = append(cat.all, t)
		cat.byName[strings.ToLower(t.LogicalName)] = t
		if _, taken := cat.byName[strings.ToLower(t.EntitySetName)]; !taken {
			cat.byName[strings.ToLower(t.EntitySetName)] = t
		}
	}
	if len(cat.all) == 0 {
		return nil, fmt.Errorf("reading the table list: EntityDefinitions answered no tables")
	}
	ts.mu.Lock()
	if ts.orgs == nil {
		ts.orgs = map[string]*catalog{}
	}
	ts.orgs[key] = cat
	ts.mu.Unlock()
	return cat, nil
}

// lookups loads t's lookup columns with their targets' navigation properties, once.
func (ts *Tables) lookups(ctx context.Context, c Caller, org string, t *Table) (map[string]map[string]string, error) {
	ts.mu.Lock()
	navs := t.navs
	ts.mu.Unlock()
	if navs != nil {
		return navs, nil
	}
	q := url.Values{
		"$select": {"LogicalName"},
		"$expand": {"ManyToOneRelationships($select=ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName)"},
	}
	u := fmt.Sprintf("%s/EntityDefinitions(LogicalName='%s')?%s", base(org), escapeKeyText(t.LogicalName), q.Encode())
	res, err := c.Do(ctx, Call{Op: OpMetadata, Method: "GET", URL: u, Header: jsonHeader(false)})
	if err != nil {
		return nil, fmt.Errorf("reading the lookups of table %s: %w", t.LogicalName, err)
	}
	body, _ := res.Body.(map[string]any)
	rels, _ := body["ManyToOneRelationships"].([]any)
	navs = map[string]map[string]string{}
	for _, r := range rels {
		m, _ := r.(map[string]any)
		col, _ := m["ReferencingAttribute"].(string)
		target, _ := m["ReferencedEntity"].(string)
		nav, _ := m["ReferencingEntityNavigationPropertyName"].(string)
		if col == "" || target == "" || nav == "" {
			continue
		}
		if navs[col] == nil {
			navs[col] = map[string]string{}
		}
		navs[col][target] = nav
	}
	ts.mu.Lock()
	t.navs = navs
	ts.mu.Unlock()
	return navs, nil
}

// closest returns up to n table names nearest to name by edit distance, nearest first.
func closest(name string, all []*Table, n int) []string {
	name = strings.ToLower(name)
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, t := range all {
		d := min(editDistance(name, strings.ToLower(t.LogicalName)), editDistance(name, strings.ToLower(t.EntitySetName)))
		cs = append(cs, cand{t.LogicalName, d})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, by bytes (table names are ASCII).
func editDistance(a, b string) int {
	if len(a) > 128 {
		a = a[:128]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
