// Package authtest provides a fake Microsoft Entra ID token endpoint for the
// client credentials grant, for tests and demos of code that uses package auth.
//
// It answers like Entra's v2.0 endpoint (POST /{tenant}/oauth2/v2.0/token)
// including its error bodies: AADSTS7000215 invalid_client (401),
// AADSTS700016 unauthorized_client, AADSTS90002 invalid_request (unknown
// tenant), AADSTS70011 invalid_scope (400). Resource fakes check the tokens
// it issued with Authorized.
package authtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Request is what the server saw of one token request.
type Request struct {
	Form      url.Values // the form body, client_secret included if sent there
	BasicAuth bool       // whether credentials came in an Authorization: Basic header
	User      string     // Basic user name, form-decoded
	Password  string     // Basic password, form-decoded
}

// Server is a fake token endpoint. Its fields configure what it accepts;
// change them only before the first request.
type Server struct {
	*httptest.Server
	Tenant       string
	ClientID     string
	ClientSecret string
	ExpiresIn    int // seconds, sent as expires_in (default 3599)

	mu       sync.Mutex
	requests []Request
	issued   map[string]bool
}

// NewServer starts a token endpoint for one tenant and one client.
// Close it when done.
func NewServer(tenant, clientID, clientSecret string) *Server {
	s := &Server{Tenant: tenant, ClientID: clientID, ClientSecret: clientSecret,
		ExpiresIn: 3599, issued: make(map[string]bool)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveToken))
	return s
}

// TokenURL is the token endpoint of the server's tenant.
func (s *Server) TokenURL() string { return s.URL + "/" + s.Tenant + "/oauth2/v2.0/token" }

// Scope is the scope the server accepts for a resource: resource + "/.default".
func Scope(resource string) string { return strings.TrimSuffix(resource, "/") + "/.default" }

// Requests returns the token requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Authorized reports whether r carries "Authorization: Bearer <token>" with
// a token this server issued and has not revoked.
func (s *Server) Authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok && s.issued[token]
}

// RevokeAll makes every token issued so far unauthorized, as if it had expired.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.issued)
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	tenant, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if rest != "oauth2/v2.0/token" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	seen := Request{Form: r.PostForm}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		seen.BasicAuth = true
		seen.User, _ = url.QueryUnescape(user)
		seen.Password, _ = url.QueryUnescape(pass)
		clientID, secret = seen.User, seen.Password
	}
	s.mu.Lock()
	s.requests = append(s.requests, seen)
	s.mu.Unlock()

	switch scope := r.PostForm.Get("scope"); {
	case tenant != s.Tenant:
		writeError(w, http.StatusBadRequest, "invalid_request", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
	case r.PostForm.Get("grant_type") != "client_credentials":
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type.")
	case clientID == "":
		writeError(w, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'client_id'.")
	case clientID != s.ClientID:
		writeError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", clientID, s.Tenant))
	case secret != s.ClientSecret:
		writeError(w, http.StatusUnauthorized, "invalid_client", 7000215,
			fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
	case strings.Contains(scope, " ") || !strings.HasSuffix(scope, "/.default"):
		writeError(w, http.StatusBadRequest, "invalid_scope", 70011,
			fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope))
	default:
		token := "authtest." + rand.Text()
		s.mu.Lock()
		s.issued[token] = true
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": s.ExpiresIn, "ext_expires_in": s.ExpiresIn, "access_token": token,
		})
	}
}

// writeError writes an Entra ID error body.
func writeError(w http.ResponseWriter, status int, code string, aadsts int, message string) {
	trace, correlation := uuid(), uuid()
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			aadsts, message, trace, correlation, now),
		"error_codes":    []int{aadsts},
		"timestamp":      now,
		"trace_id":       trace,
		"correlation_id": correlation,
		"error_uri":      "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts),
	})
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
