package auth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Authentication types, as Camunda's element templates send them in
// authentication.type.
const (
	TypeBearer            = "bearer"
	TypeClientCredentials = "oauth-client-credentials-flow"
)

// Client authentication styles, as Camunda's element templates send them in
// authentication.clientAuthentication. Matching is case-insensitive.
const (
	// AuthBasicHeader sends client id and secret in an HTTP Basic
	// Authorization header (RFC 6749 §2.3.1). It is the default.
	AuthBasicHeader = "basicAuthHeader"
	// AuthCredentialsBody sends client_id and client_secret as form fields.
	AuthCredentialsBody = "credentialsBody"
)

// Credentials are one job's authentication settings. Field names in
// validation errors follow the connector's input names (authentication.*).
//
// A Credentials value never shows its secrets: String, GoString, every fmt
// verb, MarshalJSON and MarshalZerologObject print Token and ClientSecret as "***".
type Credentials struct {
	// Type is TypeBearer or TypeClientCredentials (case-insensitive).
	Type string

	// Token is the bearer token (TypeBearer only).
	Token string

	// TokenURL, ClientID, ClientSecret, Scopes and ClientAuthentication are
	// used by TypeClientCredentials only.
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes are sent space-separated in the scope parameter; an element
	// may itself hold several space-separated scopes (see SplitScopes).
	// Optional for the protocol, but Entra ID requires one ("{resource}/.default").
	Scopes []string
	// ClientAuthentication is AuthBasicHeader (default when empty) or
	// AuthCredentialsBody, case-insensitive.
	ClientAuthentication string
}

// SplitScopes splits a space-separated scope string, as Camunda's templates
// send authentication.scopes, into scopes.
func SplitScopes(s string) []string { return strings.Fields(s) }

// authStyle is the normalized ClientAuthentication.
type authStyle uint8

const (
	styleBasicHeader authStyle = iota
	styleCredentialsBody
)

// normalized is Credentials with surrounding blanks trimmed from the
// non-secret fields, case folded where matching is case-insensitive, and
// scopes split, sorted and de-duplicated. It is what the cache key and the
// token request are built from, so equal keys always mean equal requests.
type normalized struct {
	typ          string // lower case
	token        string
	tokenURL     string
	clientID     string
	clientSecret string
	scope        string // sorted, unique, space-separated
	style        authStyle
	styleName    string // as given, trimmed, for messages
	redact       func([]byte) []byte
}

func (c Credentials) normalize() normalized {
	n := normalized{
		typ:          strings.ToLower(strings.TrimSpace(c.Type)),
		token:        c.Token,
		tokenURL:     strings.TrimSpace(c.TokenURL),
		clientID:     strings.TrimSpace(c.ClientID),
		clientSecret: c.ClientSecret,
		styleName:    strings.TrimSpace(c.ClientAuthentication),
	}
	var scopes []string
	for _, s := range c.Scopes {
		scopes = append(scopes, strings.Fields(s)...)
	}
	slices.Sort(scopes)
	n.scope = strings.Join(slices.Compact(scopes), " ")
	if strings.EqualFold(n.styleName, AuthCredentialsBody) {
		n.style = styleCredentialsBody
	}
	return n
}

// ValidationError reports one invalid credentials field. Retrying cannot fix
// it (IsPermanent reports true). Its message names the field and never
// contains a secret value.
type ValidationError struct {
	Field   string // e.g. "authentication.clientId"
	Problem string // e.g. "is required"
}

func (e *ValidationError) Error() string { return e.Field + " " + e.Problem }

// Field names used in validation errors.
const (
	fieldType         = "authentication.type"
	fieldToken        = "authentication.token"
	fieldTokenURL     = "authentication.oauthTokenEndpoint"
	fieldClientID     = "authentication.clientId"
	fieldClientSecret = "authentication.clientSecret"
	fieldClientAuth   = "authentication.clientAuthentication"
)

// Validate reports every invalid field, joined with errors.Join; each one is
// a *ValidationError. Fields the type does not use are not checked.
func (c Credentials) Validate() error {
	return c.normalize().validate()
}

func (n normalized) validate() error {
	var errs []error
	add := func(field, problem string) {
		errs = append(errs, &ValidationError{Field: field, Problem: problem})
	}
	switch n.typ {
	case TypeBearer:
		switch {
		case strings.TrimSpace(n.token) == "":
			add(fieldToken, "is required")
		case !headerSafe(n.token):
			add(fieldToken, "contains characters not allowed in an HTTP header")
		}
	case TypeClientCredentials:
		if n.tokenURL == "" {
			add(fieldTokenURL, "is required")
		} else if problem := checkTokenURL(n.tokenURL); problem != "" {
			add(fieldTokenURL, problem)
		}
		if n.clientID == "" {
			add(fieldClientID, "is required")
		}
		if n.clientSecret == "" {
			add(fieldClientSecret, "is required")
		}
		if n.styleName != "" && !strings.EqualFold(n.styleName, AuthBasicHeader) &&
			!strings.EqualFold(n.styleName, AuthCredentialsBody) {
			add(fieldClientAuth, fmt.Sprintf("must be %q or %q, got %q",
				AuthBasicHeader, AuthCredentialsBody, safeText(n.styleName, 40)))
		}
	case "":
		add(fieldType, "is required")
	default:
		add(fieldType, fmt.Sprintf("must be %q or %q, got %q",
			TypeBearer, TypeClientCredentials, safeText(n.typ, 40)))
	}
	return errors.Join(errs...)
}

// checkTokenURL returns what is wrong with a token endpoint URL, or "".
// The message does not repeat the URL: it may carry a password.
func checkTokenURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL"
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "must be an http or https URL"
	}
	if u.Host == "" {
		return "must include a host"
	}
	return ""
}

// headerSafe reports whether s can be sent in a header value as is.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f {
			return false
		}
	}
	return true
}

func (n normalized) clientCredentials() bool { return n.typ == TypeClientCredentials }
