package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestNoSecretInAnyOutput runs every path with the distinctive testSecret
// and tokens, including a token endpoint that echoes the request (secret
// included) back in its errors, and checks every error text and formatted
// value.
func TestNoSecretInAnyOutput(t *testing.T) {
	t.Parallel()
	entra := newTokenServer(t)
	resource := newResource(t, entra, nil)

	// echo answers with what it received: form body and Authorization header.
	echo := func(status int, asJSON bool) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			seen := r.Header.Get("Authorization") + " " + string(body)
			w.WriteHeader(status)
			if asJSON {
				json.NewEncoder(w).Encode(map[string]any{"error": "invalid_request " + seen, "error_description": "echo: " + seen})
			} else {
				io.WriteString(w, "echo: "+seen)
			}
		}))
		t.Cleanup(s.Close)
		return s
	}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client leaving
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)

	good := clientCreds(entra)
	with := func(c Credentials, f func(*Credentials)) Credentials { f(&c); return c }
	bodyStyle := func(c *Credentials) { c.ClientAuthentication = AuthCredentialsBody }
	at := func(url string) func(*Credentials) { return func(c *Credentials) { c.TokenURL = url } }

	paths := []struct {
		name  string
		creds Credentials
	}{
		{"success", good},
		{"success, secret in body", with(good, bodyStyle)},
		{"invalid client secret", with(good, func(c *Credentials) { c.ClientSecret = testSecret + "-old" })},
		{"unknown application", with(good, func(c *Credentials) { c.ClientID = "unknown" })},
		{"unknown tenant", with(good, at(strings.Replace(entra.TokenURL(), testTenant, "other", 1)))},
		{"invalid scope", with(good, func(c *Credentials) { c.Scopes = []string{"https://org/user.read"} })},
		{"echo JSON 400, Basic", with(good, at(echo(400, true).URL))},
		{"echo JSON 400, body", with(with(good, at(echo(400, true).URL)), bodyStyle)},
		{"echo text 500, body", with(with(good, at(echo(500, false).URL)), bodyStyle)},
		{"echo JSON 200, body", with(with(good, at(echo(200, true).URL)), bodyStyle)},
		{"timeout", with(good, at(hang.URL))},
		{"connection refused", with(good, at("http://127.0.0.1:1/token"))},
		{"invalid credentials", with(good, func(c *Credentials) { c.TokenURL = ""; c.ClientAuthentication = "x" })},
		{"bearer", Credentials{Type: TypeBearer, Token: testToken}},
		{"invalid bearer", Credentials{Type: TypeBearer, Token: testToken + "\n"}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			cache := NewCache(nil, WithFetchTimeout(100*time.Millisecond))
			outputs := []string{fmt.Sprintf("%+v", p.creds), fmt.Sprintf("%#v", p.creds), fmt.Sprint(p.creds)}
			collect := func(err error) {
				if err == nil {
					return
				}
				outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
				var te *TokenError
				if errors.As(err, &te) {
					outputs = append(outputs, fmt.Sprintf("%+v", te), fmt.Sprintf("%#v", *te), te.Description, te.Code)
				}
			}

			tok, err := cache.Token(context.Background(), p.creds)
			collect(err)
			cache.Invalidate(p.creds, tok)

			// Through the transport, with a 401 refresh on the success paths.
			entra.RevokeAll()
			req, _ := http.NewRequest(http.MethodPost, resource.URL, strings.NewReader("{}"))
			resp, err := (&Transport{Cache: cache, Credentials: p.creds}).RoundTrip(req)
			collect(err)
			if resp != nil {
				resp.Body.Close()
			}

			basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(p.creds.ClientID) + ":" + url.QueryEscape(testSecret)))
			for _, out := range outputs {
				assertNoSecret(t, out)
				if strings.Contains(out, basic) {
					t.Errorf("output leaks the Basic credentials: %s", out)
				}
			}
		})
	}
}
