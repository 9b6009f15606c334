package secrets

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A URL's sig value is masked by its shape, held or not, in every spelling a message or a log
// line gives it; the parameter's name and what follows the value stay.
func TestMessageHidesSigValues(t *testing.T) {
	r := NewRegistry()
	for in, want := range map[string]string{
		`Post "https://prod-1.logic.azure.com/workflows/w/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sv=1.0&sig=Ab-_9xYz0123": refused`: `Post "https://prod-1.logic.azure.com/workflows/w/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sv=1.0&sig=***": refused`,
		"https://h/p?SIG=Ab-_9xYz0123&sv=1.0":               "https://h/p?SIG=***&sv=1.0",
		"next=https%3A%2F%2Fh%2Fp%3Fsig%3DAb-_9xYz0123 end": "next=https%3A%2F%2Fh%2Fp%3Fsig%3D*** end",
		"a design signature= stays":                         "a design signature= stays",
	} {
		if got := r.Message(in); got != want {
			t.Errorf("Message(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

// sigAlphabet is what a signature is made of: base64url, and base64's +/= and percent escapes
// when a hand-made URL carries them.
const sigAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=%.~"

// FuzzSigIsMasked: whatever the signature, and whichever of the spellings the worker produces it
// takes (a URL in a message, Go-quoted, URL-escaped inside another URL, in a JSON log line),
// the scrubbed text holds it no more often than the text around it does, and a log line stays
// valid JSON. Oracle: counting the value's occurrences in the text without it.
func FuzzSigIsMasked(f *testing.F) {
	f.Add([]byte("gi0tDp9ToR3ujWViT3D7a_aMiIRiblvpw0IqQ57rvfE"), uint8(0), false)
	f.Add([]byte("api-version"), uint8(3), true)
	f.Add([]byte("a%2Bb%2Fc%3D%3D"), uint8(2), false)
	f.Add([]byte("sv=1.0&sig=xx"), uint8(4), true)
	f.Fuzz(func(t *testing.T, raw []byte, where uint8, upper bool) {
		if len(raw) < 8 || len(raw) > 200 {
			return
		}
		b := make([]byte, len(raw))
		for i, c := range raw {
			b[i] = sigAlphabet[int(c)%len(sigAlphabet)]
		}
		sig := string(b)
		name := "sig"
		if upper {
			name = "SIG"
		}
		u := func(v string) string {
			return "https://prod-1.westeurope.logic.azure.com/workflows/w/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&" + name + "=" + v
		}
		spell := []func(string) string{
			func(v string) string { return fmt.Sprintf("Post %q: connection reset", u(v)) },
			func(v string) string { return "at " + u(v) + "&x=1 then" },
			func(v string) string { return "Location: " + u(v) },
			func(v string) string { return "https://other/cb?next=" + url.QueryEscape(u(v)) },
			func(v string) string { return strconv.Quote(u(v)) },
		}[int(where)%5]
		text, without := spell(sig), spell("")
		r := NewRegistry()
		if got := r.Message(text); strings.Count(got, sig) > strings.Count(without, sig) {
			t.Fatalf("Message(%q) = %q keeps the signature", text, got)
		}
		var line strings.Builder
		log := zerolog.New(&line)
		log.Info().Str("url", text).Msg("http request " + text)
		got := r.JSON([]byte(line.String()))
		if !json.Valid(got) {
			t.Fatalf("JSON(%s) = %s is not JSON", line.String(), got)
		}
		var l strings.Builder
		plain := zerolog.New(&l)
		plain.Info().Str("url", without).Msg("http request " + without)
		if strings.Count(string(got), sig) > strings.Count(l.String(), sig) {
			t.Fatalf("JSON(%s) = %s keeps the signature", line.String(), got)
		}
	})
}
