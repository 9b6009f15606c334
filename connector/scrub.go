package connector

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// derived returns what the worker builds out of a job's secrets (held) that a server may echo
// instead of the secrets themselves: the Basic header of client credentials (with and without
// the form-escaping of RFC 6749), the pieces of a secret given as scopes (split at white space),
// and the parts of a URL a secret was written into (a secret holding "/", "?" or "#" is split
// by the URL's syntax, and a server may quote one part), except a cloud flow's URL that is one
// secret as a whole. Parts shorter than MinLength are not held.
func derived(b *bound, held []string) []string {
	var out []string
	var urls []string
	// A cloud flow's URL given whole as one secret (as templates advise) is held as it is, and
	// its signature, the part that is secret, on its own (cloudFlow.sigs): its path segments
	// ("triggers", the flow's id) are not secret, and holding them would cut them out of every
	// log line for a minute.
	if b.call.URL != "" && !(b.flow != nil && slices.ContainsFunc(held, func(h string) bool { return strings.TrimSpace(h) == b.call.URL })) {
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
		// Scopes are split at white space, sorted and joined again: a secret given as scopes
		// is sent as its pieces.
		var pieces []string
		for _, sc := range c.Scopes {
			if partOfAny(sc, held) {
				pieces = append(pieces, sc)
			}
		}
		if len(pieces) > 0 {
			sorted := slices.Clone(c.Scopes)
			slices.Sort(sorted)
			out = append(append(out, pieces...), strings.Join(slices.Compact(sorted), " "))
		}
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if !holdsAny(raw, held) && !holdsAny(asWritten(u, false), held) && !holdsAny(asWritten(u, true), held) {
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

// asWritten is a URL's path, query (as it is, or unescaped) and fragment, as a modeler may
// have written them.
func asWritten(u *url.URL, unescapeQuery bool) string {
	s := u.Path
	if u.RawQuery != "" || u.ForceQuery {
		q := u.RawQuery
		if unescapeQuery {
			q, _ = url.QueryUnescape(q)
		}
		s += "?" + q
	}
	if u.Fragment != "" {
		s += "#" + u.Fragment
	}
	return s
}

// partOfAny reports whether piece is part of one of values.
func partOfAny(piece string, values []string) bool {
	for _, v := range values {
		if piece != "" && strings.Contains(v, piece) {
			return true
		}
	}
	return false
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
