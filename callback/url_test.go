package callback

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/auth/authtest"
	"github.com/pa-connector/pa-connector/operations"
)

// maxPublicURL is the longest public URL the worker accepts.
var maxPublicURL = "https://" + strings.Repeat("p", MaxPublicURL-len("https://"))

// maxOrg is an organization URL with the longest DNS name (253 characters).
var maxOrg = "https://" + strings.Repeat(strings.Repeat("o", 62)+".", 4)[:249] + ".com"

// Every field of a callback URL at the most it allows: the URL is either at most the 2000
// characters Dataverse stores, or not made (a *TooLongError saying how long it would be). Credentials
// given as references, and client credentials with an Entra ID secret, fit even then; a literal
// JWT bearer token of 1.5–2.5 KB never does.
func TestCallbackURLNeverLongerThanDataverseStores(t *testing.T) {
	t.Parallel()
	refs := make([]any, 32)
	for i := range refs {
		refs[i] = fmt.Sprintf("{{secrets.%s_%02d}}", strings.Repeat("N", 61), i)
	}
	entra := "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
	cc := func(secret string) map[string]any {
		return map[string]any{"type": "oauth-client-credentials-flow", "oauthTokenEndpoint": entra,
			"clientId": clientID, "clientSecret": secret, "clientAuthentication": "credentialsBody",
			"scopes": []any{"https://contoso.crm4.dynamics.com/.default"}}
	}
	auths := []struct {
		name string
		auth map[string]any
		fits bool // at the maximum public URL and organization URL
	}{
		{"bearer placeholder", map[string]any{"type": "bearer", "token": "{{secrets.DV_TOKEN}}"}, true},
		{"bearer placeholder with a 128-character name", map[string]any{"type": "bearer", "token": "{{secrets." + strings.Repeat("N", 128) + "}}"}, true},
		{"client credentials, secret placeholder", cc("{{secrets.DV_CLIENT_SECRET}}"), true},
		{"client credentials, literal Entra ID secret", cc("Qw8Q~" + strings.Repeat("s", 35)), true},
		{"bearer placeholder and 32 long references", map[string]any{"type": "bearer", "token": "{{secrets.DV_TOKEN}}", "paConnectorSecrets": refs}, false},
		{"literal 1.5 KB JWT", map[string]any{"type": "bearer", "token": authtest.JWT(1536)}, false},
		{"literal 2 KB JWT", map[string]any{"type": "bearer", "token": authtest.JWT(2048)}, false},
		{"literal 2.5 KB JWT", map[string]any{"type": "bearer", "token": authtest.JWT(2560)}, false},
		{"literal 64 KB token", map[string]any{"type": "bearer", "token": strings.Repeat("t", 64<<10)}, false},
	}
	publics := []string{"https://pa.example.com", maxPublicURL}
	orgs := []string{testOrg, maxOrg}
	for _, a := range auths {
		for _, pub := range publics {
			cb, err := New(pub, testCallbackKey)
			if err != nil {
				t.Fatal(err)
			}
			for _, org := range orgs {
				for _, ttl := range []time.Duration{0, 100 * 365 * 24 * time.Hour} { // 0: run timeout + margin
					for _, mode := range []string{ModeMessage, ModeWait} {
						cb.TokenTTL = ttl
						now := time.Now()
						u, tok, err := cb.URL(org, workflowID, mode, 24*time.Hour, a.auth, now)
						name := fmt.Sprintf("%s, public URL %d, org %d, ttl %s, %s", a.name, len(pub), len(org), ttl, mode)
						var long *TooLongError
						switch {
						case err == nil:
							if n := utf8.RuneCountInString(u); n > operations.MaxCallbackURL {
								t.Fatalf("%s: a %d-character URL was returned", name, n)
							}
							if u != cb.PublicURL+Path+tok {
								t.Fatalf("%s: the URL is not the public URL + %s + token", name, Path)
							}
							if _, got, err := cb.Open(tok, now); err != nil || fmt.Sprint(got) != fmt.Sprint(a.auth) {
								t.Fatalf("%s: the token does not open to its authentication: %v", name, err)
							}
						case errors.As(err, &long):
							// What it would have been: the same token, made without the check.
							exp := now.Add(cb.TokenTTL)
							if ttl == 0 {
								exp = now.Add(24*time.Hour + TokenMargin)
							}
							full, serr := cb.keys.sign(Claims{Org: org, Workflow: workflowID, Mode: mode, Expires: exp.Unix()}, a.auth)
							if serr != nil || long.Length != len(cb.PublicURL+Path+full) || long.Length <= operations.MaxCallbackURL || u != "" || tok != "" {
								t.Fatalf("%s: TooLongError{%d} for a URL of %d characters (%v)", name, long.Length, len(cb.PublicURL+Path+full), serr)
							}
						default:
							t.Fatalf("%s: %v", name, err)
						}
						if fits := err == nil; a.fits && !fits {
							t.Errorf("%s: does not fit (%v); credentials given as references must", name, err)
						} else if !a.fits && fits && pub == maxPublicURL && org == maxOrg {
							t.Errorf("%s: fits at the maximum lengths; the case is meant to try the limit", name)
						}
					}
				}
			}
		}
	}
}

func TestNewRefusesAPublicURLThatLeavesNoRoom(t *testing.T) {
	if _, err := New(maxPublicURL+"/", testCallbackKey); err != nil {
		t.Fatalf("a public URL of %d characters (and a trailing slash): %v", MaxPublicURL, err)
	}
	if _, err := New(maxPublicURL+"x", testCallbackKey); err == nil || !strings.Contains(err.Error(), "public URL") {
		t.Fatalf("a public URL of %d characters: err = %v, want it refused", MaxPublicURL+1, err)
	}
}
