package secrets

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Resolver resolves {{secrets.NAME}} placeholders: first from the environment as Prefix+NAME,
// then from the file NAME in Dir (as Kubernetes mounts a secret). Only names with the prefix
// are readable, so a modeler cannot read ZEEBE_CLIENT_SECRET through a placeholder.
type Resolver struct {
	Prefix string
	Dir    string
	Lookup func(string) (string, bool) // default os.LookupEnv

	// Files read from Dir are kept for fileTTL, so a job does not read a file per placeholder;
	// an updated Kubernetes secret is seen within fileTTL.
	mu    sync.Mutex
	files map[string]cachedFile
}

type cachedFile struct {
	value string
	ok    bool
	read  time.Time
}

const fileTTL = 5 * time.Second

func (s *Resolver) readFile(name string) (string, bool) {
	now := time.Now()
	s.mu.Lock()
	c, hit := s.files[name]
	s.mu.Unlock()
	if hit && now.Sub(c.read) < fileTTL {
		return c.value, c.ok
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, name))
	c = cachedFile{value: strings.TrimRight(string(b), "\r\n"), ok: err == nil, read: now}
	s.mu.Lock()
	if s.files == nil || len(s.files) > 10000 {
		s.files = map[string]cachedFile{}
	}
	s.files[name] = c
	s.mu.Unlock()
	return c.value, c.ok
}

// MissingError names a secret that is not configured.
type MissingError struct{ Name string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("secret %q is not configured", e.Name)
}

// ShortError names a secret whose value is shorter than MinLength characters. Its value is
// never sent anywhere: a value that short cannot be kept out of messages without mangling
// unrelated text (scrubbing "ab" would cut every word holding it), so it is refused.
type ShortError struct{ Name string }

func (e *ShortError) Error() string {
	return fmt.Sprintf("secret %q is shorter than %d characters; the worker refuses secrets that short because it could not keep them out of logs and incidents", e.Name, MinLength)
}

var placeholder = regexp.MustCompile(`\{\{\s*secrets\.([^}\s]*)\s*\}\}`)

// validName keeps a name from walking out of Dir.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`)

func (s *Resolver) get(name string) (string, error) {
	if !validName.MatchString(name) || strings.Contains(name, "..") {
		return "", &MissingError{Name: name}
	}
	lookup := s.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(s.Prefix + name)
	if !ok && s.Dir != "" {
		v, ok = s.readFile(name)
	}
	switch {
	case !ok:
		return "", &MissingError{Name: name}
	case utf8.RuneCountInString(v) < MinLength:
		return "", &ShortError{Name: name}
	}
	return v, nil
}

// Resolve replaces placeholders in every string of v (maps and slices walked in place) and
// returns the secret values it used, so callers can hold them in a Set while they are in use.
// A placeholder whose secret is missing or shorter than MinLength is an error naming it.
func (s *Resolver) Resolve(v any) (any, []string, error) {
	var used []string
	var walk func(any) (any, error)
	walk = func(v any) (any, error) {
		switch t := v.(type) {
		case string:
			if !strings.Contains(t, "{{") {
				return t, nil
			}
			var firstErr error
			out := placeholder.ReplaceAllStringFunc(t, func(m string) string {
				name := placeholder.FindStringSubmatch(m)[1]
				val, err := s.get(name)
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					return m
				}
				used = append(used, val)
				return val
			})
			return out, firstErr
		case map[string]any:
			for k, x := range t {
				r, err := walk(x)
				if err != nil {
					return nil, err
				}
				t[k] = r
			}
		case []any:
			for i, x := range t {
				r, err := walk(x)
				if err != nil {
					return nil, err
				}
				t[i] = r
			}
		}
		return v, nil
	}
	out, err := walk(v)
	return out, used, err
}

// Placeholders returns the distinct {{secrets.NAME}} placeholders in the strings of v (maps and
// slices walked), each as "{{secrets.NAME}}", in the order found.
func Placeholders(v any) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			if !strings.Contains(t, "{{") {
				return
			}
			for _, m := range placeholder.FindAllStringSubmatch(t, -1) {
				if p := "{{secrets." + m[1] + "}}"; !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k])
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}
