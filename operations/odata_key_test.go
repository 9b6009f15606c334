package operations

import (
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestKeySegment(t *testing.T) {
	const id = "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	cases := []struct {
		name  string
		rowID any
		want  string
		field string // error expected on this field
	}{
		{"guid", id, id, ""},
		{"braced guid", "{" + id + "}", "", "rowId"},
		{"not a guid", "abc", "", "rowId"},
		{"null", nil, "", "rowId"},
		{"number", 5.0, "", "rowId"},
		{"empty key", map[string]any{}, "", "rowId"},
		{"string", map[string]any{"emailaddress1": "a@b.c"}, "emailaddress1='a@b.c'", ""},
		{"quote doubled", map[string]any{"name": "O'Neil"}, "name='O''Neil'", ""},
		{"space, quote and non-ASCII encoded", map[string]any{"name": "e f\"é"}, "name='e%20f%22%C3%A9'", ""},
		{"sub-delims kept", map[string]any{"name": "x,y=(z);$!"}, "name='x,y=(z);$!'", ""},
		{"slash refused (documented: breaks GET and PATCH)", map[string]any{"name": "a/b"}, "", "rowId.name"},
		{"question mark refused", map[string]any{"name": "a?b"}, "", "rowId.name"},
		{"hash refused", map[string]any{"name": "a#b"}, "", "rowId.name"},
		{"percent refused", map[string]any{"name": "a%41"}, "", "rowId.name"},
		{"ampersand, plus, colon, star, angles, backslash refused", map[string]any{"name": "&"}, "", "rowId.name"},
		{"integer", map[string]any{"n": int64(-12)}, "n=-12", ""},
		{"integral float", map[string]any{"n": 42.0}, "n=42", ""},
		{"decimal", map[string]any{"n": 1.5}, "n=1.5", ""},
		{"boolean", map[string]any{"b": true}, "b=true", ""},
		{"names sorted", map[string]any{"lastname": "L", "firstname": "F"}, "firstname='F',lastname='L'", ""},
		{"lookup key is a GUID literal", map[string]any{"_parentcustomerid_value": id}, "_parentcustomerid_value=" + id, ""},
		{"primary key is a GUID literal", map[string]any{"accountid": id}, "accountid=" + id, ""},
		{"lookup key must be a GUID", map[string]any{"_x_value": "abc"}, "", "rowId._x_value"},
		{"null value", map[string]any{"name": nil}, "", "rowId.name"},
		{"nested value", map[string]any{"name": map[string]any{}}, "", "rowId.name"},
		{"NaN", map[string]any{"n": math.NaN()}, "", "rowId.n"},
		{"bad column name", map[string]any{"na me": "x"}, "", "rowId"},
		{"column name with a quote", map[string]any{"a'": "x"}, "", "rowId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := KeySegment("rowId", c.rowID, "accountid")
			var ie *InputError
			switch {
			case c.field != "" && (!errors.As(err, &ie) || ie.Field != c.field):
				t.Errorf("KeySegment(%v) = %q, %v; want an error on %s", c.rowID, got, err, c.field)
			case c.field == "" && (err != nil || got != c.want):
				t.Errorf("KeySegment(%v) = %q, %v; want %q", c.rowID, got, err, c.want)
			}
		})
	}
}

// decodeKey is the oracle: it reads a key segment as a server does (percent-decode, split at
// commas outside quotes, unquote), independently of how KeySegment writes it.
func decodeKey(seg string) (map[string]string, error) {
	raw, err := url.PathUnescape(seg)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var parts []string
	inQuote, start := false, 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\'':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				parts = append(parts, raw[start:i])
				start = i + 1
			}
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quote")
	}
	parts = append(parts, raw[start:])
	for _, p := range parts {
		name, lit, ok := strings.Cut(p, "=")
		if !ok {
			return nil, errors.New("no = in " + p)
		}
		if strings.HasPrefix(lit, "'") {
			if len(lit) < 2 || !strings.HasSuffix(lit, "'") {
				return nil, errors.New("bad string literal " + lit)
			}
			body := lit[1 : len(lit)-1]
			if strings.Count(body, "'")%2 != 0 || strings.Contains(strings.ReplaceAll(body, "''", ""), "'") {
				return nil, errors.New("lone quote in " + lit)
			}
			lit = "s:" + strings.ReplaceAll(body, "''", "'")
		} else {
			lit = "v:" + lit
		}
		if _, dup := out[name]; dup {
			return nil, errors.New("duplicate " + name)
		}
		out[name] = lit
	}
	return out, nil
}

// FuzzKeySegment: whatever the values, the segment stays one path segment (nothing a URL
// parser reads as /, ?, # or a bad escape) and reads back as the same names and values.
func FuzzKeySegment(f *testing.F) {
	f.Add("emailaddress1", "a@b.c", "n", 1.5, true, byte(0))
	f.Add("name", "O'Neil, ''x'' (y)=z", "count", -3.0, false, byte(1))
	f.Add("new_code", "%41%2F/?#é\x00", "ok", 1e21, true, byte(2))
	f.Fuzz(func(t *testing.T, name1, s, name2 string, n float64, b bool, which byte) {
		key := map[string]any{name1: s}
		switch which % 3 {
		case 0:
			key[name2] = n
		case 1:
			key[name2] = b
		case 2:
			key[name2] = int64(n)
		}
		seg, err := KeySegment("rowId", key, "accountid")
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.HasPrefix(ie.Field, "rowId") {
				t.Fatalf("error %v is not an input error on rowId", err)
			}
			valid := columnName.MatchString(name1) && columnName.MatchString(name2) && name1 != "accountid" && name2 != "accountid" &&
				!(strings.HasPrefix(name1, "_") && strings.HasSuffix(name1, "_value")) && !(strings.HasPrefix(name2, "_") && strings.HasSuffix(name2, "_value")) &&
				!(which%3 == 0 && (math.IsNaN(n) || math.IsInf(n, 0))) && (name1 == name2 || !strings.ContainsAny(s, "/#<>*%&:\\?+"))
			if valid {
				t.Fatalf("KeySegment(%v) refused a valid key: %v", key, err)
			}
			return
		}
		u, err := url.Parse("https://o.crm.dynamics.com/api/data/v9.2/accounts(" + seg + ")")
		if err != nil || u.RawQuery != "" || u.Fragment != "" || strings.Count(u.EscapedPath(), "/") != 4 {
			t.Fatalf("segment %q does not stay in the path: %v", seg, err)
		}
		for i := 0; i < len(seg); i++ {
			if seg[i] <= ' ' || seg[i] >= 0x7f {
				t.Fatalf("segment %q holds byte %#x unencoded", seg, seg[i])
			}
		}
		got, err := decodeKey(seg)
		if err != nil {
			t.Fatalf("segment %q does not decode: %v", seg, err)
		}
		if len(got) != len(key) {
			t.Fatalf("segment %q decodes to %v, want %d pairs", seg, got, len(key))
		}
		for k, v := range key {
			lit, ok := got[k]
			if !ok {
				t.Fatalf("segment %q lost %s", seg, k)
			}
			switch v := v.(type) {
			case string:
				if lit != "s:"+v {
					t.Fatalf("%s = %q, want the string %q", k, lit, v)
				}
			case bool:
				if lit != "v:"+strconv.FormatBool(v) {
					t.Fatalf("%s = %q, want %v", k, lit, v)
				}
			case int64:
				if lit != "v:"+strconv.FormatInt(v, 10) {
					t.Fatalf("%s = %q, want %d", k, lit, v)
				}
			case float64:
				x, err := strconv.ParseFloat(strings.TrimPrefix(lit, "v:"), 64)
				if err != nil || x != v || strings.ContainsAny(lit, "eE") {
					t.Fatalf("%s = %q, want %v as a plain decimal", k, lit, v)
				}
			}
		}
	})
}
