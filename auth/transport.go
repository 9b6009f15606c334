package auth

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxDrain is how much of a rejected response's body is read so that its
// connection can be reused; a longer body closes the connection instead.
const maxDrain = 64 << 10

// Transport is an http.RoundTripper that authenticates each request with
// Credentials: it sets "Authorization: Bearer <token>" on a clone of the
// request (the caller's request is never modified).
//
// When the resource server answers 401 and the credentials are client
// credentials, Transport drops that token from the Cache and sends the
// request once more with a new token; the second answer is returned as it is.
// The retry needs a body it can send again: requests without a body, or
// with GetBody set (http.NewRequest sets it for bytes, strings and
// bytes.Buffer readers). Otherwise, and for bearer credentials (nothing to
// refresh), the 401 is returned.
//
// A Transport is cheap: build one per job around a shared Base and Cache.
type Transport struct {
	Base        http.RoundTripper // nil: http.DefaultTransport
	Cache       *Cache            // required for client credentials
	Credentials Credentials
	// OnToken, when set, is told every access token the transport sends, so the caller can
	// keep it out of messages (a server may echo the Authorization header in an error).
	OnToken func(token string)
}

var errNoCache = errors.New("auth.Transport: Cache is nil")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := t.token(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	t.sent(token)
	resp, err := t.base().RoundTrip(withToken(req, req.Body, token))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !t.Credentials.normalize().clientCredentials() {
		return resp, err
	}

	// The token was rejected: drop it even if this request cannot be
	// retried, so that the next request gets a fresh one.
	t.Cache.Invalidate(t.Credentials, token)
	body := req.Body
	if body != nil && body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // the body is spent: cannot retry
		}
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	drain(resp)
	token, err = t.token(req)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	t.sent(token)
	return t.base().RoundTrip(withToken(req, body, token))
}

func (t *Transport) sent(token string) {
	if t.OnToken != nil {
		t.OnToken(token)
	}
}

func (t *Transport) token(req *http.Request) (string, error) {
	if t.Cache == nil {
		if t.Credentials.normalize().clientCredentials() {
			return "", errNoCache
		}
		// Bearer credentials need no cache; Token handles a nil receiver's
		// bearer path without touching it.
	}
	token, err := t.Cache.Token(req.Context(), t.Credentials)
	if err != nil {
		return "", fmt.Errorf("authenticating request: %w", err)
	}
	return token, nil
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// withToken returns a clone of req with body and the bearer token.
func withToken(req *http.Request, body io.ReadCloser, token string) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// drain reads a little of resp's body and closes it, so that the connection
// can carry the retry.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	resp.Body.Close()
}

// closeBody closes req's body, as a RoundTripper must even when it fails.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
