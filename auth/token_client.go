package auth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// tokenClient returns the client token requests are sent with: a copy of
// client (nil: a new client on http.DefaultTransport) that follows no
// redirects, which would re-post the client credentials to another URL, and
// counts every request it sends in sent.
func tokenClient(client *http.Client, sent *atomic.Int64) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Transport = countRequests{base: c.Transport, n: sent}
	return &c
}

// countRequests counts the requests it passes on.
type countRequests struct {
	base http.RoundTripper // nil: http.DefaultTransport
	n    *atomic.Int64
}

func (t countRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return orDefault(t.base).RoundTrip(req)
}

// exchange is the transport of one token request sent by the oauth2
// library. It adds what the library does not send (Accept: application/json)
// and keeps what the library does not always return: the Basic credentials
// it sent (to scrub them from an echo), and the answer's status, header and
// body as far as the library read it (the library reports a 2xx answer it
// cannot use as a plain error without them). One exchange serves one
// request, on the caller's goroutine.
type exchange struct {
	base    http.RoundTripper // nil: http.DefaultTransport
	sent    bool
	basic   string         // the Authorization header's Basic credentials, "" if none
	resp    *http.Response // the answer; its Body is the library's to read
	body    bytes.Buffer   // what the library read of the answer's body
	readErr error          // why reading the body failed, nil at EOF
}

func (x *exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	x.sent = true
	if basic, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Basic "); ok {
		x.basic = basic
	}
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/json")
	resp, err := orDefault(x.base).RoundTrip(req)
	if err != nil {
		return nil, err
	}
	x.resp = resp
	resp.Body = &teeBody{body: resp.Body, x: x}
	return resp, nil
}

// teeBody copies what is read from an answer's body into its exchange.
type teeBody struct {
	body io.ReadCloser
	x    *exchange
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if b.x.body.Len() < maxTokenBody {
		b.x.body.Write(p[:min(n, maxTokenBody-b.x.body.Len())])
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.x.readErr = err
	}
	return n, err
}

func (b *teeBody) Close() error { return b.body.Close() }

func orDefault(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}
