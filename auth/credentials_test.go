package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := Credentials{
		Type: TypeClientCredentials, TokenURL: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
		ClientID: "id", ClientSecret: testSecret, Scopes: []string{"https://org.crm.dynamics.com/.default"},
	}
	with := func(f func(*Credentials)) Credentials { c := valid; f(&c); return c }
	tests := []struct {
		name  string
		creds Credentials
		want  []string // messages, in order; none = valid
	}{
		{"client credentials", valid, nil},
		{"type is case-insensitive and trimmed", with(func(c *Credentials) { c.Type = " OAuth-Client-Credentials-Flow " }), nil},
		{"basicAuthHeader any case", with(func(c *Credentials) { c.ClientAuthentication = "BASICAUTHHEADER" }), nil},
		{"credentialsBody any case", with(func(c *Credentials) { c.ClientAuthentication = "credentialsbody" }), nil},
		{"scopes optional", with(func(c *Credentials) { c.Scopes = nil }), nil},
		{"bearer", Credentials{Type: "Bearer", Token: testToken}, nil},
		{"bearer ignores client fields", Credentials{Type: TypeBearer, Token: testToken, TokenURL: "::"}, nil},
		{"missing type", Credentials{Token: testToken}, []string{"authentication.type is required"}},
		{"unknown type", Credentials{Type: "basic"}, []string{`authentication.type must be "bearer" or "oauth-client-credentials-flow", got "basic"`}},
		{"bearer without token", Credentials{Type: TypeBearer, Token: "  "}, []string{"authentication.token is required"}},
		{"bearer token with newline", Credentials{Type: TypeBearer, Token: testToken + "\r\nX: y"},
			[]string{"authentication.token contains characters not allowed in an HTTP header"}},
		{"everything missing", Credentials{Type: TypeClientCredentials}, []string{
			"authentication.oauthTokenEndpoint is required", "authentication.clientId is required", "authentication.clientSecret is required"}},
		{"relative token URL", with(func(c *Credentials) { c.TokenURL = "/oauth2/token" }), []string{"authentication.oauthTokenEndpoint must be an http or https URL"}},
		{"token URL without host", with(func(c *Credentials) { c.TokenURL = "https:///token" }), []string{"authentication.oauthTokenEndpoint must include a host"}},
		{"token URL unparsable", with(func(c *Credentials) { c.TokenURL = "https://h/%zz" }), []string{"authentication.oauthTokenEndpoint is not a valid URL"}},
		{"token URL with password not echoed", with(func(c *Credentials) { c.TokenURL = "ftp://u:" + testSecret + "@h/" }),
			[]string{"authentication.oauthTokenEndpoint is not a valid URL"}},
		{"unknown client authentication", with(func(c *Credentials) { c.ClientAuthentication = "jwt" }),
			[]string{`authentication.clientAuthentication must be "basicAuthHeader" or "credentialsBody", got "jwt"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.creds.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.HasPrefix(ve.Field, "authentication.") {
				t.Errorf("Validate() = %#v, want a *ValidationError naming the field", err)
			}
			if !IsPermanent(err) {
				t.Error("IsPermanent(validation error) = false")
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestNormalizeScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scopes []string
		want   string
	}{
		{nil, ""},
		{[]string{"b", "a"}, "a b"},
		{[]string{" a  b ", "a"}, "a b"},
		{SplitScopes("https://org/.default  offline_access"), "https://org/.default offline_access"},
	}
	for _, tt := range tests {
		if got := (Credentials{Scopes: tt.scopes}).normalize().scope; got != tt.want {
			t.Errorf("normalize(%q).scope = %q, want %q", tt.scopes, got, tt.want)
		}
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	t.Parallel()
	all := Credentials{
		Type: TypeClientCredentials, Token: testToken,
		TokenURL: "https://user:" + testSecret + "@login.example/t/token", ClientID: testClient,
		ClientSecret: testSecret, Scopes: []string{"s"}, ClientAuthentication: AuthCredentialsBody,
	}
	type wrapper struct{ Auth Credentials }
	for _, c := range []Credentials{all, {Type: TypeBearer, Token: testToken}} {
		var logOut strings.Builder
		log := zerolog.New(&logOut)
		log.Info().Object("auth", c).Interface("any", c).Stringer("string", c).Msg("job")
		js, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		outputs := map[string]string{
			"String": c.String(), "GoString": c.GoString(),
			"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
			"%s": fmt.Sprintf("%s", c), "%q": fmt.Sprintf("%q", c), "%x": fmt.Sprintf("%x", c),
			"pointer %+v": fmt.Sprintf("%+v", &c), "nested %+v": fmt.Sprintf("%+v", wrapper{c}),
			"nested %#v": fmt.Sprintf("%#v", wrapper{c}), "slice %v": fmt.Sprint([]Credentials{c}),
			"json": string(js), "zerolog": logOut.String(),
		}
		for name, out := range outputs {
			assertNoSecret(t, out)
			if !strings.Contains(out, "***") {
				t.Errorf("%s = %s, want secrets shown as ***", name, out)
			}
		}
	}
	// zerolog's Object writes the fields MarshalJSON writes.
	for _, c := range []Credentials{all, {Type: TypeBearer, Token: testToken}, {}} {
		var line struct{ Object, JSON json.RawMessage }
		var out strings.Builder
		log := zerolog.New(&out)
		log.Log().Object("Object", c).Interface("JSON", c).Send()
		if err := json.Unmarshal([]byte(out.String()), &line); err != nil {
			t.Fatalf("zerolog line %s: %v", out.String(), err)
		}
		if string(line.Object) != string(line.JSON) {
			t.Errorf("zerolog Object = %s, want the MarshalJSON fields %s", line.Object, line.JSON)
		}
	}
	if got := fmt.Sprintf("%+v", all); !strings.Contains(got, "ClientID:"+testClient) || !strings.Contains(got, "ClientAuthentication:credentialsBody") {
		t.Errorf("%%+v = %s, want the non-secret fields", got)
	}
}

// assertNoSecret fails if s contains the test secret or token, raw or encoded.
func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testSecret, testToken, "Sup3r", "Quokka", "STATIC-BEARER", "authtest."} {
		if strings.Contains(s, secret) {
			t.Errorf("output leaks %q: %s", secret, s)
		}
	}
}
