// Package secretstest makes random secrets and finds them where they must not be: the
// generator and the oracle of the tests that plant secrets in jobs (connector's property test,
// and the integration test through the binary). The oracle is written apart from the
// scrubber's own list of spellings, so that it can catch what the scrubber misses.
package secretstest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Secret returns n random characters, any that may stand in a JSON string: letters and
// digits mostly, and punctuation that means something in JSON, Go, URLs and HTML, control
// characters, white space, non-ASCII letters, symbols beyond the BMP and U+2028.
func Secret(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		switch p := r.IntN(100); {
		case p < 50:
			const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			b.WriteByte(alnum[r.IntN(len(alnum))])
		case p < 70:
			const punct = "\"\\'<>&%+/?#=:;,.!*()[]{}|^~`@$-_"
			b.WriteByte(punct[r.IntN(len(punct))])
		case p < 78:
			b.WriteRune(rune(r.IntN(0x20))) // control characters, NUL included
		case p < 82:
			b.WriteRune([]rune{' ', '\t', '\n', '\r', 0x7f, 0x2028, 0x2029, 0xa0}[r.IntN(8)])
		case p < 95:
			b.WriteRune(rune(0xa1 + r.IntN(0xd7ff-0xa1))) // the BMP below the surrogates
		default:
			b.WriteRune(rune(0x1f300 + r.IntN(0x700))) // emoji, four bytes in UTF-8
		}
	}
	return b.String()
}

// Token returns a random access token of n characters as token endpoints issue them.
func Token(r *rand.Rand, n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return string(b)
}

// spellings are the ways a secret could show in what left the worker: as it is, lower- and
// upper-cased, Go-quoted, JSON-escaped, URL query- and path-escaped, and each of those
// JSON-escaped again (a command's variables and a log line are JSON).
func spellings(s string) []string {
	var one []string
	for _, c := range []string{s, strings.ToLower(s), strings.ToUpper(s)} {
		q := strconv.Quote(c)
		j, _ := json.Marshal(c)
		one = append(one, c, q[1:len(q)-1], string(j[1:len(j)-1]), url.QueryEscape(c), url.PathEscape(c))
	}
	out := append([]string(nil), one...)
	for _, c := range one {
		j, _ := json.Marshal(c)
		out = append(out, string(j[1:len(j)-1]))
	}
	return out
}

// fragments are the parts of a secret that must not show either: the whole secret, and its
// first and last 8 characters (what a cut before scrubbing, or overlapping secrets scrubbed
// in the wrong order, leave behind).
func fragments(s string) []string {
	out := []string{s}
	if n := utf8.RuneCountInString(s); n > 8 {
		r := []rune(s)
		out = append(out, string(r[:8]), string(r[n-8:]))
	}
	return out
}

// Leaks returns where secret shows in text, in any spelling of any fragment, with the text
// around it.
func Leaks(text, secret string) []string {
	var found []string
	for _, f := range fragments(secret) {
		for _, sp := range spellings(f) {
			if i := strings.Index(text, sp); i >= 0 {
				lo, hi := max(i-60, 0), min(i+len(sp)+60, len(text))
				found = append(found, fmt.Sprintf("%q at %d: …%s…", sp, i, strings.ToValidUTF8(text[lo:hi], "?")))
				break
			}
		}
	}
	return found
}
