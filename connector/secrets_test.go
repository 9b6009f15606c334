package connector

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
	env := map[string]string{"SECRET_A": `va"l`, "SECRET_B": "b-value", "OTHER": "nope"}
	s := &Secrets{Prefix: "SECRET_", Dir: dir, Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	in := map[string]any{
		"x": "Bearer {{secrets.A}}",
		"y": []any{"{{ secrets.B }}", 3, map[string]any{"z": "{{secrets.FILE_ONE}}-{{secrets.B}}"}},
	}
	out, used, err := s.Resolve(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	if m["x"] != `Bearer va"l` || m["y"].([]any)[0] != "b-value" || m["y"].([]any)[2].(map[string]any)["z"] != "from-file-b-value" {
		t.Fatalf("resolved = %#v", m)
	}
	if len(used) != 4 {
		t.Fatalf("used = %v", used)
	}
	for _, name := range []string{"OTHER", "../etc/passwd", "MISSING"} {
		_, _, err := s.Resolve(map[string]any{"v": "{{secrets." + name + "}}"})
		var me *MissingSecretError
		if !errors.As(err, &me) {
			t.Errorf("%s: err = %v, want MissingSecretError", name, err)
		}
	}
}

func TestScrub(t *testing.T) {
	cases := map[string]string{
		"token abc123 and abc123":                     "token *** and ***",
		"header Authorization: Bearer emu.4f9a-_~+/=": "header Authorization: Bearer ***",
		"bearer x.y.z trailing":                       "bearer *** trailing",
		"jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl end":  "jwt *** end",
		"nothing to hide":                             "nothing to hide",
	}
	for in, want := range cases {
		if got := Scrub(in, "abc123", ""); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSecretsResolve(f *testing.F) {
	for _, s := range []string{"{{secrets.A}}", "{{ secrets.A }}{{secrets.B}}", "{{secrets.}}", "{{secrets.A", "{{{{secrets.A}}}}", "x"} {
		f.Add(s)
	}
	s := &Secrets{Prefix: "S_", Lookup: func(k string) (string, bool) {
		if k == "S_A" {
			return "SECRETVALUE", true
		}
		return "", false
	}}
	f.Fuzz(func(t *testing.T, in string) {
		out, used, err := s.Resolve(in)
		if err != nil {
			var me *MissingSecretError
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
