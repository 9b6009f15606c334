package egress

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// redirectTransport follows no redirect: a 3xx answer becomes a *RedirectError. Dataverse
// never redirects an API call, and a followed redirect would carry the bearer token and a
// re-posted body (a trigger) to whatever host the Location names.
type redirectTransport struct{ next http.RoundTripper }

func (t *redirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err != nil || res.StatusCode < 300 || res.StatusCode > 399 {
		return res, err
	}
	e := &RedirectError{Status: res.StatusCode, Host: locationHost(req.URL, res.Header.Get("Location"))}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return nil, e
}

// RedirectError is a 3xx answer, which the worker never follows; it is permanent.
type RedirectError struct {
	Status int
	Host   string // the Location's host ("" when there was none); never its path or query
}

func (e *RedirectError) Error() string {
	to := "without a Location"
	if e.Host != "" {
		to = "to host " + e.Host
	}
	return fmt.Sprintf("HTTP %d %s: redirect %s not followed (the worker follows no redirects, so credentials never leave the host they were meant for; use the final URL)",
		e.Status, http.StatusText(e.Status), to)
}

// Permanent marks the error as one no retry can fix.
func (e *RedirectError) Permanent() bool { return true }

// locationHost is the host a Location header names, resolved against the request's URL, cut
// to a printable host name: the rest of the URL may hold a token.
func locationHost(base *url.URL, location string) string {
	if location == "" {
		return ""
	}
	u, err := base.Parse(location)
	if err != nil || u.Host == "" {
		return "(unparsable Location)"
	}
	h := u.Host
	if len(h) > 100 {
		h = strings.ToValidUTF8(h[:100], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, h)
}
