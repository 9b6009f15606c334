package connector

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Secrets resolves {{secrets.NAME}} placeholders: first from the environment as Prefix+NAME,
// then from the file NAME in Dir (as Kubernetes mounts a secret). Only names with the prefix
// are readable, so a modeler cannot read ZEEBE_CLIENT_SECRET through a placeholder.
type Secrets struct {
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

func (s *Secrets) readFile(name string) (string, bool) {
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

// MissingSecretError names a secret that is not configured.
type MissingSecretError struct{ Name string }

func (e *MissingSecretError) Error() string {
	return fmt.Sprintf("secret %q is not configured", e.Name)
}

var placeholder = regexp.MustCompile(`\{\{\s*secrets\.([^}\s]*)\s*\}\}`)

// validName keeps a name from walking out of Dir.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`)

func (s *Secrets) get(name string) (string, error) {
	if !validName.MatchString(name) || strings.Contains(name, "..") {
		return "", &MissingSecretError{Name: name}
	}
	lookup := s.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if v, ok := lookup(s.Prefix + name); ok {
		return v, nil
	}
	if s.Dir != "" {
		if v, ok := s.readFile(name); ok {
			return v, nil
		}
	}
	return "", &MissingSecretError{Name: name}
}

// Resolve replaces placeholders in every string of v (maps and slices walked in place) and
// returns the secret values it used, so callers can scrub them from messages.
func (s *Secrets) Resolve(v any) (any, []string, error) {
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
				if val != "" {
					used = append(used, val)
				}
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

// bearerOrJWT matches credentials by their shape, whoever's they are: the value of a Bearer
// Authorization header and JSON Web Tokens.
var bearerOrJWT = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*|eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+`)

// Scrub replaces every secret value in msg with ***, and any Bearer token or JWT, so a server
// that echoes an Authorization header cannot put a token into an incident.
func Scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return bearerOrJWT.ReplaceAllString(msg, "${1}***")
}
