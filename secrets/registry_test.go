package secrets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/auth"
)

// One test per spelling of a secret that the worker itself produces, and that the scrubbing
// of the first turn (strings.ReplaceAll of the raw value, then of the next value) missed.
func TestMessageHidesEveryForm(t *testing.T) {
	const secret = "Sx\"q\\t\n9-Ab/c d?e&f=g+h%"
	r := NewRegistry()
	set := r.NewSet()
	set.Add(secret)
	defer set.Release()
	cases := map[string]string{
		"raw":                   secret,
		"Go-quoted (%q)":        fmt.Sprintf("%q", secret),
		"JSON-escaped":          string(mustJSON(secret)),
		"JSON inside %q":        fmt.Sprintf("%q", mustJSON(secret)),
		"lower-cased":           strings.ToLower(secret),
		"upper-cased":           strings.ToUpper(secret),
		"query-escaped":         url.QueryEscape(secret),
		"path-escaped":          url.PathEscape(secret),
		"a URL's path":          (&url.URL{Scheme: "https", Host: "h", Path: "/a/" + secret}).String(),
		"a URL's query":         "https://h/a?" + url.Values{"k": {secret}}.Encode(),
		"a URL error":           (&url.Error{Op: "Get", URL: "https://h/a?" + url.Values{"k": {secret}}.Encode(), Err: fmt.Errorf("context canceled")}).Error(),
		"trimmed, white folded": " x " + auth.OneLine(secret) + " y",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			msg := "before " + text + " after"
			got := r.Message(msg)
			if !strings.Contains(got, Redacted) || !strings.HasPrefix(got, "before ") || !strings.HasSuffix(got, " after") {
				t.Fatalf("Message(%q) = %q", msg, got)
			}
			for _, f := range []string{"Sx", "9-Ab", "g+h"} {
				if strings.Contains(strings.ToLower(got), strings.ToLower(f)) {
					t.Fatalf("Message(%q) = %q still holds %q", msg, got, f)
				}
			}
		})
	}
}

// Overlapping secrets are hidden as one range whatever order they were added in: hiding the
// shorter first used to leave the rest of the longer one.
func TestOverlappingSecrets(t *testing.T) {
	cases := []struct {
		secrets []string
		msg     string
	}{
		{[]string{"abcdefgh", "abcdefghijklmnop"}, "x abcdefghijklmnop y"},
		{[]string{"abcdefghijklmnop", "abcdefgh"}, "x abcdefghijklmnop y"},
		{[]string{"0123456789", "6789ABCDEF"}, "x 0123456789ABCDEF y"},
		{[]string{"6789ABCDEF", "0123456789"}, "x 0123456789ABCDEF y"},
	}
	for _, c := range cases {
		r := NewRegistry()
		set := r.NewSet()
		set.Add(c.secrets...)
		if got := r.Message(c.msg); got != "x *** y" {
			t.Errorf("secrets %q: Message(%q) = %q, want %q", c.secrets, c.msg, got, "x *** y")
		}
		set.Release()
	}
}

// Values are held while a set holds them and for Linger after; short values never.
func TestRegistryHoldsWhileInUse(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewRegistry()
	r.now = func() time.Time { return now }
	a, b := r.NewSet(), r.NewSet()
	a.Add("shared-secret-1", "short")
	b.Add("shared-secret-1", "only-in-b-value")
	if got := r.Message("shared-secret-1 only-in-b-value short"); got != "*** *** short" {
		t.Fatalf("held: %q", got)
	}
	a.Release()
	b.Release()
	b.Add("added-after-release") // ignored: the job is over
	now = now.Add(Linger / 2)
	if got := r.Message("shared-secret-1"); got != Redacted {
		t.Fatalf("lingering value not scrubbed: %q", got)
	}
	c := r.NewSet()
	c.Add("shared-secret-1") // in use again: held however long it lingered
	now = now.Add(2 * Linger)
	c.Add("fresh-value-123") // a change sweeps the idle values
	if got := r.Message("shared-secret-1 only-in-b-value added-after-release fresh-value-123"); got != "*** only-in-b-value added-after-release ***" {
		t.Fatalf("after release: %q", got)
	}
	r.Pin("pinned-secret")
	c.Release()
	now = now.Add(10 * Linger)
	c2 := r.NewSet()
	c2.Add("another-value")
	if got := r.Message("pinned-secret shared-secret-1"); got != "*** shared-secret-1" {
		t.Fatalf("pinned or released: %q", got)
	}
	var nilReg *Registry
	nilReg.NewSet().Add("x-long-enough")
	if got := nilReg.Message("Authorization: Bearer abc.def"); got != "Authorization: Bearer ***" {
		t.Fatalf("nil registry: %q", got)
	}
}

func TestMessageHidesShapes(t *testing.T) {
	r := NewRegistry()
	cases := map[string]string{
		"header Authorization: Bearer emu.4f9a-_~+/=": "header Authorization: Bearer ***",
		"bearer x.y.z trailing":                       "bearer *** trailing",
		"jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl end":  "jwt *** end",
		"nothing to hide":                             "nothing to hide",
	}
	for in, want := range cases {
		if got := r.Message(in); got != want {
			t.Errorf("Message(%q) = %q, want %q", in, got, want)
		}
	}
}

// Variables are scrubbed in keys, values and the digits of numbers; what holds nothing is
// returned as it is.
func TestValue(t *testing.T) {
	r := NewRegistry()
	set := r.NewSet()
	set.Add("token-Abc-12345", "98765432109")
	v := map[string]any{
		"echo":            "Bearer token-Abc-12345",
		"token-Abc-12345": 1,
		"list":            []any{"x", "TOKEN-ABC-12345", map[string]any{"n": int64(98765432109), "f": float64(98765432109), "j": json.Number("98765432109")}},
		"clean":           map[string]any{"a": "b"},
	}
	got := r.Map(v)
	raw, _ := json.Marshal(got)
	for _, s := range []string{"token-Abc", "TOKEN-ABC", "98765432109"} {
		if strings.Contains(string(raw), s) {
			t.Fatalf("%s holds %q", raw, s)
		}
	}
	if v["echo"] != "Bearer token-Abc-12345" {
		t.Fatal("the input was changed")
	}
	clean := map[string]any{"a": "b"}
	if out := r.Map(clean); fmt.Sprintf("%p", out) != fmt.Sprintf("%p", clean) {
		t.Fatal("a map with nothing to hide was copied")
	}
}

// Log lines: a secret in any field, in any spelling the line can hold, is cut out and the
// line stays valid JSON; a line with nothing to hide is written as it is.
func TestWriterKeepsLinesValid(t *testing.T) {
	secrets := []string{`plain-secret-01`, `q"uo\te\ctrl` + "\x01\t\n" + `<html>&`, "12345678901", `end-with-backslash\`, "ünï-cødé-✓✓✓"}
	r := NewRegistry()
	set := r.NewSet()
	set.Add(secrets...)
	var out bytes.Buffer
	log := zerolog.New(r.Writer(&out))
	for _, s := range secrets {
		log.Info().Str("raw", s).Str("quoted", strconv.Quote(s)).Str("json", string(mustJSON(s))).
			Str("url", "https://h/p/"+url.PathEscape(s)+"?k="+url.QueryEscape(s)).
			Str("prefixed", "x"+s+"y").Msg("message " + s)
	}
	log.Info().Int64("n", 12345678901).Int64("m", 112345678901).Msg("numbers")
	log.Info().Str("k", "nothing").Msg("clean")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(secrets)+2 {
		t.Fatalf("%d lines: %s", len(lines), out.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("invalid JSON line %s: %v", l, err)
		}
		if strings.Contains(l, "withheld") {
			t.Errorf("line withheld: %s", l)
		}
		for _, s := range secrets {
			for _, f := range forms(s) {
				if strings.Contains(l, f) {
					t.Errorf("line %s holds %q", l, f)
				}
			}
		}
	}
	if !strings.Contains(lines[len(lines)-1], `"k":"nothing"`) {
		t.Errorf("clean line changed: %s", lines[len(lines)-1])
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// The cost of scrubbing where strings leave the worker, with the values of 32 jobs held (each
// a client secret or token of its own plus a shared one): a job's outcome log line, its
// incident message, its completion variables, and holding and releasing its values.
func benchRegistry() *Registry {
	r := NewRegistry()
	for i := range 32 {
		r.NewSet().Add(fmt.Sprintf("client-secret-%02d-Xy9~never-log-me", i), "eyJhbGciOi.shared-token-"+strconv.Itoa(i%4))
	}
	return r
}

func BenchmarkWriterLine(b *testing.B) {
	r := benchRegistry()
	w := r.Writer(io.Discard)
	line := []byte(`{"level":"info","job_key":2251799813685249,"process_instance_key":2251799813685248,"bpmn_process_id":"invoice","element_id":"RunFlow","job_type":"power-automate:1","operation":"getStatusOfFlowRun","outcome":"completed","duration_ms":12,"time":"2026-11-27T18:37:10Z","message":"job completed"}` + "\n")
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		w.Write(line)
	}
}

func BenchmarkMessage(b *testing.B) {
	r := benchRegistry()
	msg := "getStatusOfFlowRun: HTTP 404 Not Found: 0x80040217 flowsession With Id = 0d9e6c2a-1f2b-4c3d-8e4f-5a6b7c8d9e0f Does Not Exist"
	for b.Loop() {
		r.Message(msg)
	}
}

func BenchmarkValue(b *testing.B) {
	r := benchRegistry()
	v := map[string]any{"statusCode": int64(4), "statusName": "Succeeded", "flowOutputs": map[string]any{"Greeting": "Hello, Ada", "Count": int64(3), "Items": []any{"a", "b", "c"}}}
	for b.Loop() {
		r.Map(v)
	}
}

func BenchmarkHoldAndRelease(b *testing.B) {
	r := benchRegistry()
	for b.Loop() {
		s := r.NewSet()
		s.Add("shared-secret-of-all-jobs", "eyJhbGciOi.shared-token-1")
		s.Release()
	}
}
