package egress

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/operations"
)

// answerAtOnce is a base transport that answers 200 without any network, so that what the
// benchmark below measures is the stack's own work.
type answerAtOnce struct{}

func (answerAtOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	closeRequestBody(req)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// BenchmarkEgressStack: what the client stack of issue 11 (one RoundTripper per concern,
// Egress.Client) costs per request, over a base that answers at once: "base" is the base alone,
// "stack" a status call as Handler.send builds it (redirect, throttle, auth with a bearer
// token, limits of its identity (set high enough never to wait), timeout, metrics, sent-detection), building the stack included.
// The difference is the stack's cost per Dataverse request (docs/benchmarks.md, issue 11).
func BenchmarkEgressStack(b *testing.B) {
	const url = "https://contoso.crm.dynamics.com/api/data/v9.2/flowsessions(0d9e6c2a-1f2b-4c3d-8e4f-5a6b7c8d9e0f)?$select=statuscode"
	ctx := context.Background()
	b.Run("base", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			res, err := answerAtOnce{}.RoundTrip(req)
			if err != nil || res.StatusCode != http.StatusOK {
				b.Fatal(err)
			}
			res.Body.Close()
		}
	})
	b.Run("stack", func(b *testing.B) {
		e := Egress{Base: answerAtOnce{}, Tokens: auth.NewCache(&http.Client{Transport: answerAtOnce{}}), Limits: &Limits{Requests: 1 << 40, ExecutionTime: 1 << 62},
			Observe: func(operations.Op, int, time.Duration) {}, OnThrottle: func(time.Duration, bool) {}}
		deadline := time.Now().Add(time.Hour)
		creds := &auth.Credentials{Type: auth.TypeBearer, Token: "eyJhbGciOi.bench-token"}
		b.ReportAllocs()
		for b.Loop() {
			rt := e.Client(Route{Op: operations.OpStatus, Credentials: creds, OnToken: func(string) {},
				Identity: "https://contoso.crm.dynamics.com|bearer", Timeout: 20 * time.Second,
				Deadline: func() time.Time { return deadline }})
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			res, err := rt.Do(req)
			if err != nil || res.StatusCode != http.StatusOK {
				b.Fatal(err)
			}
			res.Body.Close()
		}
	})
}
