package auth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

const redacted = "***"

// String shows the credentials with Token and ClientSecret replaced by "***"
// (or "" when unset, so a missing secret is still visible).
func (c Credentials) String() string {
	var b strings.Builder
	b.WriteString("{Type:")
	b.WriteString(c.Type)
	if c.Token != "" || strings.EqualFold(strings.TrimSpace(c.Type), TypeBearer) {
		b.WriteString(" Token:")
		b.WriteString(redact(c.Token))
	}
	if c.TokenURL != "" || c.ClientID != "" || c.ClientSecret != "" || len(c.Scopes) > 0 || c.ClientAuthentication != "" {
		fmt.Fprintf(&b, " TokenURL:%s ClientID:%s ClientSecret:%s Scopes:%q ClientAuthentication:%s",
			redactURL(c.TokenURL), c.ClientID, redact(c.ClientSecret), c.Scopes, c.ClientAuthentication)
	}
	b.WriteString("}")
	return b.String()
}

// GoString is used by %#v; it redacts like String.
func (c Credentials) GoString() string { return "auth.Credentials" + c.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, ...) print the redacted
// form. fmt cannot call it for a Credentials held in an unexported struct
// field: do not print such structs with %v.
func (c Credentials) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, c.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", c.String())
	default:
		io.WriteString(f, c.String())
	}
}

// MarshalJSON writes the redacted form, so a Credentials logged as a JSON
// value (zerolog's Interface, encoding/json) cannot leak. Credentials are
// never meant to be serialized with their secrets.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type                 string   `json:"type"`
		Token                string   `json:"token,omitempty"`
		TokenURL             string   `json:"oauthTokenEndpoint,omitempty"`
		ClientID             string   `json:"clientId,omitempty"`
		ClientSecret         string   `json:"clientSecret,omitempty"`
		Scopes               []string `json:"scopes,omitempty"`
		ClientAuthentication string   `json:"clientAuthentication,omitempty"`
	}{c.Type, redact(c.Token), redactURL(c.TokenURL), c.ClientID, redact(c.ClientSecret), c.Scopes, c.ClientAuthentication})
}

// MarshalZerologObject makes zerolog's Object write the redacted form, with
// the keys of MarshalJSON.
func (c Credentials) MarshalZerologObject(e *zerolog.Event) {
	str := func(key, value string) {
		if value != "" {
			e.Str(key, value)
		}
	}
	e.Str("type", c.Type)
	str("token", redact(c.Token))
	str("oauthTokenEndpoint", redactURL(c.TokenURL))
	str("clientId", c.ClientID)
	str("clientSecret", redact(c.ClientSecret))
	if len(c.Scopes) > 0 {
		e.Strs("scopes", c.Scopes)
	}
	str("clientAuthentication", c.ClientAuthentication)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// redactURL hides a password in a URL's user info.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// scrub replaces every occurrence of each non-empty secret in s, raw or in
// the URL-encoded forms a server might echo, with "***".
func scrub(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		for _, form := range [...]string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	return s
}

// safeText makes untrusted text fit for one line of an error message: valid
// UTF-8, runs of white space and control characters folded into one space,
// every secret replaced by "***", at most maxRunes runes (then "…"). Secrets
// are scrubbed before truncating, so that no part of one is left.
func safeText(s string, maxRunes int, secrets ...string) string {
	s = OneLine(s)
	for _, secret := range secrets {
		s = scrub(s, secret, OneLine(secret))
	}
	return truncate(s, maxRunes)
}

// OneLine returns valid UTF-8 with runs of white space and control
// characters folded into one space, trimmed: how text taken from a token
// endpoint's answer is quoted (so a secret scrubber can look for that form).
func OneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to at most maxRunes runes, marking a cut with "…".
func truncate(s string, maxRunes int) string {
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	i, n := 0, 0
	for i = range s {
		if n == maxRunes-1 {
			break
		}
		n++
	}
	return s[:i] + "…"
}
