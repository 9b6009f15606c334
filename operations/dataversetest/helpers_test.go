package dataversetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	wfID        = "f091ffab-58bb-4630-a115-659453d56f59"
	otherWFID   = "eafba1a2-e8d4-4efa-b549-11d4dfd9a3d1"
	staticToken = "test-token"
	clientID    = "11111111-2222-3333-4444-555555555555"
	secret      = "s3cr3t~Value.that.must.never.leak"
)

// fakeClock is a settable Options.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 6, 16, 12, 54, 40, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start runs an emulator for one test with a static token and a client.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Tokens == nil {
		opts.Tokens = []string{staticToken}
	}
	if opts.Clients == nil {
		opts.Clients = map[string]string{clientID: secret}
	}
	if opts.Flows == nil {
		opts.Flows = map[string]Flow{wfID: {}}
	}
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// answer is an HTTP answer read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// odata decodes the body as an OData error.
func (a answer) odata(t *testing.T) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("body is not an OData error: %v: %s", err, a.body)
	}
	return e.Error.Code, e.Error.Message
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, a.body)
	}
	return m
}

// call sends one request; body is sent as is when it is a string or []byte,
// else JSON-encoded. An empty token sends no Authorization header.
func call(t *testing.T, s *Server, method, path, token string, body any) answer {
	t.Helper()
	return callCtx(context.Background(), t, s, method, path, token, body)
}

func callCtx(ctx context.Context, t *testing.T, s *Server, method, path, token string, body any) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}
		}
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func runPath(id string) string {
	return "/api/data/v9.2/workflows(" + id + ")/Microsoft.Dynamics.CRM.RunDesktopFlow"
}

func sessionPath(id string) string { return "/api/data/v9.2/flowsessions(" + id + ")" }

// trigger starts a run of wfID and returns its flowsession id.
func trigger(t *testing.T, s *Server, body map[string]any) string {
	t.Helper()
	if body == nil {
		body = map[string]any{"runMode": "unattended", "connectionName": "conn1"}
	}
	a := call(t, s, http.MethodPost, runPath(wfID), staticToken, body)
	if a.status != http.StatusOK {
		t.Fatalf("RunDesktopFlow: %d %s", a.status, a.body)
	}
	id, _ := a.json(t)["flowsessionId"].(string)
	if id == "" {
		t.Fatalf("no flowsessionId in %s", a.body)
	}
	return id
}

// getSession reads the row of run id.
func getSession(t *testing.T, s *Server, id, query string) map[string]any {
	t.Helper()
	a := call(t, s, http.MethodGet, sessionPath(id)+query, staticToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET flowsession: %d %s", a.status, a.body)
	}
	return a.json(t)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
