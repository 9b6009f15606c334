package connector

import (
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/pa-connector/pa-connector/connector/secrets"
)

// scrubDecision removes every held secret from what a FailJob or ThrowError command carries
// besides its message (Worker.message scrubs that): the error code and the variables.
func scrubDecision(live *secrets.Registry, d Decision) Decision {
	d.Code = live.Text(d.Code)
	d.Variables = live.Map(d.Variables)
	return d
}

// derived returns what the worker builds out of a job's secrets (held) that a server may echo
// instead of the secrets themselves: the Basic header of client credentials (with and without
// the form-escaping of RFC 6749), and the parts of a URL a secret was written into (a secret
// holding "/", "?" or "#" is split by the URL's syntax, and a server may quote one part).
func derived(b *bound, held []string) []string {
	var out []string
	var urls []string
	if b.call.URL != "" {
		urls = append(urls, b.call.URL)
	}
	if c := b.creds; c != nil {
		if c.ClientSecret != "" {
			out = append(out,
				base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ClientID)+":"+url.QueryEscape(c.ClientSecret))),
				base64.StdEncoding.EncodeToString([]byte(c.ClientID+":"+c.ClientSecret)))
		}
		if c.TokenURL != "" {
			urls = append(urls, c.TokenURL)
		}
	}
	for _, raw := range urls {
		if !holdsAny(raw, held) {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		out = append(out, u.EscapedPath(), u.Path, u.RawQuery, u.Fragment)
		out = append(out, strings.Split(u.Path, "/")...)
		for k, vs := range u.Query() {
			out = append(out, k)
			out = append(out, vs...)
		}
	}
	return out
}

// holdsAny reports whether s holds one of values as it is or URL-escaped.
func holdsAny(s string, values []string) bool {
	for _, v := range values {
		if v != "" && (strings.Contains(s, v) || strings.Contains(s, url.QueryEscape(v)) || strings.Contains(s, url.PathEscape(v))) {
			return true
		}
	}
	return false
}
