package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The token request goes through golang.org/x/oauth2/clientcredentials. These
// tests pin what the library would decide differently on its own: they pass
// on the hand-written request this package had before, and fail when the
// library's own answer reading or auth-style probing shows through.

// TestTokenAnswersTheLibraryDoesNotRead: 2xx answers the library refuses or
// reads otherwise are read by this package's rules, as before.
func TestTokenAnswersTheLibraryDoesNotRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		contentType  string
		body         string
		wantLifetime time.Duration
		wantErr      string
	}{
		{name: "fractional expires_in", body: `{"access_token":"tok","expires_in":3599.5}`, wantLifetime: 3599 * time.Second},
		{name: "fractional expires_in string", body: `{"access_token":"tok","expires_in":"120.9"}`, wantLifetime: 120 * time.Second},
		{name: "expires_in beyond float64", body: `{"access_token":"tok","expires_in":1e400}`, wantLifetime: defaultLifetime},
		{name: "expires_in beyond int32", body: `{"access_token":"tok","expires_in":99999999999}`, wantLifetime: maxLifetime},
		{name: "expires_in not a number", body: `{"access_token":"tok","expires_in":"soon"}`, wantLifetime: defaultLifetime},
		{name: "negative expires_in", body: `{"access_token":"tok","expires_in":-5}`, wantLifetime: defaultLifetime},
		{name: "expires_in under a second", body: `{"access_token":"tok","expires_in":0.5}`, wantLifetime: defaultLifetime},
		{name: "JSON sent as text/plain", contentType: "text/plain", body: `{"access_token":"tok","expires_in":60}`, wantLifetime: time.Minute},
		{name: "form-encoded token", contentType: "application/x-www-form-urlencoded", body: "access_token=tok&token_type=bearer&expires_in=60",
			wantErr: `token endpoint: 200: invalid token response: not a JSON object (Content-Type "application/x-www-form-urlencoded")`},
		{name: "form-encoded error", contentType: "application/x-www-form-urlencoded", body: "error=invalid_client&error_description=" + testSecret,
			wantErr: `token endpoint: 200: invalid token response: not a JSON object (Content-Type "application/x-www-form-urlencoded")`},
		{name: "JSON array", body: `[{"access_token":"tok"}]`, wantErr: `token endpoint: 200: invalid token response: not a JSON object (Content-Type "application/json")`},
		{name: "access_token a number", body: `{"access_token":42}`, wantErr: `token endpoint: 200: invalid token response: not a JSON object`},
		{name: "empty access_token", body: `{"access_token":"","expires_in":60}`, wantErr: "token endpoint: 200: invalid token response: no access_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", orElse(tt.contentType, "application/json"))
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			cache := NewCache(srv.Client())
			n := Credentials{Type: TypeClientCredentials, TokenURL: srv.URL, ClientID: "c", ClientSecret: testSecret}.normalize()
			token, lifetime, err := requestToken(t.Context(), cache.client, n)
			if tt.wantErr == "" {
				if err != nil || token != "tok" || lifetime != tt.wantLifetime {
					t.Fatalf("requestToken = %q, %v, %v; want tok, %v", token, lifetime, err, tt.wantLifetime)
				}
				return
			}
			var te *TokenError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &te) || !te.Permanent {
				t.Fatalf("requestToken error = %#v, want a permanent TokenError %q", err, tt.wantErr)
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func orElse(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// TestTokenRequestIsOneRequest: a refused request is not sent again in the
// other client authentication style (the library probes both when no style
// is set), and every request sent is counted.
func TestTokenRequestIsOneRequest(t *testing.T) {
	t.Parallel()
	for _, style := range []string{"", AuthBasicHeader, AuthCredentialsBody} {
		t.Run(orElse(style, "default"), func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t)
			cache := NewCache(srv.Client())
			creds := clientCreds(srv)
			creds.ClientAuthentication = style
			creds.ClientSecret = "wrong"
			if _, err := cache.Token(t.Context(), creds); !IsPermanent(err) {
				t.Fatalf("Token with a wrong secret: %v, want a permanent error", err)
			}
			if n, sent := len(srv.Requests()), cache.Fetches(); n != 1 || sent != 1 {
				t.Errorf("token endpoint saw %d requests, Fetches() = %d; want 1 and 1", n, sent)
			}
		})
	}
}

// TestTokenRequestHeaders: the request asks for JSON and sends the form.
func TestTokenRequestHeaders(t *testing.T) {
	t.Parallel()
	var accept, contentType atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept.Store(r.Header.Get("Accept"))
		contentType.Store(r.Header.Get("Content-Type"))
		fmt.Fprint(w, `{"access_token":"tok","expires_in":60}`)
	}))
	defer srv.Close()
	if _, err := NewCache(srv.Client()).Token(t.Context(), Credentials{Type: TypeClientCredentials, TokenURL: srv.URL, ClientID: "c", ClientSecret: "s"}); err != nil {
		t.Fatal(err)
	}
	if accept.Load() != "application/json" || contentType.Load() != "application/x-www-form-urlencoded" {
		t.Errorf("Accept %q, Content-Type %q; want application/json and a form", accept.Load(), contentType.Load())
	}
}

// TestTokenAnswerCutShort: an answer whose body breaks off is a retryable
// error that says so, not a permanent "invalid token response".
func TestTokenAnswerCutShort(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		fmt.Fprint(w, `{"access_token":"tok",`)
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	n := Credentials{Type: TypeClientCredentials, TokenURL: srv.URL, ClientID: "c", ClientSecret: testSecret}.normalize()
	_, _, err := requestToken(t.Context(), NewCache(srv.Client()).client, n)
	if err == nil || !strings.HasPrefix(err.Error(), "reading token response: ") || IsPermanent(err) {
		t.Fatalf("requestToken error = %v, want a retryable %q", err, "reading token response: ...")
	}
}
