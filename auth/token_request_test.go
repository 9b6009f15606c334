package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTokenRequestWireFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		style     string
		wantBasic bool
	}{
		{"default is basicAuthHeader", "", true},
		{"basicAuthHeader", AuthBasicHeader, true},
		{"basicAuthHeader any case", "BasicAuthHeader", true},
		{"credentialsBody", AuthCredentialsBody, false},
		{"credentialsBody any case", "CREDENTIALSBODY", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t)
			creds := clientCreds(srv)
			creds.ClientAuthentication = tt.style
			creds.Scopes = []string{testOrg + "/.default"}
			if _, err := NewCache(nil).Token(t.Context(), creds); err != nil {
				t.Fatalf("Token: %v", err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d token requests, want 1", len(reqs))
			}
			r := reqs[0]
			if got := r.Form.Get("grant_type"); got != "client_credentials" {
				t.Errorf("grant_type = %q", got)
			}
			if got := r.Form.Get("scope"); got != testOrg+"/.default" {
				t.Errorf("scope = %q", got)
			}
			if r.BasicAuth != tt.wantBasic {
				t.Errorf("Basic auth sent = %v, want %v", r.BasicAuth, tt.wantBasic)
			}
			if tt.wantBasic {
				if r.User != testClient || r.Password != testSecret {
					t.Errorf("Basic credentials = %q, want the client id and secret", r.User)
				}
				if r.Form.Has("client_secret") || r.Form.Has("client_id") {
					t.Error("client credentials in the body as well as the Basic header")
				}
			} else if r.Form.Get("client_id") != testClient || r.Form.Get("client_secret") != testSecret {
				t.Errorf("body client_id = %q, want client id and secret in the body", r.Form.Get("client_id"))
			}
		})
	}
}

func TestTokenRequestScopesJoinedBySpaces(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.PostFormValue("scope")
		fmt.Fprint(w, `{"access_token":"a","token_type":"Bearer","expires_in":60}`)
	}))
	defer srv.Close()
	_, err := NewCache(srv.Client()).Token(t.Context(), Credentials{Type: TypeClientCredentials, TokenURL: srv.URL,
		ClientID: "c", ClientSecret: "s", Scopes: []string{"write", "read offline_access", "read"}})
	if err != nil {
		t.Fatal(err)
	}
	if got != "offline_access read write" {
		t.Errorf("scope = %q, want sorted unique scopes joined by spaces", got)
	}
}

func TestTokenResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int
		header       map[string]string
		body         string
		wantToken    string
		wantLifetime time.Duration
		wantErr      string // substring
		permanent    bool
		tokenError   bool
	}{
		{name: "entra success", status: 200, body: `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"tok"}`,
			wantToken: "tok", wantLifetime: 3599 * time.Second},
		{name: "expires_in as string", status: 200, body: `{"token_type":"Bearer","expires_in":"3599","access_token":"tok"}`,
			wantToken: "tok", wantLifetime: 3599 * time.Second},
		{name: "no expires_in", status: 200, body: `{"access_token":"tok"}`, wantToken: "tok", wantLifetime: defaultLifetime},
		{name: "absurd expires_in", status: 200, body: `{"access_token":"tok","expires_in":1e300}`, wantToken: "tok", wantLifetime: maxLifetime},
		{name: "lower-case bearer", status: 200, body: `{"access_token":"tok","token_type":"bearer","expires_in":60}`, wantToken: "tok", wantLifetime: time.Minute},
		{name: "no access_token", status: 200, body: `{"token_type":"Bearer"}`, tokenError: true, permanent: true,
			wantErr: "token endpoint: 200: invalid token response: no access_token"},
		{name: "not bearer", status: 200, body: `{"access_token":"tok","token_type":"pop"}`, tokenError: true, permanent: true,
			wantErr: `invalid token response: token_type "pop", want Bearer`},
		{name: "html login page", status: 200, header: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			body: "<html>sign in</html>", tokenError: true, permanent: true,
			wantErr: `token endpoint: 200: invalid token response: not a JSON object (Content-Type "text/html")`},
		{name: "error in a 200", status: 200, body: `{"error":"invalid_client","error_description":"bad"}`, tokenError: true, permanent: true,
			wantErr: "token endpoint: 200 invalid_client: bad"},
		{name: "token with newline", status: 200, body: `{"access_token":"a\nb"}`, tokenError: true, permanent: true,
			wantErr: "access_token has characters not allowed"},
		{name: "redirect not followed", status: 307, header: map[string]string{"Location": "https://attacker.example/steal"},
			tokenError: true, permanent: true, wantErr: "token endpoint: 307: redirect to host attacker.example not followed"},
		{name: "relative redirect names the endpoint's own host", status: 308, header: map[string]string{"Location": "/elsewhere?secret=x"},
			tokenError: true, permanent: true, wantErr: "redirect to host 127.0.0.1:"},
		{name: "internal server error", status: 500, body: `{"error":"server_error"}`, tokenError: true, wantErr: "token endpoint: 500 server_error"},
		{name: "service unavailable", status: 503, body: "upstream down", tokenError: true, wantErr: "token endpoint: 503: upstream down"},
		{name: "bad gateway html", status: 502, body: "<h1>502</h1>", tokenError: true, wantErr: "token endpoint: 502: <h1>502</h1>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			n := Credentials{Type: TypeClientCredentials, TokenURL: srv.URL, ClientID: "c", ClientSecret: testSecret}.normalize()
			token, lifetime, err := requestToken(t.Context(), NewCache(srv.Client()).client, n)
			if tt.wantErr == "" {
				if err != nil || token != tt.wantToken || lifetime != tt.wantLifetime {
					t.Fatalf("requestToken = %q, %v, %v; want %q, %v", token, lifetime, err, tt.wantToken, tt.wantLifetime)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("requestToken error = %v, want %q", err, tt.wantErr)
			}
			var te *TokenError
			if errors.As(err, &te) != tt.tokenError || IsPermanent(err) != tt.permanent {
				t.Errorf("error %#v: TokenError %v permanent %v, want %v %v", err, errors.As(err, &te), IsPermanent(err), tt.tokenError, tt.permanent)
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestTokenRequestTransientFailures(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		url     string
		cache   *Cache
		ctx     func() (context.Context, context.CancelFunc)
		wantErr string
	}{
		{"fetch timeout", slow.URL, NewCache(nil, WithFetchTimeout(50*time.Millisecond)), nil,
			"token request timed out after 50ms"},
		// net/http adds "(Client.Timeout exceeded …)" only when its own timer is seen to have
		// fired first; on a loaded machine the bare deadline error can win the race.
		{"client timeout", slow.URL, NewCache(&http.Client{Timeout: 50 * time.Millisecond}), nil,
			"Client.Timeout exceeded||context deadline exceeded"},
		{"caller deadline", slow.URL, NewCache(nil), func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, "waiting for access token: context deadline exceeded"},
		{"connection refused", closed.URL, NewCache(nil), nil, "requesting token: Post"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx()
				defer cancel()
			}
			_, err := tt.cache.Token(ctx, Credentials{Type: TypeClientCredentials, TokenURL: tt.url, ClientID: "c", ClientSecret: testSecret})
			if err == nil || !containsAny(err.Error(), strings.Split(tt.wantErr, "||")) {
				t.Fatalf("Token error = %v, want %q", err, tt.wantErr)
			}
			var te *TokenError
			if errors.As(err, &te) || IsPermanent(err) {
				t.Errorf("error %v is a TokenError or permanent; want a retryable wrapped error", err)
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestRefreshMargin(t *testing.T) {
	t.Parallel()
	tests := map[time.Duration]time.Duration{
		3599 * time.Second: time.Minute,
		10 * time.Minute:   time.Minute,
		5 * time.Minute:    30 * time.Second,
		10 * time.Second:   time.Second,
	}
	for lifetime, want := range tests {
		if got := refreshMargin(lifetime); got != want {
			t.Errorf("refreshMargin(%v) = %v, want %v", lifetime, got, want)
		}
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
