package auth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pa-connector/pa-connector/auth/authtest"
)

// resource is a fake resource server that records what it receives.
type resource struct {
	*httptest.Server
	mu     sync.Mutex
	auths  []string
	bodies []string
}

// newResource serves status(r) for each request; nil status means 200 when
// tokens authorizes the request, else 401.
func newResource(t *testing.T, tokens *authtest.Server, status func(r *http.Request) int) *resource {
	t.Helper()
	res := &resource{}
	res.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res.mu.Lock()
		res.auths = append(res.auths, r.Header.Get("Authorization"))
		res.bodies = append(res.bodies, string(body))
		res.mu.Unlock()
		code := http.StatusUnauthorized
		switch {
		case status != nil:
			code = status(r)
		case tokens != nil && tokens.Authorized(r):
			code = http.StatusOK
		}
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri=https://login.microsoftonline.com/t/oauth2/authorize`)
		}
		w.WriteHeader(code)
		io.WriteString(w, strings.Repeat("r", 100))
	}))
	t.Cleanup(res.Close)
	return res
}

func (r *resource) seen() (auths, bodies []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auths...), append([]string(nil), r.bodies...)
}

func TestTransport(t *testing.T) {
	t.Parallel()
	always := func(code int) func(*http.Request) int { return func(*http.Request) int { return code } }
	tests := []struct {
		name          string
		bearer        bool
		status        func(*http.Request) int // nil: authorize by the token server
		revokeFirst   bool                    // the cached token is rejected (expired early)
		body          func() io.Reader        // nil: GET without body
		hideGetBody   bool                    // body cannot be sent again
		wantStatus    int
		wantResource  int // requests seen by the resource server
		wantTokenReqs int
	}{
		{name: "adds bearer token", wantStatus: 200, wantResource: 1, wantTokenReqs: 1},
		{name: "401 refreshes the token and retries once", revokeFirst: true, wantStatus: 200, wantResource: 2, wantTokenReqs: 2},
		{name: "POST body is sent again intact", revokeFirst: true, body: func() io.Reader { return strings.NewReader(`{"runMode":"attended"}`) },
			wantStatus: 200, wantResource: 2, wantTokenReqs: 2},
		{name: "bytes.Buffer body is sent again", revokeFirst: true, body: func() io.Reader { return bytes.NewBufferString("x=1") },
			wantStatus: 200, wantResource: 2, wantTokenReqs: 2},
		{name: "body that cannot be resent: 401 returned", revokeFirst: true, body: func() io.Reader { return strings.NewReader("once") },
			hideGetBody: true, wantStatus: 401, wantResource: 1, wantTokenReqs: 1},
		{name: "second 401 returned as is", status: always(401), wantStatus: 401, wantResource: 2, wantTokenReqs: 2},
		{name: "403 is not retried", status: always(403), wantStatus: 403, wantResource: 1, wantTokenReqs: 1},
		{name: "bearer adds token", bearer: true, status: always(200), wantStatus: 200, wantResource: 1},
		{name: "bearer 401 is not retried", bearer: true, status: always(401), wantStatus: 401, wantResource: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tokens := newTokenServer(t)
			res := newResource(t, tokens, tt.status)
			cache := NewCache(tokens.Client())
			creds := clientCreds(tokens)
			if tt.bearer {
				creds = Credentials{Type: TypeBearer, Token: testToken}
			}
			if tt.revokeFirst {
				if _, err := cache.Token(t.Context(), creds); err != nil {
					t.Fatal(err)
				}
				tokens.RevokeAll()
			}
			method, wantBody := http.MethodGet, ""
			var body io.Reader
			if tt.body != nil {
				method, body = http.MethodPost, tt.body()
				b, _ := io.ReadAll(tt.body())
				wantBody = string(b)
			}
			req, err := http.NewRequestWithContext(t.Context(), method, res.URL+"/api/data/v9.2/flowsessions", body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.hideGetBody {
				req.GetBody = nil
			}
			req.Header.Set("Accept", "application/json")

			client := &http.Client{Transport: &Transport{Base: res.Client().Transport, Cache: cache, Credentials: creds}}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			resp.Body.Close()

			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			auths, bodies := res.seen()
			if len(auths) != tt.wantResource {
				t.Errorf("resource saw %d requests, want %d", len(auths), tt.wantResource)
			}
			if n := len(tokens.Requests()); n != tt.wantTokenReqs {
				t.Errorf("%d token requests, want %d", n, tt.wantTokenReqs)
			}
			for i, a := range auths {
				if !strings.HasPrefix(a, "Bearer ") || len(a) < 10 {
					t.Errorf("request %d Authorization = %q, want a bearer token", i, a)
				}
				if !tt.hideGetBody && bodies[i] != wantBody {
					t.Errorf("request %d body = %q, want %q", i, bodies[i], wantBody)
				}
			}
			if tt.bearer && auths[0] != "Bearer "+testToken {
				t.Errorf("Authorization = %q, want the bearer token", auths[0])
			}
			if len(auths) == 2 && auths[0] == auths[1] {
				t.Error("retry used the rejected token")
			}
			if req.Header.Get("Authorization") != "" {
				t.Error("the caller's request was modified")
			}
			if tt.hideGetBody && cache.Len() != 0 {
				t.Error("a rejected token stayed cached because the request could not be retried")
			}
		})
	}
}

func TestTransportTokenErrors(t *testing.T) {
	t.Parallel()
	t.Run("no token: no request, body closed", func(t *testing.T) {
		t.Parallel()
		tokens := newTokenServer(t)
		res := newResource(t, tokens, nil)
		creds := clientCreds(tokens)
		creds.ClientSecret = "wrong-" + testSecret
		body := &closeRecorder{Reader: strings.NewReader("x")}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, res.URL, body)
		_, err := (&Transport{Cache: NewCache(tokens.Client()), Credentials: creds}).RoundTrip(req)

		var te *TokenError
		if !errors.As(err, &te) || te.Code != "invalid_client" || !IsPermanent(err) {
			t.Fatalf("RoundTrip error = %v, want a permanent invalid_client TokenError", err)
		}
		if !strings.HasPrefix(err.Error(), "authenticating request: token endpoint: 401 invalid_client: AADSTS7000215") {
			t.Errorf("error = %q", err)
		}
		if !body.closed {
			t.Error("request body not closed")
		}
		if auths, _ := res.seen(); len(auths) != 0 {
			t.Error("request sent without a token")
		}
		assertNoSecret(t, err.Error())
	})
	t.Run("refresh after 401 fails: token error, 401 body closed", func(t *testing.T) {
		t.Parallel()
		var calls int
		var mu sync.Mutex
		tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 1 {
				io.WriteString(w, `{"access_token":"first","expires_in":3599}`)
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		defer tokens.Close()
		first := &bodyRecorder{}
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			first.ReadCloser = io.NopCloser(strings.NewReader("denied"))
			return &http.Response{StatusCode: 401, Body: first, Request: r}, nil
		})
		creds := Credentials{Type: TypeClientCredentials, TokenURL: tokens.URL, ClientID: "c", ClientSecret: testSecret}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://resource.invalid/", nil)
		resp, err := (&Transport{Base: base, Cache: NewCache(tokens.Client()), Credentials: creds}).RoundTrip(req)
		if resp != nil || err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "token endpoint: 503") {
			t.Fatalf("RoundTrip = %v, %v; want a transient token error", resp, err)
		}
		if !first.closed {
			t.Error("the 401 response body was not closed")
		}
	})
	t.Run("client credentials without cache", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://resource.invalid/", nil)
		creds := Credentials{Type: TypeClientCredentials, TokenURL: "https://x/", ClientID: "c", ClientSecret: testSecret}
		if _, err := (&Transport{Credentials: creds}).RoundTrip(req); !errors.Is(err, errNoCache) {
			t.Errorf("RoundTrip = %v, want errNoCache", err)
		}
	})
	t.Run("bearer without cache", func(t *testing.T) {
		t.Parallel()
		res := newResource(t, nil, func(*http.Request) int { return 200 })
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, res.URL, nil)
		resp, err := (&Transport{Credentials: Credentials{Type: TypeBearer, Token: testToken}}).RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("RoundTrip = %v, %v", resp, err)
		}
		resp.Body.Close()
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

type bodyRecorder struct {
	io.ReadCloser
	closed bool
}

func (b *bodyRecorder) Close() error { b.closed = true; return b.ReadCloser.Close() }
