package callback

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	testCallbackKey = "callback-key-for-tests-0123456789abcdef"
	testOrg         = "https://contoso.crm.dynamics.com"
	workflowID      = "6f0d8a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	clientID        = "11111111-2222-3333-4444-555555555555"
	clientSecret    = "client-secret-Xy9~never-log-me"
)

func testKeys(t testing.TB, key string) *callbackKeys {
	t.Helper()
	k, err := newCallbackKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signTest(t testing.TB, k *callbackKeys, exp time.Time, auth any) string {
	t.Helper()
	tok, err := k.sign(Claims{Org: testOrg, Workflow: workflowID, Mode: ModeMessage, Expires: exp.Unix()}, auth)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestCallbackTokenRoundTrip(t *testing.T) {
	t.Parallel()
	k := testKeys(t, testCallbackKey)
	auth := map[string]any{"type": "oauth-client-credentials-flow", "clientId": clientID, "clientSecret": clientSecret,
		"oauthTokenEndpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/token"}
	tok := signTest(t, k, time.Now().Add(time.Hour), auth)
	c, err := k.parse(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Org != testOrg || c.Workflow != workflowID || c.Mode != ModeMessage || c.Version != 1 || c.Nonce == "" {
		t.Fatalf("claims = %+v", c)
	}
	got, err := k.auth(c)
	if err != nil || got["clientSecret"] != clientSecret || got["clientId"] != clientID {
		t.Fatalf("sealed authentication = %v, %v", got, err)
	}
	// The credentials travel sealed: neither the token nor its decoded payload shows them.
	payload, _ := b64.DecodeString(strings.Split(tok, ".")[0])
	for _, s := range []string{clientSecret, clientID, "oauth-client-credentials-flow"} {
		if strings.Contains(tok, s) || strings.Contains(string(payload), s) {
			t.Fatalf("the token shows %q in clear", s)
		}
	}
	if tok == signTest(t, k, time.Now().Add(time.Hour), auth) {
		t.Fatal("two tokens for the same run are alike: the nonce is missing")
	}
	if len(tok) > 1024 {
		t.Fatalf("token is %d bytes; keep callback URLs short", len(tok))
	}
}

// Every single-character change of a valid token is refused: base64url is decoded strictly, so
// there is no second spelling of the same bytes, and the MAC covers every payload byte.
func TestCallbackTokenTamperingAnyCharacterIsRejected(t *testing.T) {
	t.Parallel()
	k := testKeys(t, testCallbackKey)
	tok := signTest(t, k, time.Now().Add(time.Hour), map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"})
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for i := 0; i < len(tok); i++ {
		for _, r := range []byte{alphabet[(strings.IndexByte(alphabet, tok[i])+1)%len(alphabet)], alphabet[(strings.IndexByte(alphabet, tok[i])+33)%len(alphabet)]} {
			forged := tok[:i] + string(r) + tok[i+1:]
			if _, err := k.parse(forged, time.Now()); !errors.Is(err, errBadToken) {
				t.Fatalf("changing byte %d to %q: err = %v, want the token refused", i, r, err)
			}
		}
	}
	for _, forged := range []string{"", ".", tok + ".", tok + "A", tok[:len(tok)-1], "." + tok, strings.Replace(tok, ".", "..", 1), strings.Repeat("A", maxCallbackToken+1)} {
		if _, err := k.parse(forged, time.Now()); !errors.Is(err, errBadToken) {
			t.Fatalf("%.40q: err = %v, want refused", forged, err)
		}
	}
}

func TestCallbackTokenOtherKeyExpiredAndBadClaims(t *testing.T) {
	t.Parallel()
	k := testKeys(t, testCallbackKey)
	other := testKeys(t, testCallbackKey+"-other")
	tok := signTest(t, k, time.Now().Add(time.Hour), map[string]any{})
	if _, err := other.parse(tok, time.Now()); !errors.Is(err, errBadToken) {
		t.Fatalf("a token of another key: %v", err)
	}
	expired := signTest(t, k, time.Now().Add(-time.Second), map[string]any{})
	if _, err := k.parse(expired, time.Now()); !errors.Is(err, errExpiredToken) {
		t.Fatalf("an expired token: %v", err)
	}
	for name, c := range map[string]Claims{
		"workflow not a GUID": {Org: testOrg, Workflow: "x", Mode: ModeMessage},
		"unknown mode":        {Org: testOrg, Workflow: workflowID, Mode: "push"},
		"org not a URL":       {Org: "contoso", Workflow: workflowID, Mode: ModeWait},
	} {
		c.Expires = time.Now().Add(time.Hour).Unix()
		tok, err := k.sign(c, map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.parse(tok, time.Now()); !errors.Is(err, errBadToken) {
			t.Errorf("%s: err = %v, want refused even when signed", name, err)
		}
	}
	if _, err := newCallbackKeys("short"); err == nil {
		t.Fatal("a key under 32 bytes was accepted")
	}
}

// FuzzParseCallbackToken: the parser never panics, and what it accepts is exactly a token the
// key signed: the canonical encoding of its payload and that payload's MAC, never a variation.
func FuzzParseCallbackToken(f *testing.F) {
	k := testKeys(f, testCallbackKey)
	valid := signTest(f, k, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), map[string]any{"type": "bearer", "token": "{{secrets.TOKEN}}"})
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add("eyJ2IjoxfQ.AAAA")
	f.Add("")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := k.parse(s, time.Now())
		if err != nil {
			return
		}
		payload, _ := b64.DecodeString(strings.Split(s, ".")[0])
		if canonical := b64.EncodeToString(payload) + "." + b64.EncodeToString(k.mac256(payload)); s != canonical {
			t.Fatalf("accepted %q, which differs from the signed token %q", s, canonical)
		}
		if _, err := k.auth(c); err != nil {
			t.Fatalf("signed token whose sealed authentication does not open: %v", err)
		}
	})
}
