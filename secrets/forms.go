package secrets

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/auth"
)

// forms returns every spelling of v that the worker itself can produce when a value passes
// through it, longest first:
//
//   - the value as given, trimmed (bind trims inputs, the braces of a GUID and the slash ending
//     an organization URL) and with runs of white space and control characters folded into one
//     space (auth's one-line error texts), each also lower- and upper-cased (bind lower-cases
//     GUIDs and modes, upper-cases methods);
//   - each of those JSON-escaped (encoding/json with and without HTML escaping, and zerolog's
//     escaping of log fields), Go-quoted (the body of strconv.Quote: %q in error messages),
//     URL query-escaped (url.Values, url.QueryEscape) and path-escaped (url.PathEscape and
//     url.URL's own path escaping), and JSON-escaped twice (flow inputs given as a context are
//     encoded, then sent as a string inside the request's JSON body);
//   - each of those once more JSON-escaped, zerolog-escaped, Go-quoted or URL-escaped: a JSON
//     body quoted in an error that is then logged, a %q message inside a log line, a JSON body
//     a server quotes in a URL or a header.
//
// Base64 is not a form: the worker encodes a secret that way only inside a larger value (the
// Basic authentication header), which is held as a value of its own.
func forms(v string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= minForm && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var bases []string
	trimmed := strings.TrimSpace(v)
	for _, b := range []string{v, trimmed, strings.Trim(trimmed, "{}"), strings.TrimRight(trimmed, "/"), auth.OneLine(v)} {
		if !slices.Contains(bases, b) {
			bases = append(bases, b, strings.ToLower(b), strings.ToUpper(b))
		}
	}
	var level1 []string
	for _, b := range bases {
		for _, s := range []string{b, jsonBody(b, true), jsonBody(b, false), zerologBody(b), quoteBody(b),
			url.QueryEscape(b), url.PathEscape(b), (&url.URL{Path: b}).EscapedPath(),
			jsonBody(jsonBody(b, true), true)} {
			if !seen[s] {
				level1 = append(level1, s)
			}
			add(s)
		}
	}
	for _, s := range level1 {
		add(jsonBody(s, true))
		add(jsonBody(s, false))
		add(zerologBody(s))
		add(quoteBody(s))
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// jsonBody is s as encoding/json writes it inside a string, without the quotes.
func jsonBody(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// zerologBody is s as zerolog writes a string field of a log line, without the quotes.
func zerologBody(s string) string {
	var b bytes.Buffer
	l := zerolog.New(&b)
	l.Log().Str("v", s).Send()
	out := strings.TrimSuffix(b.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `{"v":"`), `"}`)
}

// quoteBody is s as strconv.Quote (and so %q) writes it, without the quotes.
func quoteBody(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
