package operations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Doer sends HTTP requests; *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client sends calls. Its zero value is not usable: HTTP is required.
type Client struct {
	HTTP Doer
	// MaxBody caps a response body read into memory (default 32 MiB, the outputs column's limit).
	MaxBody int64
	// Redact, when set, is applied to an error answer's parsed body before any of its text is
	// cut (HTTPError keeps a text body truncated, and Error truncates the message), so that a
	// secret the server echoes is removed whole, never left behind as a prefix.
	Redact func(any) any
}

// DefaultMaxBody is the largest response body read: the outputs file column holds 32 MB.
const DefaultMaxBody = 32 << 20

// Response is an answer with a status below 400, as expressions see it: the body is parsed
// JSON when it is JSON, else a string (nil when empty).
type Response struct {
	Status int
	Header http.Header
	Body   any
}

// HTTPError is an answer with status >= 400. Code and Message come from an OData error body
// when there is one; Body holds the parsed body (truncated when it is text).
type HTTPError struct {
	Op         Op
	Status     int
	Reason     string
	Code       string
	Message    string
	OData      bool // the body is an OData error ({"error": {...}}): Dataverse's own answer
	Header     http.Header
	Body       any
	RetryAfter time.Duration // from Retry-After, on 429 and 503
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(string(e.Op))
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d %s", e.Status, e.Reason)
	if e.Code != "" || e.Message != "" {
		b.WriteString(": ")
		if e.Code != "" {
			b.WriteString(e.Code)
			b.WriteString(" ")
		}
		b.WriteString(truncate(e.Message, 1000))
	} else if s, ok := e.Body.(string); ok && s != "" {
		b.WriteString(": ")
		b.WriteString(truncate(s, 500))
	}
	return strings.TrimSpace(b.String())
}

// AnswerError is an answer from Dataverse the worker cannot use (a next link off the
// organization, paging that does not end); sending the request again gets the same answer.
type AnswerError struct {
	Op  Op
	Msg string
}

func (e *AnswerError) Error() string { return e.Msg }

// TransportError is a request that got no answer: a refused or reset connection, a timeout.
type TransportError struct {
	Op      Op
	Timeout bool
	Err     error
}

func (e *TransportError) Error() string {
	what := "request failed"
	if e.Timeout {
		what = "request timed out"
	}
	if e.Op != "" {
		return fmt.Sprintf("%s: %s: %v", e.Op, what, e.Err)
	}
	return fmt.Sprintf("%s: %v", what, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Do sends a call and reads its answer. A status >= 400 returns *HTTPError, no answer at all
// *TransportError; other errors (from the transport stack, e.g. a refused token) pass through.
func (c *Client) Do(ctx context.Context, call Call) (*Response, error) {
	var body io.Reader
	if call.Body != nil {
		body = bytes.NewReader(call.Body)
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, call.URL, body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	for k, v := range call.Header {
		req.Header[k] = v
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, classify(call.Op, ctx, err)
	}
	defer res.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, classify(call.Op, ctx, fmt.Errorf("reading response body: %w", err))
	}
	if int64(len(raw)) > limit {
		return nil, &HTTPError{Op: call.Op, Status: res.StatusCode, Reason: "response body over " + strconv.FormatInt(limit, 10) + " bytes", Header: res.Header}
	}
	parsed := ParseBody(res.Header.Get("Content-Type"), raw)
	if res.StatusCode >= 400 {
		if c.Redact != nil {
			parsed = c.Redact(parsed)
		}
		e := &HTTPError{
			Op:     call.Op,
			Status: res.StatusCode,
			Reason: http.StatusText(res.StatusCode),
			Header: res.Header,
			Body:   parsed,
		}
		e.Code, e.Message, e.OData = odataError(parsed)
		if s, ok := parsed.(string); ok {
			e.Body = truncate(s, 4000)
		}
		e.RetryAfter = RetryAfter(res.Header.Get("Retry-After"), time.Now())
		return nil, e
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: parsed}, nil
}

func classify(op Op, ctx context.Context, err error) error {
	var ne interface{ Timeout() bool }
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return err // the caller gave up; not a Dataverse fault
	}
	var te *TransportError
	if errors.As(err, &te) {
		return err
	}
	// Errors from the transport stack that carry their own type (a refused token, a host
	// that is not allowed) pass through so the caller can classify them.
	var typed interface{ Permanent() bool }
	if errors.As(err, &typed) {
		return err
	}
	return &TransportError{Op: op, Timeout: timeout, Err: err}
}

// ParseBody parses a JSON body (by content type, or by shape when the type says nothing), else
// returns it as a string; an empty body is nil.
func ParseBody(contentType string, raw []byte) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	looksJSON := mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "" ||
		mt == "application/octet-stream" || mt == "text/plain"
	if looksJSON {
		if longNumber(raw) {
			// Digits beyond float64's 53 bits: keep them with json.Number.
			var v any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&v); err == nil && !d.More() {
				return normalizeNumbers(v)
			}
		} else {
			var v any
			if err := json.Unmarshal(raw, &v); err == nil {
				return integers(v)
			}
		}
	}
	return string(raw)
}

// longNumber reports whether raw has a run of 16 or more digits, which float64 may not hold.
func longNumber(raw []byte) bool {
	run := 0
	for _, c := range raw {
		if c >= '0' && c <= '9' {
			if run++; run >= 16 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// integers turns integral float64s into int64, so expressions see 4, not 4.0.
func integers(v any) any {
	switch t := v.(type) {
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
	case map[string]any:
		for k, x := range t {
			t[k] = integers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = integers(x)
		}
	}
	return v
}

// normalizeNumbers turns json.Number into int64 when integral, else float64, so expressions
// see 4, not 4.0, and large ids keep their digits.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeNumbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalizeNumbers(x)
		}
	}
	return v
}

func odataError(body any) (code, message string, ok bool) {
	m, ok := body.(map[string]any)
	if !ok {
		return "", "", false
	}
	e, ok := m["error"].(map[string]any)
	if !ok {
		return "", "", false
	}
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	return code, message, true
}

// RetryAfter parses a Retry-After header: delay seconds or an HTTP date. Zero when absent or bad.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > 86400 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		// Bounded like the seconds form: a date years ahead must not park a job for years.
		if d := t.Sub(now); d > 0 && d <= 86400*time.Second {
			return d
		}
	}
	return 0
}

// truncate cuts s to at most n bytes, on a character boundary, marking a cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
