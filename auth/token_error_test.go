package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Entra ID error bodies as documented in the Dataverse reference.
const (
	bodyInvalidClient = `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'x'.\r\nTrace ID: 0d5b\r\nCorrelation ID: 7a1c\r\nTimestamp: 2025-01-02 03:04:05Z","error_codes":[7000215],"timestamp":"2025-01-02 03:04:05Z","trace_id":"0d5b","correlation_id":"7a1c","error_uri":"https://login.microsoftonline.com/error?code=7000215"}`
	bodyUnauthorized  = `{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'x' was not found in the directory 't'.","error_codes":[700016]}`
	bodyNoTenant      = `{"error":"invalid_request","error_description":"AADSTS90002: Tenant 't' not found.","error_codes":[90002]}`
	bodyInvalidScope  = `{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for the input parameter 'scope' is not valid.","error_codes":[70011]}`
)

func TestParseTokenError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantErr    string // exact Error(), or prefix when it ends in "…"
		wantCode   string
		wantAADSTS string
		permanent  bool
		retryAfter time.Duration
	}{
		{name: "invalid client secret", status: 401, body: bodyInvalidClient, wantCode: "invalid_client", wantAADSTS: "AADSTS7000215", permanent: true,
			wantErr: "token endpoint: 401 invalid_client: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'x'. Trace ID: 0d5b Correlation ID: 7a1c Timestamp: 2025-01-02 03:04:05Z"},
		{name: "application not found", status: 400, body: bodyUnauthorized, wantCode: "unauthorized_client", wantAADSTS: "AADSTS700016", permanent: true,
			wantErr: "token endpoint: 400 unauthorized_client: AADSTS700016: Application with identifier 'x' was not found in the directory 't'."},
		{name: "tenant not found", status: 400, body: bodyNoTenant, wantCode: "invalid_request", wantAADSTS: "AADSTS90002", permanent: true,
			wantErr: "token endpoint: 400 invalid_request: AADSTS90002: Tenant 't' not found."},
		{name: "invalid scope", status: 400, body: bodyInvalidScope, wantCode: "invalid_scope", wantAADSTS: "AADSTS70011", permanent: true,
			wantErr: "token endpoint: 400 invalid_scope: AADSTS70011: The provided value for the input parameter 'scope' is not valid."},
		{name: "invalid grant", status: 400, body: `{"error":"invalid_grant"}`, wantCode: "invalid_grant", permanent: true,
			wantErr: "token endpoint: 400 invalid_grant"},
		{name: "unsupported grant type", status: 400, body: `{"error":"unsupported_grant_type","error_description":"nope"}`, wantCode: "unsupported_grant_type", permanent: true,
			wantErr: "token endpoint: 400 unsupported_grant_type: nope"},
		{name: "AADSTS only in description", status: 400, body: `{"error":"invalid_request","error_description":"AADSTS900144: The request body must contain 'client_id'."}`,
			wantCode: "invalid_request", wantAADSTS: "AADSTS900144", permanent: true,
			wantErr: "token endpoint: 400 invalid_request: AADSTS900144: The request body must contain 'client_id'."},
		{name: "AADSTS only in error_codes", status: 400, body: `{"error":"invalid_request","error_description":"Bad.","error_codes":["90002"]}`,
			wantCode: "invalid_request", wantAADSTS: "AADSTS90002", permanent: true,
			wantErr: "token endpoint: 400 invalid_request: AADSTS90002: Bad."},
		{name: "forbidden plain", status: 403, body: "", permanent: true, wantErr: "token endpoint: 403 Forbidden"},
		{name: "not found html", status: 404, body: "<html>\n<body>Not   Found</body></html>", permanent: true,
			wantErr: "token endpoint: 404: <html> <body>Not Found</body></html>"},
		{name: "server error", status: 500, body: `{"error":"server_error","error_description":"AADSTS50000: There was an error issuing a token."}`,
			wantCode: "server_error", wantAADSTS: "AADSTS50000", wantErr: "token endpoint: 500 server_error: AADSTS50000: There was an error issuing a token."},
		{name: "temporarily unavailable as 400", status: 400, body: `{"error":"temporarily_unavailable"}`, wantCode: "temporarily_unavailable",
			wantErr: "token endpoint: 400 temporarily_unavailable"},
		{name: "service unavailable with retry-after", status: 503, header: http.Header{"Retry-After": {"7"}}, body: "busy",
			retryAfter: 7 * time.Second, wantErr: "token endpoint: 503: busy"},
		{name: "throttled", status: 429, header: http.Header{"Retry-After": {"99999"}}, body: "", retryAfter: maxRetryAfter,
			wantErr: "token endpoint: 429 Too Many Requests"},
		{name: "request timeout", status: 408, body: "", wantErr: "token endpoint: 408 Request Timeout"},
		{name: "long body truncated", status: 502, body: long, wantErr: "token endpoint: 502: " + strings.Repeat("x", maxSnippetRunes-1) + "…"},
		{name: "long description truncated", status: 400, body: `{"error":"invalid_request","error_description":"` + long + `"}`,
			wantCode: "invalid_request", permanent: true,
			wantErr: "token endpoint: 400 invalid_request: " + strings.Repeat("x", maxDescriptionRunes-1) + "…"},
		{name: "error of wrong type is a snippet", status: 400, body: `{"error":42}`, permanent: true, wantErr: `token endpoint: 400: {"error":42}`},
		{name: "secret echoed in description", status: 400, body: `{"error":"invalid_request","error_description":"bad secret ` + testSecret + `"}`,
			wantCode: "invalid_request", permanent: true, wantErr: "token endpoint: 400 invalid_request: bad secret ***"},
		{name: "secret echoed form-encoded in snippet", status: 400, body: "client_secret=Sup3r%2BSecr3t%2FQuokka%3D42%26zz~&x=1",
			permanent: true, wantErr: "token endpoint: 400: client_secret=***&x=1"},
		{name: "secret echoed in code", status: 400, body: `{"error":"` + testSecret + `"}`, wantCode: "***", permanent: true,
			wantErr: "token endpoint: 400 ***"},
		{name: "secret cut by truncation is still scrubbed", status: 502, body: strings.Repeat("y", maxSnippetRunes-5) + testSecret,
			wantErr: "token endpoint: 502: " + strings.Repeat("y", maxSnippetRunes-5) + "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header := tt.header
			if header == nil {
				header = http.Header{}
			}
			e := parseTokenError(tt.status, header, []byte(tt.body), testSecret)
			if got := e.Error(); got != tt.wantErr {
				t.Errorf("Error() =\n%q\nwant\n%q", got, tt.wantErr)
			}
			if e.Status != tt.status || e.Code != tt.wantCode || e.AADSTS != tt.wantAADSTS || e.Permanent != tt.permanent || e.RetryAfter != tt.retryAfter {
				t.Errorf("got %+v, want status %d code %q AADSTS %q permanent %v retryAfter %v",
					e, tt.status, tt.wantCode, tt.wantAADSTS, tt.permanent, tt.retryAfter)
			}
			if IsPermanent(fmt.Errorf("wrapped: %w", e)) != tt.permanent {
				t.Errorf("IsPermanent(wrapped) != %v", tt.permanent)
			}
			assertNoSecret(t, e.Error())
			assertNoSecret(t, fmt.Sprintf("%+v %#v", e, e))
		})
	}
}

func TestIsPermanent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("dial tcp: connection refused"), false},
		{&TokenError{Status: 503}, false},
		{&TokenError{Status: 401, Permanent: true}, true},
		{fmt.Errorf("x: %w", &ValidationError{Field: "f", Problem: "is required"}), true},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"": 0, "0": 0, "-3": 0, "12": 12 * time.Second, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"99999999999999999999":                            0, // does not parse as int64 nor date
	}
	for in, want := range tests {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParseTokenError(f *testing.F) {
	for _, seed := range []string{
		bodyInvalidClient, bodyUnauthorized, bodyNoTenant, bodyInvalidScope,
		``, `{}`, `null`, `[]`, `{"error":null}`, `{"error":"x","error_codes":[1e99]}`,
		`{"error":"x","error_codes":[-1,"a"]}`, `{"error_description":"AADSTS1"}`,
		`<html>` + testSecret + `</html>`, "\xff\xfe\x00\x01", `{"error":"` + strings.Repeat("é", 300) + `"}`,
	} {
		f.Add(400, seed)
	}
	f.Add(503, "busy")
	f.Fuzz(func(t *testing.T, status int, body string) {
		e := parseTokenError(status, http.Header{"Retry-After": {"5"}}, []byte(body), testSecret)
		msg := e.Error()
		if !strings.HasPrefix(msg, "token endpoint: ") {
			t.Errorf("Error() = %q, want the prefix", msg)
		}
		if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\r\n\x00") {
			t.Errorf("Error() = %q, want one line of valid UTF-8", msg)
		}
		if n := utf8.RuneCountInString(msg); n > 40+maxCodeRunes+maxDescriptionRunes+20 {
			t.Errorf("Error() has %d runes, want it bounded", n)
		}
		if strings.Contains(msg, testSecret) || strings.Contains(fmt.Sprintf("%+v", e), testSecret) {
			t.Errorf("secret in %q", msg)
		}
		if e.Permanent != permanent(status, e.Code) {
			t.Errorf("Permanent = %v for status %d code %q", e.Permanent, status, e.Code)
		}
	})
}
