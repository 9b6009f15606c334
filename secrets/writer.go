package secrets

import (
	"encoding/json"
	"io"
	"unsafe"
)

// withheld replaces a log line that held a secret in a place where replacing it would leave
// the line invalid JSON (a value spread over the line's structure): the line is not written.
const withheld = `{"level":"error","message":"a log line was withheld: it held a secret that could not be cut out of it"}` + "\n"

// Writer returns w behind a filter that scrubs every line written to it: the process's
// logger writes to it, so no log line carries a held value in any form, nor a Bearer token
// or JWT. Lines are zerolog's JSON; a replacement never splits an escape sequence, and a
// value found in a number replaces the number with the string "***", so lines stay valid
// JSON. Put it under any console formatting, so that it sees JSON.
func (r *Registry) Writer(w io.Writer) io.Writer { return &writer{r: r, w: w} }

type writer struct {
	r *Registry
	w io.Writer
}

func (lw *writer) Write(p []byte) (int, error) {
	if _, err := lw.w.Write(lw.r.JSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// JSON scrubs a JSON text (a log line, an answer's body) and keeps it valid JSON; other text
// is scrubbed as a message. It returns p itself when there is nothing to hide, and never
// keeps p.
func (r *Registry) JSON(p []byte) []byte {
	if len(p) == 0 {
		return p
	}
	s := unsafe.String(&p[0], len(p)) // read only, and not kept: the writer owns p until Write returns
	var spans []span
	if r != nil {
		spans = r.json.Load().find(s)
	}
	shapes := mayHoldShape(s)
	if spans == nil && !shapes {
		return p
	}
	if !json.Valid(p) {
		return []byte(r.Message(string(p))) // not JSON: scrub it as text
	}
	s = string(p) // a copy: the results below may share it
	out := scrubShapes(replaceJSON(s, widen(s, spans)))
	if !json.Valid([]byte(out)) {
		return []byte(withheld)
	}
	return []byte(out)
}

// Byte classes of a JSON text, for widen.
const (
	jStruct = iota // structure, white space, a string's quotes
	jString        // inside a string (a backslash starting an escape included)
	jEscape        // the rest of an escape sequence
	jBare          // a number, true, false or null
)

// quotedSpan is a span and whether it replaces a bare token (then with a JSON string).
type quotedSpan struct {
	span
	bare bool
}

// widen grows each span of a JSON text to whole escape sequences, and to the whole token when
// it falls in a number or literal, then merges spans that came to overlap.
func widen(s string, spans []span) []quotedSpan {
	if len(spans) == 0 {
		return nil
	}
	cls := make([]byte, len(s))
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\\':
			cls[i] = jString
			n := 1
			if i+1 < len(s) && s[i+1] == 'u' {
				n = 5
			}
			for j := 1; j <= n && i+j < len(s); j++ {
				cls[i+j] = jEscape
			}
			i += n
		case in && c == '"':
			in = false
			cls[i] = jStruct
		case in:
			cls[i] = jString
		case c == '"':
			in = true
			cls[i] = jStruct
		case c == '-' || c == '+' || c == '.' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
			cls[i] = jBare
		default:
			cls[i] = jStruct
		}
	}
	var out []quotedSpan
	for _, sp := range spans {
		q := quotedSpan{span: sp}
		for q.start > 0 && cls[q.start] == jEscape {
			q.start--
		}
		for q.end < len(s) && cls[q.end] == jEscape {
			q.end++
		}
		for i := q.start; i < q.end; i++ {
			if cls[i] != jString && cls[i] != jEscape {
				q.bare = true
				break
			}
		}
		if q.bare {
			for q.start > 0 && cls[q.start-1] == jBare {
				q.start--
			}
			for q.end < len(s) && cls[q.end] == jBare {
				q.end++
			}
		}
		if n := len(out); n > 0 && q.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, q.end)
			out[n-1].bare = out[n-1].bare || q.bare
			continue
		}
		out = append(out, q)
	}
	return out
}

func replaceJSON(s string, spans []quotedSpan) string {
	if len(spans) == 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	last := 0
	for _, sp := range spans {
		b = append(b, s[last:sp.start]...)
		if sp.bare {
			b = append(b, '"')
			b = append(b, Redacted...)
			b = append(b, '"')
		} else {
			b = append(b, Redacted...)
		}
		last = sp.end
	}
	b = append(b, s[last:]...)
	return string(b)
}
