package operations

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedCatalog answers EntityDefinitions with one table; the first read waits for release, and
// every read after it (a job that did not wait for the first) is reported on extra.
type gatedCatalog struct {
	reads   atomic.Int32
	release chan struct{}
	extra   chan struct{}
	fail    bool // the first read fails (another job's credentials were refused)
}

func (g *gatedCatalog) Do(ctx context.Context, _ Call) (*Response, error) {
	if g.reads.Add(1) == 1 {
		<-g.release
		if g.fail {
			return nil, errors.New("401 for the first job's token")
		}
	} else {
		select {
		case g.extra <- struct{}{}:
		default:
		}
	}
	return &Response{Status: 200, Body: map[string]any{"value": []any{
		map[string]any{"LogicalName": "lead", "EntitySetName": "leads", "PrimaryIdAttribute": "leadid"}}}}, nil
}

// A burst of jobs on a cold cache reads the table list once: the jobs that arrive while it is
// being read wait for it instead of each reading EntityDefinitions (a large answer that also
// counts against Dataverse's service protection limits). When that read fails, each waiting job
// reads with its own credentials instead of inheriting another job's error.
func TestConcurrentResolutionsShareOneTableListRead(t *testing.T) {
	for _, fail := range []bool{false, true} {
		g := &gatedCatalog{release: make(chan struct{}), extra: make(chan struct{}, 1), fail: fail}
		const n = 20
		var waiting sync.WaitGroup
		waiting.Add(n - 1)
		ts := &Tables{waiting: waiting.Done}
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := ts.Resolve(context.Background(), g, "https://org.example", "leads")
				errs <- err
			}()
		}
		allWaiting := make(chan struct{})
		go func() { waiting.Wait(); close(allWaiting) }()
		select {
		case <-allWaiting:
		case <-g.extra:
			t.Fatalf("a second EntityDefinitions read started while the first was in flight")
		case <-time.After(10 * time.Second):
			t.Fatalf("after 10 s, %d reads and not all %d other jobs waiting for the first", g.reads.Load(), n-1)
		}
		close(g.release)
		failed := 0
		for range n {
			if err := <-errs; err != nil {
				failed++
			}
		}
		want := int32(1)
		if fail {
			want = 1 + (n - 1) // every waiting job reads again with its own credentials
		}
		if failed != map[bool]int{false: 0, true: 1}[fail] || g.reads.Load() != want {
			t.Fatalf("first read fails=%v: %d reads, %d jobs failed; want %d reads and only the first job's read failing", fail, g.reads.Load(), failed, want)
		}
	}
}

// pager answers EntityDefinitions with the contact table and every list request with page(call).
type pager struct {
	lists int
	page  func(c Call) map[string]any
}

func (p *pager) Do(_ context.Context, c Call) (*Response, error) {
	if strings.Contains(c.URL, "/EntityDefinitions") {
		return &Response{Status: 200, Body: map[string]any{"value": []any{map[string]any{"LogicalName": "contact", "EntitySetName": "contacts", "PrimaryIdAttribute": "contactid"}}}}, nil
	}
	p.lists++
	return &Response{Status: 200, Body: p.page(c)}, nil
}

// The organization URL as a modeler types it (any case, an explicit default port) and the next
// link as Dataverse writes it (its canonical host) are the same Web API: the link is followed.
// A link to another host, port, scheme or path, or with user info, is refused as an answer the
// worker cannot use (an *AnswerError, permanent), after one request.
func TestListRowsNextLinkMustStayOnTheOrganization(t *testing.T) {
	const link = "https://contoso.crm.dynamics.com/api/data/v9.2/contacts?$skiptoken=x"
	for _, c := range []struct {
		org, link string
		follow    bool
	}{
		{"https://Contoso.crm.dynamics.com", link, true},
		{"https://contoso.crm.dynamics.com:443/", link, true},
		{"HTTPS://contoso.crm.dynamics.com", link, true},
		{"https://contoso.crm.dynamics.com", "https://CONTOSO.crm.dynamics.com/API/data/v9.2/contacts?$skiptoken=x", true},
		{"https://contoso.crm.dynamics.com", "https://evil.crm.dynamics.com/api/data/v9.2/contacts?$skiptoken=x", false},
		{"https://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com:8443/api/data/v9.2/contacts", false},
		{"https://contoso.crm.dynamics.com", "http://contoso.crm.dynamics.com/api/data/v9.2/contacts", false},
		{"https://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com/other/contacts", false},
		{"https://contoso.crm.dynamics.com", "https://x@contoso.crm.dynamics.com/api/data/v9.2/contacts", false},
		{"https://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com.evil.example/api/data/v9.2/contacts", false},
	} {
		p := &pager{page: func(call Call) map[string]any {
			if strings.Contains(call.URL, "skiptoken") || call.URL == c.link {
				return map[string]any{"value": []any{map[string]any{"n": 2}}}
			}
			return map[string]any{"value": []any{map[string]any{"n": 1}}, "@odata.nextLink": c.link}
		}}
		r := &Rows{Client: p, Org: c.org, Tables: &Tables{}}
		res, err := r.ListRows(context.Background(), ListRowsRequest{Table: "contact"})
		var ae *AnswerError
		switch {
		case c.follow && (err != nil || res["count"] != int64(2) || p.lists != 2):
			t.Errorf("org %s, link %s: %v, %v after %d requests; want both pages", c.org, c.link, res, err, p.lists)
		case !c.follow && (!errors.As(err, &ae) || p.lists != 1):
			t.Errorf("org %s, link %s: %v after %d requests; want an AnswerError after 1", c.org, c.link, err, p.lists)
		}
	}
}

// A server whose pages link back to a page already read, or that answers empty pages linking on
// forever, is refused (an *AnswerError) instead of read until the job's deadline.
func TestListRowsPagingThatDoesNotEndIsRefused(t *testing.T) {
	const org = "https://o.crm.dynamics.com"
	first := org + "/api/data/v9.2/contacts"
	loop := &pager{page: func(Call) map[string]any {
		return map[string]any{"value": []any{map[string]any{"n": 1}}, "@odata.nextLink": first}
	}}
	n := 0
	endless := &pager{page: func(Call) map[string]any {
		n++
		return map[string]any{"value": []any{}, "@odata.nextLink": first + "?$skiptoken=" + strconv.Itoa(n)}
	}}
	for name, p := range map[string]*pager{"a link back to the first page": loop, "empty pages linking on": endless} {
		_, err := (&Rows{Client: p, Org: org, Tables: &Tables{}}).ListRows(context.Background(), ListRowsRequest{Table: "contact"})
		var ae *AnswerError
		if !errors.As(err, &ae) || p.lists > maxEmptyPages+1 {
			t.Errorf("%s: %v after %d requests; want an AnswerError after at most %d", name, err, p.lists, maxEmptyPages+1)
		}
	}
}
