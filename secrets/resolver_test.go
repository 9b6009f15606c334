package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretsResolve(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "FILE_ONE"), []byte("from-file\n"), 0o600)
	env := map[string]string{"SECRET_A": `va"l-value`, "SECRET_B": "b-value-0", "OTHER": "nope-nope"}
	s := &Resolver{Prefix: "SECRET_", Dir: dir, Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	in := map[string]any{
		"x": "Bearer {{secrets.A}}",
		"y": []any{"{{ secrets.B }}", 3, map[string]any{"z": "{{secrets.FILE_ONE}}-{{secrets.B}}"}},
	}
	out, used, err := s.Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	if m["x"] != `Bearer va"l-value` || m["y"].([]any)[0] != "b-value-0" || m["y"].([]any)[2].(map[string]any)["z"] != "from-file-b-value-0" {
		t.Fatalf("resolved = %#v", m)
	}
	if len(used) != 4 {
		t.Fatalf("used = %v", used)
	}
	for _, name := range []string{"OTHER", "../etc/passwd", "MISSING"} {
		_, _, err := s.Resolve(map[string]any{"v": "{{secrets." + name + "}}"})
		var me *MissingError
		if !errors.As(err, &me) {
			t.Errorf("%s: err = %v, want MissingError", name, err)
		}
	}
}

// A placeholder whose value is shorter than MinLength characters is refused with an error
// that names the placeholder and never holds the value; MinLength characters are enough.
func TestShortSecretsAreRefused(t *testing.T) {
	env := map[string]string{"S_EMPTY": "", "S_ONE": "q", "S_SEVEN": "7chars!", "S_SEVEN_RUNES": "ééééééé", "S_EIGHT": "8 chars!"}
	s := &Resolver{Prefix: "S_", Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	for _, name := range []string{"EMPTY", "ONE", "SEVEN", "SEVEN_RUNES"} {
		_, _, err := s.Resolve(map[string]any{"v": "x {{secrets." + name + "}} y"})
		var se *ShortError
		if !errors.As(err, &se) || se.Name != name {
			t.Fatalf("%s: err = %v, want a ShortError naming it", name, err)
		}
		if v := env["S_"+name]; v != "" && strings.Contains(err.Error(), v) {
			t.Fatalf("%s: the error %q holds the value", name, err)
		}
	}
	out, used, err := s.Resolve("{{secrets.EIGHT}}")
	if err != nil || out != "8 chars!" || len(used) != 1 {
		t.Fatalf("EIGHT: %v %v %v, want resolved", out, used, err)
	}
}

func FuzzSecretsResolve(f *testing.F) {
	for _, s := range []string{"{{secrets.A}}", "{{ secrets.A }}{{secrets.B}}", "{{secrets.}}", "{{secrets.A", "{{{{secrets.A}}}}", "x"} {
		f.Add(s)
	}
	s := &Resolver{Prefix: "S_", Lookup: func(k string) (string, bool) {
		if k == "S_A" {
			return "SECRETVALUE", true
		}
		return "", false
	}}
	f.Fuzz(func(t *testing.T, in string) {
		out, used, err := s.Resolve(in)
		if err != nil {
			var me *MissingError
			if !errors.As(err, &me) {
				t.Fatalf("unexpected error type %T", err)
			}
			if strings.Contains(err.Error(), "SECRETVALUE") {
				t.Fatal("error leaks a secret value")
			}
			return
		}
		if strings.Contains(in, "{{secrets.A}}") && !strings.Contains(out.(string), "SECRETVALUE") {
			t.Fatalf("placeholder not replaced: %q", out)
		}
		if strings.Contains(out.(string), "SECRETVALUE") && len(used) == 0 && !strings.Contains(in, "SECRETVALUE") {
			t.Fatal("a secret was used but not reported for scrubbing")
		}
	})
}
