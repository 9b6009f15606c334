package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The token request is sent by golang.org/x/oauth2/clientcredentials with an
// explicit AuthStyle (no probing: exactly one request per fetch), through the
// cache's client (tokenClient: no redirects, counted) given in the context
// under oauth2.HTTPClient. The wire format is the library's: Basic
// credentials form-encoded first (RFC 6749 §2.3.1, oauth2.AuthStyleInHeader),
// or client_id and client_secret in the body (oauth2.AuthStyleInParams).
//
// What the library answers is then read as before:
//   - success: the access token and its type, and expires_in from the raw
//     answer (Token.Extra), measured against the cache's injectable clock.
//     clientcredentials leaves Token.ExpiresIn zero and sets Token.Expiry
//     from time.Now, so neither is used.
//   - *oauth2.RetrieveError (a non-2xx answer, or an OAuth error in a 2xx
//     one): its status, header and body are classified here (parseTokenError:
//     OAuth code, AADSTS code, permanence, Retry-After, secrets scrubbed).
//     Its own text quotes the raw body and is never shown.
//   - any other error after a 2xx answer (not JSON, no access_token, an
//     expires_in the library cannot read such as 1e300 or "3599.5"): the
//     answer the exchange kept is read by readTokenAnswer, which accepts what
//     this package always accepted and refuses the rest with a TokenError.

const (
	maxTokenBody    = 1 << 20 // bytes read from a token endpoint's answer (the library's limit too)
	defaultLifetime = 5 * time.Minute
	maxLifetime     = 24 * time.Hour
)

// requestToken performs one client-credentials token request through client
// and returns the access token and its lifetime. Errors: *TokenError for an
// answer, a wrapped error for anything that kept an answer from arriving.
func requestToken(ctx context.Context, client *http.Client, n normalized) (string, time.Duration, error) {
	cfg := clientcredentials.Config{
		ClientID:     n.clientID,
		ClientSecret: n.clientSecret,
		TokenURL:     n.tokenURL,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	if n.style == styleCredentialsBody {
		cfg.AuthStyle = oauth2.AuthStyleInParams
	}
	if n.scope != "" {
		cfg.Scopes = []string{n.scope} // already sorted, unique, space-separated
	}
	x := &exchange{base: client.Transport}
	hc := *client
	hc.Transport = x
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, &hc))

	// Secrets are scrubbed from any text quoted from the answer; basic is
	// the Authorization header's credentials, in case a server echoes it.
	secrets := []string{n.clientSecret}
	if x.basic != "" {
		secrets = append(secrets, x.basic)
	}
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		// The library reads form-encoded answers too; this package
		// accepts JSON only, as Entra sends.
		if !json.Valid(bytes.TrimSpace(x.body.Bytes())) {
			return "", 0, notJSON(x.resp)
		}
		return usableToken(x.resp.StatusCode, tok.AccessToken, tok.TokenType, expiresIn(tok.Extra("expires_in")))
	case errors.As(err, &re) && re.Response != nil:
		return readTokenAnswer(n.tokenURL, re.Response.StatusCode, re.Response.Header, n.redacted(re.Body), secrets)
	case x.readErr != nil:
		return "", 0, fmt.Errorf("reading token response: %w", x.readErr)
	case x.resp != nil:
		return readTokenAnswer(n.tokenURL, x.resp.StatusCode, x.resp.Header, n.redacted(x.body.Bytes()), secrets)
	case !x.sent:
		// The library refused to build the request; only the URL can
		// make it do so, and it is not repeated (it may hold a password).
		return "", 0, &ValidationError{Field: fieldTokenURL, Problem: "is not a valid URL"}
	default:
		// A *url.Error: method, URL without password, cause. No secret.
		return "", 0, fmt.Errorf("requesting token: %w", err)
	}
}

// tokenResponse is a successful token answer (RFC 6749 §5.1). An "error"
// field in a 2xx answer (seen from some servers) is treated as an error.
type tokenResponse struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   seconds `json:"expires_in"`
	Error       string  `json:"error"`
}

// seconds accepts a JSON number or a numeric string (Entra's v1 endpoint
// sends "3599"); anything else reads as 0 (unknown).
type seconds int64

func (s *seconds) UnmarshalJSON(b []byte) error {
	*s = parseSeconds(strings.Trim(string(b), `"`))
	return nil
}

// parseSeconds reads a positive number of seconds, at most maxLifetime; 0
// for anything else.
func parseSeconds(v string) seconds {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) { // NaN too
		return 0
	}
	return seconds(min(f, float64(maxLifetime/time.Second)))
}

// expiresIn reads expires_in as the library keeps it in the raw answer: a
// float64 from a JSON number, a string from a JSON or form string.
func expiresIn(v any) seconds {
	switch v := v.(type) {
	case float64:
		return parseSeconds(strconv.FormatFloat(v, 'g', -1, 64))
	case string:
		return parseSeconds(v)
	}
	return 0
}

// readTokenAnswer reads a token endpoint's answer the library did not turn
// into a token: an error for any non-2xx status, and a 2xx answer read by
// this package's rules. secrets are scrubbed from any text quoted.
func readTokenAnswer(tokenURL string, status int, header http.Header, body []byte, secrets []string) (string, time.Duration, error) {
	switch {
	case status >= 300 && status < 400:
		return "", 0, &TokenError{Status: status, Permanent: true,
			Description: "redirect " + redirectTarget(tokenURL, header.Get("Location"), secrets...) +
				" not followed (it would send the client credentials elsewhere; use the final token URL)"}
	case status < 200 || status >= 300:
		return "", 0, parseTokenError(status, header, body, secrets...)
	}
	// 2xx. Text from a 2xx body may hold the token, so errors below quote
	// no body text except an OAuth error's code and description.
	var tr tokenResponse
	if err := json.Unmarshal(bytes.TrimSpace(body), &tr); err != nil {
		return "", 0, notJSON(&http.Response{StatusCode: status, Header: header})
	}
	if tr.Error != "" {
		return "", 0, parseTokenError(status, header, body, append(secrets, tr.AccessToken)...)
	}
	return usableToken(status, tr.AccessToken, tr.TokenType, tr.ExpiresIn)
}

// usableToken checks a 2xx answer's token and returns it with its lifetime
// (defaultLifetime when expires_in is missing or not positive).
func usableToken(status int, token, tokenType string, expiresIn seconds) (string, time.Duration, error) {
	switch {
	case token == "":
		return "", 0, invalidAnswer(status, "no access_token")
	case tokenType != "" && !strings.EqualFold(tokenType, "bearer"):
		return "", 0, invalidAnswer(status, "token_type %q, want Bearer", safeText(tokenType, 40, token))
	case !headerSafe(token):
		return "", 0, invalidAnswer(status, "access_token has characters not allowed in an HTTP header")
	}
	lifetime := time.Duration(expiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = defaultLifetime
	}
	return token, lifetime, nil
}

func notJSON(resp *http.Response) error {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return invalidAnswer(resp.StatusCode, "not a JSON object (Content-Type %q)", safeText(ct, 60))
}

func invalidAnswer(status int, format string, args ...any) error {
	return &TokenError{Status: status, Permanent: true,
		Description: "invalid token response: " + fmt.Sprintf(format, args...)}
}

// redirectTarget names the host a redirect's Location points to (resolved against the token
// URL), never its path or query, which may hold a secret.
func redirectTarget(tokenURL, location string, secrets ...string) string {
	if location == "" {
		return "without a Location"
	}
	base, err := url.Parse(tokenURL)
	var u *url.URL
	if err == nil {
		u, err = base.Parse(location)
	}
	if err != nil || u.Host == "" {
		return "to an unparsable Location"
	}
	return "to host " + safeText(u.Host, 100, secrets...)
}

// refreshMargin is how long before expiry a token stops being handed out:
// one minute, or a tenth of the lifetime for tokens shorter than ten minutes.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(time.Minute, lifetime/10)
}

// redacted is a refusal's body with the caller's secrets removed (WithRedact).
func (n normalized) redacted(body []byte) []byte {
	if n.redact == nil {
		return body
	}
	return n.redact(body)
}
