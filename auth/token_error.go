package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits for text taken from a token endpoint's answer.
const (
	maxDescriptionRunes = 500 // Entra's descriptions, with trace and correlation ids, fit
	maxSnippetRunes     = 256 // a non-JSON body
	maxCodeRunes        = 64
)

// TokenError is a token endpoint's refusal: a non-2xx answer, an OAuth error
// body, or a 2xx answer without a usable token. All text in it comes from
// the server, is scrubbed of the client secret and truncated.
//
// Network errors and timeouts are not TokenErrors: they are returned as
// wrapped errors and are retryable.
type TokenError struct {
	Status      int    // HTTP status of the token endpoint's answer
	Code        string // OAuth error code, e.g. "invalid_client"; "" if none
	AADSTS      string // Entra ID error code, e.g. "AADSTS7000215"; "" if none
	Description string // error_description, or a snippet of a non-JSON body
	// Permanent reports that no retry can fix the answer: wrong or unknown
	// client, tenant, scope or grant, or any other 4xx but 408 and 429.
	// 5xx, 408, 429 and the codes server_error and temporarily_unavailable
	// are transient.
	Permanent bool
	// RetryAfter is the server's Retry-After delay on a transient answer, 0 if none.
	RetryAfter time.Duration
}

// Error reads like
//
//	token endpoint: 401 invalid_client: AADSTS7000215: Invalid client secret provided. ...
func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "token endpoint: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	desc := e.Description
	if e.AADSTS != "" && !strings.HasPrefix(desc, e.AADSTS) {
		if desc == "" {
			desc = e.AADSTS
		} else {
			desc = e.AADSTS + ": " + desc
		}
	}
	switch {
	case desc != "":
		b.WriteString(": ")
		b.WriteString(desc)
	case e.Code == "":
		if text := http.StatusText(e.Status); text != "" {
			b.WriteString(" ")
			b.WriteString(text)
		}
	}
	return b.String()
}

// IsPermanent reports whether err is one no retry can fix: invalid
// credentials (*ValidationError) or a permanent *TokenError.
func IsPermanent(err error) bool {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Permanent
	}
	var ve *ValidationError
	return errors.As(err, &ve)
}

// entraError is the OAuth 2.0 error body (RFC 6749 §5.2) with Entra ID's
// additions (error_codes, timestamp, trace_id, correlation_id, error_uri; only
// error_codes is used, the ids are repeated in Entra's description). A body
// whose error or error_description is not a string is shown as a snippet.
type entraError struct {
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
	ErrorCodes  json.RawMessage `json:"error_codes"`
}

// firstErrorCode returns Entra's first error code as "AADSTS<n>", or "".
func (e entraError) firstErrorCode() string {
	var codes []json.Number
	if json.Unmarshal(e.ErrorCodes, &codes) != nil || len(codes) == 0 {
		return ""
	}
	n, err := strconv.ParseUint(codes[0].String(), 10, 32)
	if err != nil || n == 0 {
		return ""
	}
	return "AADSTS" + strconv.FormatUint(n, 10)
}

var aadstsPattern = regexp.MustCompile(`\bAADSTS[0-9]{1,10}\b`)

// parseTokenError builds the TokenError for a token endpoint answer. status
// is the HTTP status, body the (size-limited) body; every secret is scrubbed
// from all text taken from the body.
func parseTokenError(status int, header http.Header, body []byte, secrets ...string) *TokenError {
	e := &TokenError{Status: status}
	var parsed entraError
	if err := json.Unmarshal(body, &parsed); err == nil && (parsed.Error != "" || parsed.Description != "") {
		e.Code = safeText(parsed.Error, maxCodeRunes, secrets...)
		e.Description = safeText(parsed.Description, maxDescriptionRunes, secrets...)
		if e.AADSTS = parsed.firstErrorCode(); e.AADSTS == "" {
			e.AADSTS = aadstsPattern.FindString(e.Description)
		}
	} else {
		e.Description = safeText(string(body), maxSnippetRunes, secrets...)
	}
	e.Permanent = permanent(status, e.Code)
	if !e.Permanent {
		e.RetryAfter = retryAfter(header.Get("Retry-After"), time.Now())
	}
	return e
}

// permanent classifies a token endpoint's answer.
func permanent(status int, code string) bool {
	switch code {
	case "server_error", "temporarily_unavailable":
		return false
	}
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return false
	case status >= 500:
		return false
	default:
		// 4xx, 3xx (redirects are not followed: they would carry the
		// secret elsewhere) and 2xx without a token are configuration
		// problems: invalid_client, unauthorized_client, invalid_scope,
		// invalid_request (e.g. AADSTS90002, unknown tenant), invalid_grant,
		// unsupported_grant_type, ...
		return true
	}
}

// maxRetryAfter bounds a server's Retry-After.
const maxRetryAfter = 10 * time.Minute

// retryAfter parses a Retry-After value, seconds or an HTTP date, relative to now.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
