package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The token request is a hand-written form POST rather than
// golang.org/x/oauth2/clientcredentials because the cache needs what that
// package hides or decides itself: the HTTP status and Entra's error_codes
// for a typed, classified error (oauth2.RetrieveError's text embeds the raw
// body); expires_in measured against the cache's injectable clock (oauth2
// uses time.Now); no redirects (a followed 307 would re-post the secret to
// another host); and exactly one HTTP request per fetch, counted. The wire
// format is the same: Basic credentials are form-encoded first as in RFC 6749
// §2.3.1 and oauth2.AuthStyleInHeader (Entra's secrets use only unreserved
// characters, so either reading works there), credentialsBody is
// oauth2.AuthStyleInParams.

const (
	maxTokenBody    = 1 << 20 // bytes read from a token endpoint's answer
	defaultLifetime = 5 * time.Minute
	maxLifetime     = 24 * time.Hour
)

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
	*s = 0
	f, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
	if err == nil && f > 0 { // false for NaN
		*s = seconds(min(f, float64(maxLifetime/time.Second)))
	}
	return nil
}

// requestToken performs one client-credentials token request and returns the
// access token and its lifetime. Errors: *TokenError for an answer, a wrapped
// error for anything that kept an answer from arriving.
func requestToken(ctx context.Context, client *http.Client, n normalized) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if n.scope != "" {
		form.Set("scope", n.scope)
	}
	if n.style == styleCredentialsBody {
		form.Set("client_id", n.clientID)
		form.Set("client_secret", n.clientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &ValidationError{Field: fieldTokenURL, Problem: "is not a valid URL"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// secrets are scrubbed from any text quoted from the answer; basic is
	// the Authorization header's credentials, in case a server echoes it.
	secrets := []string{n.clientSecret}
	if n.style == styleBasicHeader {
		req.SetBasicAuth(url.QueryEscape(n.clientID), url.QueryEscape(n.clientSecret))
		_, basic, _ := strings.Cut(req.Header.Get("Authorization"), " ")
		secrets = append(secrets, basic)
	}

	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error: method, URL without password, cause. No secret.
		return "", 0, fmt.Errorf("requesting token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return "", 0, fmt.Errorf("reading token response: %w", err)
	}

	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return "", 0, &TokenError{Status: resp.StatusCode, Permanent: true,
			Description: "redirect not followed (it would send the client credentials elsewhere)"}
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return "", 0, parseTokenError(resp.StatusCode, resp.Header, body, secrets...)
	}

	// 2xx. Text from a 2xx body may hold the token, so errors below quote
	// no body text except an OAuth error's code and description.
	invalid := func(format string, args ...any) error {
		return &TokenError{Status: resp.StatusCode, Permanent: true,
			Description: "invalid token response: " + fmt.Sprintf(format, args...)}
	}
	var tr tokenResponse
	if err := json.Unmarshal(bytes.TrimSpace(body), &tr); err != nil {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		return "", 0, invalid("not a JSON object (Content-Type %q)", safeText(ct, 60))
	}
	switch {
	case tr.Error != "":
		return "", 0, parseTokenError(resp.StatusCode, resp.Header, body, append(secrets, tr.AccessToken)...)
	case tr.AccessToken == "":
		return "", 0, invalid("no access_token")
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer"):
		return "", 0, invalid("token_type %q, want Bearer", safeText(tr.TokenType, 40, tr.AccessToken))
	case !headerSafe(tr.AccessToken):
		return "", 0, invalid("access_token has characters not allowed in an HTTP header")
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = defaultLifetime
	}
	return tr.AccessToken, lifetime, nil
}

// refreshMargin is how long before expiry a token stops being handed out:
// one minute, or a tenth of the lifetime for tokens shorter than ten minutes.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(time.Minute, lifetime/10)
}
